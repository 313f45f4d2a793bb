import { OPERATION_TYPES as ALL_OPERATION_TYPES, TelemetryLog, TelemetryLogKind } from '../types';
import { isExportAllowed } from './exportAllowList';

/** Writes one field's JSON value, or `undefined` to omit the field. */
type Encode = (log: TelemetryLog, userAgent: string) => string | undefined;

type WriterNode = { key: string; encode: Encode } | { key: string; children: WriterNode[] };

type AnyRecord = Record<string, unknown>;

const EMPTY: AnyRecord = Object.freeze({});
const INT64_MAX = '9223372036854775807';
const WORKSPACE_ID = /^\d{1,19}$/;
/** Session, statement and event ids are GUIDs: hex digits and dashes, nothing that can carry text. */
const GUID_LIKE = /^[0-9A-Fa-f][0-9A-Fa-f-]{0,63}$/;
const SAFE_ERROR_NAME = /^[A-Za-z][A-Za-z0-9_.]{0,63}$|^[A-Za-z0-9]{5}$/;
const MAX_TEXT = 256;
const MAX_USER_AGENT = 512;

const STATEMENT_TYPES = new Set(['QUERY', 'SQL', 'UPDATE', 'METADATA', 'VOLUME', 'NONE']);
const EXECUTION_RESULTS = new Set(['INLINE_ARROW', 'INLINE_JSON', 'EXTERNAL_LINKS', 'COLUMNAR_INLINE', 'FORMAT_UNSPECIFIED']);
const OPERATION_TYPES: ReadonlySet<string> = new Set(ALL_OPERATION_TYPES);
const AUTH_TYPES = new Set(['pat', 'oauth-m2m', 'oauth-u2m', 'other']);
const MODES = new Set(['THRIFT', 'SEA']);
const AUTH_MECHS = new Set(['PAT', 'OAUTH', 'OTHER']);
const AUTH_FLOWS = new Set(['TOKEN_PASSTHROUGH', 'CLIENT_CREDENTIALS', 'BROWSER_BASED_AUTHENTICATION']);

// Value encoders: each checks the type and shape it expects, so a wrong or hostile value is omitted.

function int(value: unknown): string | undefined {
  return typeof value === 'number' && value >= 0 && value <= Number.MAX_SAFE_INTEGER
    ? String(Math.round(value))
    : undefined;
}

function bool(value: unknown): string | undefined {
  if (value === true) {
    return 'true';
  }
  return value === false ? 'false' : undefined;
}

function oneOf(values: ReadonlySet<string>): (value: unknown) => string | undefined {
  return (value) => (typeof value === 'string' && values.has(value) ? `"${value}"` : undefined);
}

function guid(value: unknown): string | undefined {
  return typeof value === 'string' && GUID_LIKE.test(value) ? `"${value}"` : undefined;
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_TEXT ? JSON.stringify(value) : undefined;
}

/** The digits themselves, so ids beyond 2^53 keep every digit (a JS number would round them). */
function workspaceId(value: unknown): string | undefined {
  if (typeof value !== 'string' || !WORKSPACE_ID.test(value)) {
    return undefined;
  }
  const digits = value.replace(/^0+(?=\d)/, '');
  return digits.length === 19 && digits > INT64_MAX ? undefined : digits;
}

function errorName(value: unknown): string | undefined {
  if (value === undefined) {
    return undefined;
  }
  return typeof value === 'string' && SAFE_ERROR_NAME.test(value) ? `"${value}"` : '"UnknownError"';
}

/** Only the executable's base name: a full path can hold a user name. */
function processName(value: unknown): string | undefined {
  return typeof value === 'string' ? text(value.slice(Math.max(value.lastIndexOf('/'), value.lastIndexOf('\\')) + 1)) : undefined;
}

function milliseconds(value: unknown): string | undefined {
  return typeof value === 'number' ? int(value / 1000) : undefined;
}

let lastUserAgent = '';
let lastUserAgentJson: string | undefined;

/** One batch shares one user agent; encode it once. */
function userAgent(value: string): string | undefined {
  if (value !== lastUserAgent) {
    lastUserAgent = value;
    lastUserAgentJson =
      typeof value === 'string' && value.length > 0 && value.length <= MAX_USER_AGENT ? JSON.stringify(value) : undefined;
  }
  return lastUserAgentJson;
}

