import type { Attributes, Histogram, Span, Tracer } from '@opentelemetry/api';
import ITelemetryContext from './contracts/ITelemetryContext';
import type TelemetryEventEmitter from './TelemetryEventEmitter';
import {
  CloudFetchChunkEvent,
  ErrorEvent,
  StatementCompleteEvent,
  StatementStartEvent,
  TelemetryEventType,
} from './types';
import debugLog from './debugLog';
import { isSafeErrorName, isSqlState, UNKNOWN_ERROR } from './errorNames';
import { guid } from './wire/serializer';

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
export const DB_SYSTEM = 'databricks';
export const DURATION_METRIC = 'db.client.operation.duration';
/** The semantic conventions' advice for `db.client.operation.duration`, in seconds. */
const DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10];

/** What the bridge writes: enum words, GUIDs, counts. Anything else is left out, as on the wire. */
const WORD = /^[A-Z][A-Z0-9_]{0,63}$/;

interface OpenStatement {
  span: Span;
  /** `db.operation.name`, when the adapter named a valid operation type. */
  operation?: string;
  chunksIterated: number;
  errorName?: string;
}

function word(value: unknown): string | undefined {
  return typeof value === 'string' && WORD.test(value) ? value : undefined;
}

function count(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}

function time(value: unknown): Date | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? new Date(value) : undefined;
}

/** Sets only the attributes that have a value. */
function put(attributes: Attributes, name: string, value: string | number | boolean | undefined): void {
  if (value !== undefined) {
    attributes[name] = value;
  }
}

/**
 * Reports each statement to the application's own OpenTelemetry providers: one CLIENT span
 * (`dbsql <OPERATION_TYPE>`, from the execute call to the operation's close) and one
 * `db.client.operation.duration` measurement, with the database semantic conventions'
 * attributes and the same fields the export allow-list permits. Never SQL text, never a message.
 * Listens to the connection's event emitter, so it sees what the Databricks upload sees, whether
 * or not the server's feature flag lets the upload happen. Never throws into the emitter.
 */
export default class OpenTelemetryBridge {
  private readonly statements = new Map<string, OpenStatement>();

  private readonly tracer: Tracer;

  private readonly duration: Histogram;

  private full = false;

  /**
   * A bridge when `openTelemetry` is on and `@opentelemetry/api` loads; undefined (with one debug
   * line when the package is missing) otherwise. Register the application's providers before `connect()`.
   */
  static create(
    context: ITelemetryContext,
    load: () => OpenTelemetryApi | undefined = loadOpenTelemetryApi,
  ): OpenTelemetryBridge | undefined {
    try {
      if (context.getTelemetryConfig().openTelemetry !== true) {
        return undefined;
      }
      const api = load();
      if (!api) {
        debugLog(context, 'telemetry: telemetryOpenTelemetry is on but @opentelemetry/api is not installed');
        return undefined;
      }
      return new OpenTelemetryBridge(context, api);
    } catch (error) {
      debugLog(context, `telemetry: OpenTelemetry bridge unavailable: ${(error as Error)?.name}`);
      return undefined;
    }
  }

  constructor(
    private readonly context: ITelemetryContext,
    private readonly api: OpenTelemetryApi,
  ) {
    this.tracer = api.trace.getTracer(INSTRUMENTATION_SCOPE);
    this.duration = api.metrics.getMeter(INSTRUMENTATION_SCOPE).createHistogram(DURATION_METRIC, {
      unit: 's',
      description: 'Duration of database client operations.',
      advice: { explicitBucketBoundaries: DURATION_BUCKETS },
    });
  }

  subscribe(emitter: TelemetryEventEmitter): void {
    emitter.on(TelemetryEventType.STATEMENT_START, this.onStatementStart);
    emitter.on(TelemetryEventType.CLOUDFETCH_CHUNK, this.onCloudFetchChunk);
    emitter.on(TelemetryEventType.ERROR, this.onError);
    emitter.on(TelemetryEventType.STATEMENT_COMPLETE, this.onStatementComplete);
  }

