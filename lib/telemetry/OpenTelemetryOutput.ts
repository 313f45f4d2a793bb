import type { Attributes, Histogram, MeterProvider, Span, Tracer } from '@opentelemetry/api';
import ITelemetryContext from './contracts/ITelemetryContext';
import debugLog from './debugLog';

export type OpenTelemetryApi = typeof import('@opentelemetry/api');

/** The optional peer dependency, or undefined when the application has not installed it. */
export function loadOpenTelemetryApi(): OpenTelemetryApi | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('@opentelemetry/api') as OpenTelemetryApi;
  } catch {
    return undefined;
  }
}

/** Instrumentation scope of the tracer and the meter. */
export const INSTRUMENTATION_SCOPE = 'dbsql-telemetry';

/**
 * `db.system.name`. The conventions list no value for Databricks and allow a custom one for a
 * system they do not list; `other_sql` is only a fallback for an unknown SQL database, which
 * would hide the system from every query filtering on it. Lowercase, as the listed values are.
 */
export const DB_SYSTEM_NAME = 'databricks';

export const DURATION_METRIC = 'db.client.operation.duration';
export const RETURNED_ROWS_METRIC = 'db.client.response.returned_rows';

/** The conventions' advice for `db.client.operation.duration`, in seconds. */
const DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10];
/** The conventions' advice for `db.client.response.returned_rows`. */
const ROW_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000];

/** What a request hook learns about the statement whose span just started. */
export interface StatementSpanInfo {
  statementId: string;
  sessionId?: string;
  /** `db.operation.name`, when known. */
  operation?: string;
}

/** What a response hook learns about the statement whose span is about to end. */
export interface StatementResultInfo {
  statementId: string;
  rowsReturned?: number;
  /** `error.type` when the statement failed. */
  errorType?: string;
}

/** How an application enriches the statement spans, as other instrumentations let it. */
export interface OpenTelemetryHooks {
  requestHook?: (span: Span, info: StatementSpanInfo) => void;
  responseHook?: (span: Span, info: StatementResultInfo) => void;
}

export interface OpenTelemetryOutputOptions extends OpenTelemetryHooks {
  /** Put `db.query.text` (literals replaced by `?`) on statement spans. */
  queryText?: boolean;
}

/** The conventions' instruments for database clients, from one meter provider. */
export interface DatabaseClientInstruments {
  duration: Histogram;
  returnedRows: Histogram;
}

/**
 * The application's tracer and meter with the instruments the conventions define for database
 * clients. One per client (or per instrumentation): the per-connection bridges share it. The
 * instruments follow the meter provider: the API has no proxy for meters, so an application that
 * registers its provider after connecting would otherwise record nothing.
 */
export default class OpenTelemetryOutput {
  private instruments?: DatabaseClientInstruments & { provider: MeterProvider };

  constructor(
    readonly api: OpenTelemetryApi,
    readonly tracer: Tracer,
    private readonly meterProvider: () => MeterProvider,
    readonly options: OpenTelemetryOutputOptions = {},
    private readonly version?: string,
  ) {}

  /** The instruments of the current meter provider, made again when it changed. */
  metrics(): DatabaseClientInstruments {
    const provider = this.meterProvider();
    if (this.instruments?.provider !== provider) {
      const meter = provider.getMeter(INSTRUMENTATION_SCOPE, this.version);
      this.instruments = {
        provider,
        duration: meter.createHistogram(DURATION_METRIC, {
          unit: 's',
          description: 'Duration of database client operations.',
          advice: { explicitBucketBoundaries: DURATION_BUCKETS },
        }),
        returnedRows: meter.createHistogram(RETURNED_ROWS_METRIC, {
          unit: '{row}',
          description: 'The actual number of records returned by the database operation.',
          advice: { explicitBucketBoundaries: ROW_BUCKETS },
        }),
      };
    }
    return this.instruments;
  }

  /**
   * The output to the application's global providers, when `openTelemetry` is on and
   * `@opentelemetry/api` loads; undefined (with one debug line when the package is missing)
   * otherwise. The global providers may be registered after this: the tracer is the API's proxy,
   * the instruments follow the global meter provider.
   */
  static fromGlobalProviders(
    context: Pick<ITelemetryContext, 'getLogger' | 'getTelemetryConfig'>,
    load: () => OpenTelemetryApi | undefined = loadOpenTelemetryApi,
  ): OpenTelemetryOutput | undefined {
    try {
      const config = context.getTelemetryConfig();
      if (config.openTelemetry !== true) {
        return undefined;
      }
      const api = load();
      if (!api) {
        debugLog(context, 'telemetry: telemetryOpenTelemetry is on but @opentelemetry/api is not installed');
        return undefined;
      }
      return new OpenTelemetryOutput(
        api,
        api.trace.getTracer(INSTRUMENTATION_SCOPE),
        () => api.metrics.getMeterProvider(),
        { queryText: config.openTelemetryQueryText },
      );
    } catch (error) {
      debugLog(context, `telemetry: OpenTelemetry output unavailable: ${(error as Error)?.name}`);
      return undefined;
    }
  }

  /**
   * A CLIENT span around one call of the application's that is not a statement (connect, open
   * session), named by its operation. The call's own outcome is returned or thrown unchanged.
   */
  async traceCall<T>(
    context: Pick<ITelemetryContext, 'getLogger'>,
    operation: string,
    attributes: Attributes,
    call: () => Promise<T>,
    errorType: (error: unknown) => string,
  ): Promise<T> {
    let span: Span | undefined;
    try {
      span = this.tracer.startSpan(operation, {
        kind: this.api.SpanKind.CLIENT,
        attributes: { 'db.system.name': DB_SYSTEM_NAME, 'db.operation.name': operation, ...attributes },
      });
    } catch (error) {
      debugLog(context, `telemetry: OpenTelemetry ${operation} span failed: ${(error as Error)?.name}`);
    }
    try {
      const result = await call();
      this.endCall(context, span);
      return result;
    } catch (error) {
      this.endCall(context, span, error, errorType);
      throw error;
    }
  }

  private endCall(
    context: Pick<ITelemetryContext, 'getLogger'>,
    span: Span | undefined,
    error?: unknown,
    errorType?: (error: unknown) => string,
  ): void {
    if (span === undefined) {
      return;
    }
    try {
      if (errorType !== undefined) {
        span.setStatus({ code: this.api.SpanStatusCode.ERROR });
        span.setAttribute('error.type', errorType(error));
      }
    } catch (failure) {
      debugLog(context, `telemetry: OpenTelemetry span outcome failed: ${(failure as Error)?.name}`);
    } finally {
      try {
        span.end();
      } catch (failure) {
        debugLog(context, `telemetry: OpenTelemetry span end failed: ${(failure as Error)?.name}`);
      }
    }
  }
}
