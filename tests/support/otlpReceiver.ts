import http from 'http';
import type { AddressInfo } from 'net';
import { gunzipSync, inflateSync } from 'zlib';

/**
 * A local OTLP/HTTP receiver, as a collector would be: it accepts the JSON encoding the
 * `@opentelemetry/exporter-*-otlp-http` exporters send by default (`Content-Type:
 * application/json`, gzip when asked), on `/v1/traces` and `/v1/metrics`, answers each export
 * with `200 {}` (a full success), and decodes what arrived into plain spans and metrics.
 * Anything it cannot decode (protobuf, another path) is answered with an error and kept, so a
 * test sees it in `failures()` instead of losing it.
 */

/** An OTLP attribute value, decoded: 64-bit integers as numbers, bytes as base64 text. */
export type AttributeValue = string | number | boolean | null | AttributeValue[] | { [key: string]: AttributeValue };

export type DecodedAttributes = Record<string, AttributeValue>;

/** One export request, as it arrived. */
export interface ReceivedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  /** The bytes on the wire. */
  raw: Buffer;
  /** The payload after `Content-Encoding` (the raw bytes when none). */
  body: Buffer;
  /** The parsed JSON, when the request was a JSON export this receiver understood. */
  json?: unknown;
  /** Why it was refused, when it was. */
  error?: string;
  /** Status answered. */
  status: number;
}

/** `Span.SpanKind` of the OTLP protocol (the API's `SpanKind` plus one). */
export const OTLP_SPAN_KIND = ['UNSPECIFIED', 'INTERNAL', 'SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER'] as const;

export type OtlpSpanKindName = (typeof OTLP_SPAN_KIND)[number];

/** `Status.StatusCode` of the OTLP protocol. */
export const OTLP_STATUS_CODE = ['UNSET', 'OK', 'ERROR'] as const;

export interface DecodedSpanEvent {
  name: string;
  timeUnixNano?: string;
  attributes: DecodedAttributes;
}

export interface DecodedSpan {
  /** Instrumentation scope name and version. */
  scope: { name?: string; version?: string };
  resource: DecodedAttributes;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  /** The OTLP enum value (3 is CLIENT). */
  kind: number;
  kindName: OtlpSpanKindName | 'UNKNOWN';
  startTimeUnixNano?: string;
  endTimeUnixNano?: string;
  attributes: DecodedAttributes;
  events: DecodedSpanEvent[];
  status: { code: number; codeName: string; message?: string };
}

export type MetricType = 'histogram' | 'exponentialHistogram' | 'sum' | 'gauge' | 'summary' | 'unknown';

export interface DecodedDataPoint {
  attributes: DecodedAttributes;
  startTimeUnixNano?: string;
  timeUnixNano?: string;
  /** Sum and gauge points. */
  value?: number;
  /** Histogram points. */
  count?: number;
  sum?: number;
  min?: number;
  max?: number;
  bucketCounts?: number[];
  explicitBounds?: number[];
}

export interface DecodedMetric {
  scope: { name?: string; version?: string };
  resource: DecodedAttributes;
  name: string;
  unit?: string;
  description?: string;
  type: MetricType;
  /** 1 delta, 2 cumulative (histograms and sums). */
  aggregationTemporality?: number;
  isMonotonic?: boolean;
  dataPoints: DecodedDataPoint[];
}

export interface OtlpReceiver {
  /** `http://127.0.0.1:<port>`; the exporters' `url` is this plus `/v1/traces` or `/v1/metrics`. */
  readonly url: string;
  readonly tracesUrl: string;
  readonly metricsUrl: string;
  /** Every request, oldest first. */
  requests(): ReceivedRequest[];
  /** Requests the receiver refused. */
  failures(): ReceivedRequest[];
  /** Every span of every accepted trace export, in arrival order. */
  spans(): DecodedSpan[];
  /** Every metric of every accepted metric export, in arrival order (a cumulative metric repeats per export). */
  metrics(): DecodedMetric[];
  /** The last exported state of the metric `name` (for cumulative temporality, everything recorded). */
  metric(name: string): DecodedMetric | undefined;
  /** Every accepted payload (decompressed), concatenated: for "this never appears" checks. */
  payloads(): Buffer;
  clear(): void;
  close(): Promise<void>;
}

const TRACES_PATH = '/v1/traces';
const METRICS_PATH = '/v1/metrics';

type Json = Record<string, unknown>;