function record(value: unknown): AnyRecord {
  return typeof value === 'object' && value !== null ? (value as AnyRecord) : EMPTY;
}

const statement = (log: TelemetryLog): AnyRecord => record(log.statement);
const driverConfig = (log: TelemetryLog): AnyRecord => record(log.driverConfig);
const connectionParams = (log: TelemetryLog): AnyRecord => record(log.connectionParams);

/** Chunk details only for statements that had chunks: zeros for inline results would only add bytes. */
function chunks(log: TelemetryLog): AnyRecord {
  const s = statement(log);
  return s.chunksPresent !== undefined || (typeof s.chunksIterated === 'number' && s.chunksIterated > 0) ? s : EMPTY;
}

function field(key: string, encode: Encode): WriterNode {
  return { key, encode };
}

function group(key: string, children: WriterNode[]): WriterNode {
  return { key, children };
}

function fromStatement(key: string, name: string, encode: (value: unknown) => string | undefined): WriterNode {
  return field(key, (log) => encode(statement(log)[name]));
}

function fromChunks(key: string, name: string): WriterNode {
  return field(key, (log) => int(chunks(log)[name]));
}

function fromDriver(key: string, name: string, encode: (value: unknown) => string | undefined = text): WriterNode {
  return field(key, (log) => encode(driverConfig(log)[name]));
}

function fromParams(key: string, name: string, encode: (value: unknown) => string | undefined): WriterNode {
  return field(key, (log) => encode(connectionParams(log)[name]));
}

/**
 * Every field the serializer knows how to write, laid out as on the wire. Only those the allow-list
 * permits for a log's kind and scope are compiled into its plan; the rest are never even read.
 */
const WIRE_LAYOUT: WriterNode[] = [
  field('workspace_id', (log) => workspaceId(log.workspaceId)),
  field('frontend_log_event_id', (log) => guid(log.eventId)),
  group('context', [
    group('client_context', [
      field('timestamp_millis', (log) => int(log.timestamp)),
      field('user_agent', (_log, ua) => userAgent(ua)),
    ]),
  ]),
  group('entry', [
    group('sql_driver_log', [
      field('session_id', (log) => guid(log.sessionId)),
      field('sql_statement_id', (log) => guid(log.statementId)),
      group('system_configuration', [
        fromDriver('driver_version', 'driverVersion'),
        fromDriver('driver_name', 'driverName'),
        fromDriver('runtime_name', 'runtimeName'),
        fromDriver('runtime_version', 'runtimeVersion'),
        fromDriver('runtime_vendor', 'runtimeVendor'),
        fromDriver('os_name', 'osName'),
        fromDriver('os_version', 'osVersion'),
        fromDriver('os_arch', 'osArch'),
        fromDriver('client_app_name', 'clientAppName'),
        fromDriver('locale_name', 'localeName'),
        fromDriver('char_set_encoding', 'charSetEncoding'),
        fromDriver('process_name', 'processName', processName),
      ]),
      group('driver_connection_params', [
        fromParams('mode', 'mode', oneOf(MODES)),
        fromParams('use_proxy', 'useProxy', bool),
        fromParams('auth_mech', 'authMech', oneOf(AUTH_MECHS)),
        fromParams('auth_flow', 'authFlow', oneOf(AUTH_FLOWS)),
        fromParams('enable_arrow', 'enableArrow', bool),
        fromParams('enable_direct_results', 'enableDirectResults', bool),
        // The proto field is in seconds.
        fromParams('socket_timeout', 'socketTimeoutMs', milliseconds),
        fromParams('rows_fetched_per_block', 'rowsFetchedPerBlock', int),
        fromParams('enable_metric_view_metadata', 'enableMetricViewMetadata', bool),
      ]),
      field('auth_type', (log) => oneOf(AUTH_TYPES)(log.authType)),
      group('sql_operation', [
        fromStatement('statement_type', 'statementType', oneOf(STATEMENT_TYPES)),
        fromStatement('is_compressed', 'isCompressed', bool),
        fromStatement('execution_result', 'executionResult', oneOf(EXECUTION_RESULTS)),
        fromStatement('chunk_id', 'errorChunkIndex', int),
        fromStatement('retry_count', 'retryCount', int),
        group('chunk_details', [
          fromChunks('initial_chunk_latency_millis', 'chunkInitialLatencyMs'),
          fromChunks('slowest_chunk_latency_millis', 'chunkSlowestLatencyMs'),
          fromChunks('total_chunks_present', 'chunksPresent'),
          fromChunks('total_chunks_iterated', 'chunksIterated'),
          fromChunks('sum_chunks_download_time_millis', 'chunkSumLatencyMs'),
        ]),
        group('result_latency', [
          fromStatement('result_set_ready_latency_millis', 'resultReadyLatencyMs', int),
          fromStatement('result_set_consumption_latency_millis', 'resultConsumptionLatencyMs', int),
        ]),
        group('operation_detail', [
          fromStatement('n_operation_status_calls', 'pollCount', int),
          fromStatement('operation_status_latency_millis', 'pollLatencyMs', int),
          fromStatement('operation_type', 'operationType', oneOf(OPERATION_TYPES)),
        ]),
      ]),
      group('error_info', [field('error_name', (log) => errorName(log.errorName ?? statement(log).errorName))]),
      field('operation_latency_ms', (log) => int(log.operationLatencyMs)),
    ]),
  ]),
];

