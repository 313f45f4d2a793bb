import { AsyncLocalStorage } from 'async_hooks';
import { ROOT_CONTEXT, context, metrics, trace } from '@opentelemetry/api';
import type { Context, ContextManager } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import type { Histogram, ResourceMetrics } from '@opentelemetry/sdk-metrics';

/**
 * The real OpenTelemetry SDK with in-memory exporters, as an application would set it up, and
 * what it collected in a plain JSON shape. The fixture apps under tests/e2e/otel/fixtures print
 * the same shape (see fixtures/sdk.js), so in-process and child-process tests assert alike.
 */

export interface SpanSummary {
  name: string;
  /** `SpanKind` number: 2 is CLIENT. */
  kind: number;
  /** `SpanStatusCode` number: 0 unset, 1 ok, 2 error. */
  status: number;
  scope: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  attributes: Record<string, unknown>;
  events: { name: string; attributes: Record<string, unknown> }[];
}

export interface HistogramPoint {
  attributes: Record<string, unknown>;
  count: number;
  sum: number;
}

export interface MetricSummary {
  scope: string;
  name: string;
  unit: string;
  points: HistogramPoint[];
}

/** What a fixture app prints on its result line. */
export interface CollectedTelemetry {
  spans: SpanSummary[];
  metrics: MetricSummary[];
}

export const SPAN_KIND_CLIENT = 2;
export const STATUS_UNSET = 0;
export const STATUS_ERROR = 2;

export function summarizeSpan(span: ReadableSpan): SpanSummary {
  const scope = (span as { instrumentationScope?: { name: string } }).instrumentationScope?.name ?? '';
  return {
    name: span.name,
    kind: span.kind,
    status: span.status.code,
    scope,
    traceId: span.spanContext().traceId,
    spanId: span.spanContext().spanId,
    parentSpanId: span.parentSpanContext?.spanId,
    attributes: { ...span.attributes },
    events: span.events.map((event) => ({ name: event.name, attributes: { ...(event.attributes ?? {}) } })),
  };
}

/** Histogram data points of every metric in the last (cumulative) collection. */
export function summarizeMetrics(collections: ResourceMetrics[]): MetricSummary[] {
  const last = collections[collections.length - 1];
  if (last === undefined) {
    return [];
  }
  return last.scopeMetrics.flatMap((scopeMetrics) =>
    scopeMetrics.metrics.map((metric) => ({
      scope: scopeMetrics.scope.name,
      name: metric.descriptor.name,
      unit: metric.descriptor.unit,
      points: metric.dataPoints.map((point) => {
        const value = point.value as Histogram | number;
        return typeof value === 'number'
          ? { attributes: { ...point.attributes }, count: 1, sum: value }
          : { attributes: { ...point.attributes }, count: value.count, sum: value.sum ?? 0 };
      }),
    })),
  );
}

/**
 * The context manager an SDK installs in Node.js (as @opentelemetry/context-async-hooks's
 * AsyncLocalStorageContextManager does, which is not installed here): the active context follows
 * the application's asynchronous calls.
 */
export class AsyncLocalStorageContextManager implements ContextManager {
  private readonly storage = new AsyncLocalStorage<Context>();

  active(): Context {
    return this.storage.getStore() ?? ROOT_CONTEXT;
  }

  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    activeContext: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    return this.storage.run(activeContext, () => fn.apply(thisArg, args));
  }

  bind<T>(activeContext: Context, target: T): T {
    if (typeof target !== 'function') {
      return target;
    }
    const run = <R>(fn: () => R) => this.storage.run(activeContext, fn);
    return function bound(this: unknown, ...args: unknown[]) {
      return run(() => (target as (...rest: unknown[]) => unknown).apply(this, args));
    } as T;
  }

  enable(): this {
    return this;
  }

  disable(): this {
    this.storage.disable();
    return this;
  }
}

export interface OtelSdk {
  readonly tracerProvider: BasicTracerProvider;
  readonly meterProvider: MeterProvider;
  readonly spanExporter: InMemorySpanExporter;
  readonly metricExporter: InMemoryMetricExporter;
  /** Finished spans so far. */
  spans(): SpanSummary[];
  /** Collects the meter provider now and returns every histogram. */
  metrics(): Promise<MetricSummary[]>;
  /** Shuts the providers down and, when they were made global, restores the API's no-op globals. */
  shutdown(): Promise<void>;
}

/**
 * A tracer provider and a meter provider with in-memory exporters; registered as the API's global
 * providers, with a context manager, unless `global` is false.
 */
export function startOtelSdk(options: { global?: boolean } = {}): OtelSdk {
  const spanExporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spanExporter)] });
  const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  // Collected on demand (forceFlush); the interval never fires within a test.
  const reader = new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 3_600_000 });
  const meterProvider = new MeterProvider({ readers: [reader] });
  const global = options.global !== false;
  if (global) {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager());
    trace.setGlobalTracerProvider(tracerProvider);
    metrics.setGlobalMeterProvider(meterProvider);
  }
  let stopped = false;
  return {
    tracerProvider,
    meterProvider,
    spanExporter,
    metricExporter,
    spans: () => spanExporter.getFinishedSpans().map(summarizeSpan),
    async metrics() {
      await reader.forceFlush();
      return summarizeMetrics(metricExporter.getMetrics());
    },
    async shutdown() {
      if (stopped) {
        return;
      }
      stopped = true;
      if (global) {
        trace.disable();
        metrics.disable();
        context.disable();
      }
      await Promise.all([tracerProvider.shutdown(), meterProvider.shutdown()]);
    },
  };
}

/** Spans of statements (the bridge's), in the order they ended. */
export function statementSpans(spans: SpanSummary[]): SpanSummary[] {
  return spans.filter((span) => span.attributes['databricks.statement.id'] !== undefined);
}

/** The metric named `name`, if any was collected. */
export function histogram(all: MetricSummary[], name: string): MetricSummary | undefined {
  return all.find((metric) => metric.name === name);
}
