import type { Attributes, Context, Span } from '@opentelemetry/api';
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
import OpenTelemetryOutput, { DB_SYSTEM_NAME } from './OpenTelemetryOutput';
import { sanitizeQueryText } from './queryText';

/** Where the connection's statements run: the conventions' `server.*` and `db.namespace`. */
export interface DatabaseTarget {
  address: string;
  port: number;
}

/** What the bridge writes: enum words, GUIDs, counts. Anything else is left out, as on the wire. */
const WORD = /^[A-Z][A-Z0-9_]{0,63}$/;

interface OpenStatement {
  span: Span;
  /** The metric's attributes: system, operation, server, namespace. */
  attributes: Attributes;
  errorName?: string;
  chunksIterated: number;
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
 * Reports one connection's statements to the application's OpenTelemetry providers, as the
 * stable database semantic conventions describe a client operation: one CLIENT span per statement
 * (named by `db.operation.name`, from the execute call to the operation's close), with CloudFetch
 * downloads as span events, and one `db.client.operation.duration` and
 * `db.client.response.returned_rows` measurement each. `db.operation.name` is the driver's
 * operation (EXECUTE_STATEMENT, LIST_TABLES, ...): the SQL text is never parsed. Never a message,
 * never a parameter; the statement text only when the application opts in, without its literals.
 * Listens to the connection's event emitter, so it sees what the Databricks upload sees, whether
 * or not the upload happens. Never throws into the emitter.
 */
export default class OpenTelemetryBridge {
  private readonly statements = new Map<string, OpenStatement>();

  /** `db.namespace` of each open session whose catalog the application named. */
  private readonly namespaces = new Map<string, string>();

  private full = false;

  constructor(
    private readonly context: ITelemetryContext,
    private readonly output: OpenTelemetryOutput,
    private readonly target: DatabaseTarget,
  ) {}

  subscribe(emitter: TelemetryEventEmitter): void {
    emitter.on(TelemetryEventType.STATEMENT_START, this.onStatementStart);
    emitter.on(TelemetryEventType.CLOUDFETCH_CHUNK, this.onCloudFetchChunk);
    emitter.on(TelemetryEventType.ERROR, this.onError);
    emitter.on(TelemetryEventType.STATEMENT_COMPLETE, this.onStatementComplete);
  }

  /** The session's `db.namespace` (catalog, or catalog.schema), when the application named its catalog. */
  sessionOpened(sessionId: string, catalog: unknown, schema: unknown): void {
    if (typeof catalog === 'string' && catalog !== '' && this.namespaces.size < this.maxOpen()) {
      this.namespaces.set(sessionId, typeof schema === 'string' && schema !== '' ? `${catalog}.${schema}` : catalog);
    }
  }

  sessionClosed(sessionId: string): void {
    this.namespaces.delete(sessionId);
  }

  private readonly onStatementStart = (event: StatementStartEvent): void => {
    this.guard('statement.start', () => {
      const id = guid(event.statementId);
      if (id === undefined || this.statements.has(id) || !this.hasRoom()) {
        return;
      }
      const operation = word(event.operationType);
      const attributes: Attributes = {
        'db.system.name': DB_SYSTEM_NAME,
        'server.address': this.target.address,
        'server.port': this.target.port,
      };
      put(attributes, 'db.operation.name', operation);
      put(attributes, 'db.namespace', this.namespaces.get(event.sessionId));
      const spanAttributes: Attributes = { ...attributes };
      if (this.output.options.queryText === true) {
        put(spanAttributes, 'db.query.text', sanitizeQueryText(event.queryText));
      }
      put(spanAttributes, 'databricks.statement.id', id);
      put(spanAttributes, 'databricks.session.id', guid(event.sessionId));
      put(spanAttributes, 'databricks.statement.type', word(event.statementType));
      // Under the context the application had when it sent the statement: the span is delivered
      // later, when whatever context is active then is not the statement's.
      const parent = (event.parentContext as Context | undefined) ?? this.output.api.ROOT_CONTEXT;
      const span = this.output.tracer.startSpan(
        operation ?? DB_SYSTEM_NAME,
        { kind: this.output.api.SpanKind.CLIENT, startTime: time(event.timestamp), attributes: spanAttributes },
        parent,
      );
      this.statements.set(id, { span, attributes, chunksIterated: 0 });
      const { requestHook } = this.output.options;
      if (requestHook !== undefined) {
        this.guard('requestHook', () =>
          requestHook(span, { statementId: id, sessionId: guid(event.sessionId), operation }),
        );
      }
    });
  };

  private readonly onCloudFetchChunk = (event: CloudFetchChunkEvent): void => {
    this.guard('cloudfetch.chunk', () => {
      const statement = this.statements.get(event.statementId);
      if (!statement) {
        return;
      }
      statement.chunksIterated += 1;
      const attributes: Attributes = {};
      put(attributes, 'databricks.chunk.index', count(event.chunkIndex));
      put(attributes, 'databricks.chunk.bytes', count(event.bytes));
      put(attributes, 'databricks.chunk.download_ms', count(event.latencyMs));
      put(
        attributes,
        'databricks.chunk.compressed',
        typeof event.compressed === 'boolean' ? event.compressed : undefined,
      );
      statement.span.addEvent('databricks.cloudfetch.chunk', attributes, time(event.timestamp));
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
      const { span, attributes, errorName } = statement;

      const outcome: Attributes = { ...attributes };
      if (errorName !== undefined) {
        put(outcome, 'error.type', errorName);
        put(outcome, 'db.response.status_code', isSqlState(errorName) ? errorName : undefined);
        span.setStatus({ code: this.output.api.SpanStatusCode.ERROR });
      }
      const rows = count(event.rowsReturned);
      const details: Attributes = {};
      put(details, 'error.type', outcome['error.type'] as string | undefined);
      put(details, 'db.response.status_code', outcome['db.response.status_code'] as string | undefined);
      put(details, 'db.response.returned_rows', rows);
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
      const { responseHook } = this.output.options;
      if (responseHook !== undefined) {
        this.guard('responseHook', () =>
          responseHook(span, { statementId: event.statementId, rowsReturned: rows, errorType: errorName }),
        );
      }
      span.end(time(event.timestamp));

      const latencyMs = count(event.latencyMs);
      const metrics = this.output.metrics();
      if (latencyMs !== undefined) {
        metrics.duration.record(latencyMs / 1000, outcome);
      }
      if (rows !== undefined) {
        metrics.returnedRows.record(rows, outcome);
      }
    });
  };

  private maxOpen(): number {
    return this.context.getTelemetryConfig().maxPendingStatements;
  }

  /** Statements in flight are bounded like the aggregator's; beyond it new ones are not traced. */
  private hasRoom(): boolean {
    const room = this.statements.size < this.maxOpen();
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