/** Turns the allowed part of the layout into one function writing a JSON object (or nothing, if empty). */
function compile(nodes: WriterNode[], prefix: string, kind: TelemetryLogKind, unauthenticated: boolean): Encode | undefined {
  const members: Array<{ name: string; encode: Encode }> = [];
  for (const node of nodes) {
    const path = prefix + node.key;
    const encode =
      'encode' in node
        ? isExportAllowed(path, kind, unauthenticated)
          ? node.encode
          : undefined
        : compile(node.children, `${path}.`, kind, unauthenticated);
    if (encode !== undefined) {
      members.push({ name: `"${node.key}":`, encode });
    }
  }
  if (members.length === 0) {
    return undefined;
  }
  return (log, ua) => {
    let out = '';
    for (const member of members) {
      const value = member.encode(log, ua);
      if (value !== undefined) {
        out += (out === '' ? '{' : ',') + member.name + value;
      }
    }
    return out === '' ? undefined : `${out}}`;
  };
}

const KINDS: readonly TelemetryLogKind[] = ['connection', 'statement', 'error'];

/** Per kind: [signed-in plan, unauthenticated plan]. Compiled once at load. */
const PLANS: ReadonlyMap<unknown, [Encode | undefined, Encode | undefined]> = new Map(
  KINDS.map((kind) => [kind, [compile(WIRE_LAYOUT, '', kind, false), compile(WIRE_LAYOUT, '', kind, true)]]),
);

/**
 * One frontend log as JSON text, holding only what the allow-list permits for the log's kind on
 * the chosen endpoint (`unauthenticated` also applies to logs not marked so, when the exporter
 * sends everything without credentials). `undefined` when the log is unusable (not an object,
 * unknown kind, or a getter that throws): the caller drops it.
 */
export function serializeLog(log: TelemetryLog, userAgentValue: string, unauthenticated: boolean): string | undefined {
  try {
    const plans = PLANS.get(log.kind);
    const plan = plans && plans[unauthenticated || log.unauthenticated === true ? 1 : 0];
    return plan ? plan(log, userAgentValue) : undefined;
  } catch {
    return undefined;
  }
}

/** The upload request body around already serialized logs. */
export function uploadBody(protoLogs: readonly string[], nowMs: number): string {
  let logs = '';
  for (const protoLog of protoLogs) {
    logs += (logs === '' ? '' : ',') + JSON.stringify(protoLog);
  }
  return `{"uploadTime":${int(nowMs) ?? '0'},"items":[],"protoLogs":[${logs}]}`;
}

/** The upload request body for `logs`; unusable logs are left out. */
export function buildUploadBody(
  logs: readonly TelemetryLog[],
  userAgentValue: string,
  nowMs: number,
  unauthenticated = false,
): string {
  const protoLogs: string[] = [];
  for (const log of logs) {
    const json = serializeLog(log, userAgentValue, unauthenticated);
    if (json !== undefined) {
      protoLogs.push(json);
    }
  }
  return uploadBody(protoLogs, nowMs);
}