function asObject(value: unknown): Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : {};
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function asString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** OTLP JSON may write 64-bit integers as strings, and doubles as strings such as "NaN". */
function asNumber(value: unknown): number | undefined {
  if (typeof value === 'number') {
    return value;
  }
  if (typeof value === 'string' && value.trim() !== '') {
    const parsed = Number(value);
    return Number.isNaN(parsed) && value !== 'NaN' ? undefined : parsed;
  }
  return undefined;
}

/** A timestamp in nanoseconds, kept as text (it does not fit a double). */
function asNanos(value: unknown): string | undefined {
  if (typeof value === 'string') {
    return value;
  }
  return typeof value === 'number' ? String(value) : undefined;
}

export function decodeAnyValue(value: unknown): AttributeValue {
  const any = asObject(value);
  if ('stringValue' in any) {
    return String(any.stringValue);
  }
  if ('boolValue' in any) {
    return any.boolValue === true;
  }
  if ('intValue' in any) {
    return asNumber(any.intValue) ?? null;
  }
  if ('doubleValue' in any) {
    return asNumber(any.doubleValue) ?? null;
  }
  if ('bytesValue' in any) {
    return String(any.bytesValue);
  }
  if ('arrayValue' in any) {
    return asArray(asObject(any.arrayValue).values).map(decodeAnyValue);
  }
  if ('kvlistValue' in any) {
    return decodeAttributes(asObject(any.kvlistValue).values);
  }
  return null;
}

/** A list of OTLP `KeyValue`s as a plain object. */
export function decodeAttributes(list: unknown): DecodedAttributes {
  const attributes: DecodedAttributes = {};
  for (const entry of asArray(list)) {
    const { key, value } = asObject(entry);
    if (typeof key === 'string') {
      attributes[key] = decodeAnyValue(value);
    }
  }
  return attributes;
}

function decodeScope(value: unknown): { name?: string; version?: string } {
  const scope = asObject(value);
  return { name: asString(scope.name), version: asString(scope.version) };
}

/** The spans of one `ExportTraceServiceRequest` in its JSON encoding. */
export function decodeTraceRequest(request: unknown): DecodedSpan[] {
  const spans: DecodedSpan[] = [];
  for (const resourceSpans of asArray(asObject(request).resourceSpans)) {
    const resource = decodeAttributes(asObject(asObject(resourceSpans).resource).attributes);
    for (const scopeSpans of asArray(asObject(resourceSpans).scopeSpans)) {
      const scope = decodeScope(asObject(scopeSpans).scope);
      for (const value of asArray(asObject(scopeSpans).spans)) {
        const span = asObject(value);
        const kind = asNumber(span.kind) ?? 0;
        const status = asObject(span.status);
        const code = asNumber(status.code) ?? 0;
        spans.push({
          scope,
          resource,
          traceId: String(span.traceId ?? ''),
          spanId: String(span.spanId ?? ''),
          parentSpanId: asString(span.parentSpanId) || undefined,
          name: String(span.name ?? ''),
          kind,
          kindName: OTLP_SPAN_KIND[kind] ?? 'UNKNOWN',
          startTimeUnixNano: asNanos(span.startTimeUnixNano),
          endTimeUnixNano: asNanos(span.endTimeUnixNano),
          attributes: decodeAttributes(span.attributes),
          events: asArray(span.events).map((event) => ({
            name: String(asObject(event).name ?? ''),
            timeUnixNano: asNanos(asObject(event).timeUnixNano),
            attributes: decodeAttributes(asObject(event).attributes),
          })),
          status: { code, codeName: OTLP_STATUS_CODE[code] ?? 'UNKNOWN', message: asString(status.message) },
        });
      }
    }
  }
  return spans;
}

function numbers(value: unknown): number[] {
  return asArray(value).map((item) => asNumber(item) ?? Number.NaN);
}

function decodeDataPoint(value: unknown): DecodedDataPoint {
  const point = asObject(value);
  const decoded: DecodedDataPoint = {
    attributes: decodeAttributes(point.attributes),
    startTimeUnixNano: asNanos(point.startTimeUnixNano),
    timeUnixNano: asNanos(point.timeUnixNano),
  };
  const scalar = asNumber(point.asDouble) ?? asNumber(point.asInt);
  if (scalar !== undefined) {
    decoded.value = scalar;
  }
  for (const key of ['count', 'sum', 'min', 'max'] as const) {
    const number = asNumber(point[key]);
    if (number !== undefined) {
      decoded[key] = number;
    }
  }
  if ('bucketCounts' in point) {
    decoded.bucketCounts = numbers(point.bucketCounts);
  }
  if ('explicitBounds' in point) {
    decoded.explicitBounds = numbers(point.explicitBounds);
  }
  return decoded;
}