  private readonly onStatementStart = (event: StatementStartEvent): void => {
    this.guard('statement.start', () => {
      const id = guid(event.statementId);
      if (id === undefined || this.statements.has(id) || !this.hasRoom()) {
        return;
      }
      const operation = word(event.operationType);
      const attributes = this.commonAttributes(operation);
      put(attributes, 'databricks.statement.id', id);
      put(attributes, 'databricks.session.id', guid(event.sessionId));
      put(attributes, 'databricks.statement.type', word(event.statementType));
      const span = this.tracer.startSpan(operation ? `dbsql ${operation}` : 'dbsql', {
        kind: this.api.SpanKind.CLIENT,
        startTime: time(event.timestamp),
        attributes,
      });
      this.statements.set(id, { span, operation, chunksIterated: 0 });
    });
  };

  private readonly onCloudFetchChunk = (event: CloudFetchChunkEvent): void => {
    this.guard('cloudfetch.chunk', () => {
      const statement = this.statements.get(event.statementId);
      if (statement) {
        statement.chunksIterated += 1;
      }
    });
  };

  /** A terminal error marks the statement failed (the first one wins); retried ones do not. */
  private readonly onError = (event: ErrorEvent): void => {
    this.guard('error', () => {
      const statement = event.statementId === undefined ? undefined : this.statements.get(event.statementId);
      if (statement && event.isTerminal === true && statement.errorName === undefined) {
        statement.errorName = isSafeErrorName(event.errorName) ? event.errorName : UNKNOWN_ERROR;
      }
    });
  };

  private readonly onStatementComplete = (event: StatementCompleteEvent): void => {
    this.guard('statement.complete', () => {
      const statement = this.statements.get(event.statementId);
      if (!statement) {
        return;
      }
      this.statements.delete(event.statementId);
      const { span, operation, errorName } = statement;

      const outcome: Attributes = {};
      if (errorName !== undefined) {
        put(outcome, 'error.type', errorName);
        put(outcome, 'db.response.status_code', isSqlState(errorName) ? errorName : undefined);
        span.setStatus({ code: this.api.SpanStatusCode.ERROR });
      }
      const details: Attributes = { ...outcome };
      put(details, 'databricks.execution_result', word(event.executionResult));
      put(
        details,
        'databricks.result.compressed',
        typeof event.isCompressed === 'boolean' ? event.isCompressed : undefined,
      );
      put(details, 'databricks.chunks.present', count(event.chunksPresent));
      put(details, 'databricks.chunks.iterated', statement.chunksIterated > 0 ? statement.chunksIterated : undefined);
      put(details, 'databricks.poll.count', count(event.pollCount));
      put(details, 'databricks.retry.count', count(event.retryCount));
      span.setAttributes(details);
      span.end(time(event.timestamp));

      const latencyMs = count(event.latencyMs);
      if (latencyMs !== undefined) {
        this.duration.record(latencyMs / 1000, { ...this.commonAttributes(operation), ...outcome });
      }
    });
  };

  private commonAttributes(operation: string | undefined): Attributes {
    const attributes: Attributes = { 'db.system.name': DB_SYSTEM, 'db.system': DB_SYSTEM };
    put(attributes, 'db.operation.name', operation);
    return attributes;
  }

  /** Statements in flight are bounded like the aggregator's; beyond it new ones are not traced. */
  private hasRoom(): boolean {
    const room = this.statements.size < this.context.getTelemetryConfig().maxPendingStatements;
    if (!room && !this.full) {
      debugLog(this.context, 'telemetry: too many open statements; not tracing new ones in OpenTelemetry');
    }
    this.full = !room;
    return room;
  }

  private guard(eventName: string, handle: () => void): void {
    try {
      handle();
    } catch (error) {
      debugLog(this.context, `telemetry: OpenTelemetry ${eventName} failed: ${(error as Error)?.name}`);
    }
  }
}