const METRIC_TYPES: MetricType[] = ['histogram', 'exponentialHistogram', 'sum', 'gauge', 'summary'];

/** The metrics of one `ExportMetricsServiceRequest` in its JSON encoding. */
export function decodeMetricsRequest(request: unknown): DecodedMetric[] {
  const metrics: DecodedMetric[] = [];
  for (const resourceMetrics of asArray(asObject(request).resourceMetrics)) {
    const resource = decodeAttributes(asObject(asObject(resourceMetrics).resource).attributes);
    for (const scopeMetrics of asArray(asObject(resourceMetrics).scopeMetrics)) {
      const scope = decodeScope(asObject(scopeMetrics).scope);
      for (const value of asArray(asObject(scopeMetrics).metrics)) {
        const metric = asObject(value);
        const type = METRIC_TYPES.find((name) => name in metric) ?? 'unknown';
        const data = type === 'unknown' ? {} : asObject(metric[type]);
        metrics.push({
          scope,
          resource,
          name: String(metric.name ?? ''),
          unit: asString(metric.unit),
          description: asString(metric.description),
          type,
          aggregationTemporality: asNumber(data.aggregationTemporality),
          isMonotonic: typeof data.isMonotonic === 'boolean' ? data.isMonotonic : undefined,
          dataPoints: asArray(data.dataPoints).map(decodeDataPoint),
        });
      }
    }
  }
  return metrics;
}

function decodeBody(raw: Buffer, encoding: string | undefined): Buffer {
  switch ((encoding ?? 'identity').trim().toLowerCase()) {
    case '':
    case 'identity':
      return raw;
    case 'gzip':
    case 'x-gzip':
      return gunzipSync(raw);
    case 'deflate':
      return inflateSync(raw);
    default:
      throw new Error(`unsupported Content-Encoding ${encoding}`);
  }
}

/** Handles one request: records it and says what to answer. */
function receive(request: ReceivedRequest): { status: number; body: string } {
  if (request.method !== 'POST' || (request.path !== TRACES_PATH && request.path !== METRICS_PATH)) {
    request.error = `no OTLP endpoint at ${request.method} ${request.path}`;
    return { status: 404, body: JSON.stringify({ code: 5, message: request.error }) };
  }
  const contentType = String(request.headers['content-type'] ?? '')
    .split(';')[0]
    .trim()
    .toLowerCase();
  if (contentType !== 'application/json') {
    request.error = `only the JSON encoding is understood here, not ${contentType || 'an untyped body'}`;
    return { status: 415, body: JSON.stringify({ code: 3, message: request.error }) };
  }
  try {
    request.body = decodeBody(request.raw, request.headers['content-encoding']);
    request.json = JSON.parse(request.body.toString('utf8'));
  } catch (error) {
    request.error = `undecodable export: ${(error as Error).message}`;
    return { status: 400, body: JSON.stringify({ code: 3, message: request.error }) };
  }
  // An empty ExportTraceServiceResponse / ExportMetricsServiceResponse: everything accepted.
  return { status: 200, body: '{}' };
}

/** Starts a receiver on 127.0.0.1 on a free port. */
export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  let received: ReceivedRequest[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const request: ReceivedRequest = {
        method: req.method ?? '',
        path: new URL(req.url ?? '/', 'http://receiver').pathname,
        headers: req.headers,
        raw,
        body: raw,
        status: 0,
      };
      const answer = receive(request);
      request.status = answer.status;
      received.push(request);
      res.writeHead(answer.status, {
        'Content-Type': 'application/json',
        'Content-Length': Buffer.byteLength(answer.body),
      });
      res.end(answer.body);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  const accepted = (path: string) => received.filter((request) => request.path === path && request.status === 200);
  const decodedMetrics = () => accepted(METRICS_PATH).flatMap((request) => decodeMetricsRequest(request.json));
  let closed: Promise<void> | undefined;

  return {
    url,
    tracesUrl: `${url}${TRACES_PATH}`,
    metricsUrl: `${url}${METRICS_PATH}`,
    requests: () => [...received],
    failures: () => received.filter((request) => request.status !== 200),
    spans: () => accepted(TRACES_PATH).flatMap((request) => decodeTraceRequest(request.json)),
    metrics: decodedMetrics,
    metric: (name) =>
      decodedMetrics()
        .filter((metric) => metric.name === name)
        .pop(),
    payloads: () => Buffer.concat(received.filter((request) => request.status === 200).map((request) => request.body)),
    clear: () => {
      received = [];
    },
    close: () => {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
