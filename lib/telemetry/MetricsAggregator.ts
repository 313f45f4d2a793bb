import ITelemetryContext from './contracts/ITelemetryContext';
import { OpenStatements, TelemetryLogSink } from './contracts/TelemetryLogSink';
import TelemetryEventEmitter, { TelemetryEventListener } from './TelemetryEventEmitter';
import {
  CloudFetchChunkEvent,
  ConnectionOpenEvent,
  ErrorEvent,
  StatementCompleteEvent,
  StatementMetrics,
  StatementStartEvent,
  TelemetryConfiguration,
  TelemetryEventType,
  TelemetryLog,
} from './types';
import debugLog, { readTelemetryConfig } from './debugLog';
import { acceptMeasuredFields } from './statementFields';
import { randomUuid } from './uuidText';

export interface MetricsAggregatorStats {
  /** Statements being aggregated. */
  pending: number;
  /** Statement events ignored because `maxPendingStatements` statements were already tracked. */
  dropped: number;
  /** Statements reported by the TTL sweep. */
  evicted: number;
}

interface PendingStatement extends StatementMetrics {
  /** Already reported (terminal error): kept only so its later events add no second log. */
  done: boolean;
  unauthenticated?: boolean;
}

/** Operation GUIDs are 36 characters; anything much longer is not an id and would cost memory. */
const MAX_ID_LENGTH = 256;

/**
 * Turns one connection's events into logs: exactly one 'statement' log per statement, whatever
 * way the statement ends (complete, terminal error, session or connection close, TTL), while
 * 'connection' logs and statement-less errors pass straight through. Memory is bounded by
 * `maxPendingStatements`; the TTL sweep timer (unref'ed) runs only while statements are pending,
 * and one TTL after the last one at most.
 */
export default class MetricsAggregator {
  private readonly config: TelemetryConfiguration;

  private readonly statements = new Map<string, PendingStatement>();

  private readonly subscriptions: Array<[TelemetryEventType, TelemetryEventListener]>;

  private workspaceId?: string;

  private sweepTimer?: NodeJS.Timeout;

  private closed = false;

  private dropped = 0;

  private evicted = 0;

  constructor(
    private readonly context: ITelemetryContext,
    private readonly emitter: TelemetryEventEmitter,
    private readonly sink: TelemetryLogSink,
    private readonly openStatements?: OpenStatements,
  ) {
    this.config = readTelemetryConfig(this.context);
    this.subscriptions = [
      [TelemetryEventType.CONNECTION_OPEN, this.onConnectionOpen],
      [TelemetryEventType.STATEMENT_START, this.onStatementStart],
      [TelemetryEventType.STATEMENT_COMPLETE, this.onStatementComplete],
      [TelemetryEventType.CLOUDFETCH_CHUNK, this.onCloudFetchChunk],
      [TelemetryEventType.ERROR, this.onError],
    ];
    try {
      for (const [name, listener] of this.subscriptions) {
        emitter.on(name, listener);
      }
    } catch (error) {
      this.log('subscribing to the event emitter failed', error);
    }
  }

  /** Reports every statement of the session that has not ended (the session is closing). */
  completeSession(sessionId: string): void {
    try {
      const now = Date.now();
      for (const [id, statement] of this.statements) {
        if (statement.sessionId === sessionId) {
          this.statements.delete(id);
          if (!statement.done) {
            this.report(statement, now);
          }
        }
      }
      this.stopSweepIfIdle();
    } catch (error) {
      this.log('completing a session failed', error);
    }
  }

  /** Reports every statement still pending and stops listening. Idempotent. */
  close(): void {
    if (this.closed) {
      return;
    }
    this.closed = true;
    try {
      for (const [name, listener] of this.subscriptions) {
        this.emitter.off(name, listener);
      }
    } catch (error) {
      this.log('unsubscribing from the event emitter failed', error);
    }
    try {
      const now = Date.now();
      for (const statement of this.statements.values()) {
        if (!statement.done) {
          this.report(statement, now);
        }
      }
    } catch (error) {
      this.log('reporting pending statements at close failed', error);
    }
    this.statements.clear();
    this.stopSweepIfIdle();
  }

  getStats(): MetricsAggregatorStats {
    let pending = 0;
    for (const statement of this.statements.values()) {
      if (!statement.done) {
        pending += 1;
      }
    }
    return { pending, dropped: this.dropped, evicted: this.evicted };
  }

  private readonly onConnectionOpen = (event: ConnectionOpenEvent): void => {
    this.workspaceId = event.workspaceId;
    this.enqueue({
      kind: 'connection',
      eventId: randomUuid(),
      timestamp: event.timestamp,
      workspaceId: event.workspaceId,
      sessionId: event.sessionId,
      authType: event.authType,
      driverConfig: event.driverConfig,
      connectionParams: event.connectionParams,
      operationLatencyMs: count(event.latencyMs),
    });
  };

  private readonly onStatementStart = (event: StatementStartEvent): void => {
    const statement = this.track(event.statementId, event.timestamp);
    if (statement && !statement.done) {
      statement.startTime = event.timestamp;
      statement.sessionId = event.sessionId;
      statement.statementType = event.statementType;
      statement.operationType = event.operationType;
    }
  };

  private readonly onStatementComplete = (event: StatementCompleteEvent): void => {
    const id = event.statementId;
    if (!isId(id)) {
      this.log('statement.complete event without a valid statement id');
      return;
    }
    let statement = this.statements.get(id);
    if (statement) {
      // The sweep timer is left to stop itself at its next tick when nothing is pending:
      // clearing and re-arming it for every statement would cost more than the rest of this.
      this.statements.delete(id);
      if (statement.done) {
        return;
      }
    } else {
      // No start seen (or the table was full): still report what the end says, without tracking.
      statement = newStatement(id, event.timestamp);
    }
    statement.sessionId ??= event.sessionId;
    statement.latencyMs = count(event.latencyMs);
    acceptMeasuredFields(event, statement);
    this.report(statement, event.timestamp);
  };

  private readonly onCloudFetchChunk = (event: CloudFetchChunkEvent): void => {
    const statement = this.track(event.statementId, event.timestamp);
    if (!statement || statement.done) {
      return;
    }
    const latency = count(event.latencyMs) ?? 0;
    if (event.chunkIndex === 0 || statement.chunkInitialLatencyMs === undefined) {
      statement.chunkInitialLatencyMs = latency;
    }
    if (statement.chunkSlowestLatencyMs === undefined || latency > statement.chunkSlowestLatencyMs) {
      statement.chunkSlowestLatencyMs = latency;
    }
    statement.chunksIterated += 1;
    statement.chunkSumLatencyMs += latency;
    statement.bytesDownloaded += count(event.bytes) ?? 0;
    if (statement.isCompressed === undefined && typeof event.compressed === 'boolean') {
      statement.isCompressed = event.compressed;
    }
  };

  private readonly onError = (event: ErrorEvent): void => {
    const errorName = typeof event.errorName === 'string' ? event.errorName.slice(0, MAX_ID_LENGTH) : 'Error';
    if (event.statementId === undefined || event.statementId === null) {
      this.enqueue({
        kind: 'error',
        eventId: randomUuid(),
        timestamp: event.timestamp,
        workspaceId: this.workspaceId,
        sessionId: event.sessionId,
        errorName,
        unauthenticated: event.unauthenticated === true ? true : undefined,
      });
      return;
    }
    if (event.isTerminal === true) {
      this.onTerminalError(event, errorName);
      return;
    }
    const statement = this.track(event.statementId, event.timestamp);
    if (statement && !statement.done) {
      this.recordError(statement, event, errorName);
    }
  };

  /** Reports the statement at once and keeps a marker so its later end adds no second log. */
  private onTerminalError(event: ErrorEvent, errorName: string): void {
    const id = event.statementId;
    if (!isId(id)) {
      this.log('error event without a valid statement id');
      return;
    }
    const tracked = this.statements.get(id);
    if (tracked?.done) {
      tracked.lastEventTime = Date.now();
      return;
    }
    const statement = tracked ?? this.track(id, event.timestamp) ?? newStatement(id, event.timestamp);
    this.recordError(statement, event, errorName);
    if (event.unauthenticated === true) {
      statement.unauthenticated = true;
    }
    this.report(statement, event.timestamp);
    statement.done = true;
  }

  private recordError(statement: PendingStatement, event: ErrorEvent, errorName: string): void {
    statement.errorName = errorName;
    statement.sessionId ??= event.sessionId;
    const chunkIndex = count(event.chunkIndex);
    if (chunkIndex !== undefined) {
      statement.errorChunkIndex = chunkIndex;
    }
    const retryCount = count(event.retryCount);
    if (retryCount !== undefined) {
      statement.retryCount = retryCount;
    }
  }

  /** The statement's state, created on its first event; undefined when it cannot be tracked. */
  private track(id: string, timestamp: number): PendingStatement | undefined {
    if (!isId(id)) {
      this.log('statement event without a valid statement id');
      return undefined;
    }
    let statement = this.statements.get(id);
    if (statement) {
      // The event's own time (the emitter stamps it): one clock read per event is enough.
      if (timestamp > statement.lastEventTime) {
        statement.lastEventTime = timestamp;
      }
      return statement;
    }
    if (this.statements.size >= this.config.maxPendingStatements) {
      if (this.dropped === 0) {
        this.log(`${this.config.maxPendingStatements} statements pending; new statements are not tracked`);
      }
      this.dropped += 1;
      return undefined;
    }
    statement = newStatement(id, timestamp);
    this.statements.set(id, statement);
    this.startSweep();
    return statement;
  }

  private report(statement: PendingStatement, timestamp: number): void {
    this.enqueue({
      kind: 'statement',
      eventId: randomUuid(),
      timestamp: typeof timestamp === 'number' && Number.isFinite(timestamp) ? timestamp : Date.now(),
      workspaceId: this.workspaceId,
      sessionId: statement.sessionId,
      statementId: statement.statementId,
      operationLatencyMs: statement.latencyMs,
      errorName: statement.errorName,
      unauthenticated: statement.unauthenticated,
      // The state itself, not a copy: once reported, nothing but its done marker and activity
      // time changes, and the serializer reads only the fields the allow-list names.
      statement,
    });
  }

  private enqueue(log: TelemetryLog): void {
    try {
      this.sink.enqueue(log);
    } catch (error) {
      this.log('the telemetry sink failed', error);
    }
  }

  private startSweep(): void {
    if (this.sweepTimer) {
      return;
    }
    this.sweepTimer = setInterval(() => this.sweep(), this.config.statementTtlMs);
    this.sweepTimer.unref();
  }

  private stopSweepIfIdle(): void {
    if (this.sweepTimer && this.statements.size === 0) {
      clearInterval(this.sweepTimer);
      this.sweepTimer = undefined;
    }
  }

  /** Reports statements silent for the TTL, except those whose operation is still open. */
  private sweep(): void {
    try {
      const now = Date.now();
      const ttl = this.config.statementTtlMs;
      for (const [id, statement] of this.statements) {
        if (now - statement.lastEventTime < ttl) {
          continue;
        }
        if (!statement.done && this.isOpen(id)) {
          statement.lastEventTime = now;
          continue;
        }
        if (statement.done) {
          this.statements.delete(id);
          continue;
        }
        // Reported now, remembered one more TTL so a late close adds no second log.
        this.evicted += 1;
        this.report(statement, now);
        statement.done = true;
        statement.lastEventTime = now;
      }
    } catch (error) {
      this.log('the statement TTL sweep failed', error);
    }
    this.stopSweepIfIdle();
  }

  private isOpen(id: string): boolean {
    try {
      return this.openStatements?.has(id) === true;
    } catch (error) {
      this.log('checking for an open operation failed', error);
      return false;
    }
  }

  private log(message: string, error?: unknown): void {
    debugLog(this.context, `telemetry aggregator: ${message}`, error);
  }
}

/** Every field from the start: one object shape for all statements, whatever events they get. */
function newStatement(statementId: string, timestamp: number): PendingStatement {
  return {
    statementId,
    sessionId: undefined,
    statementType: undefined,
    operationType: undefined,
    startTime: timestamp,
    lastEventTime: timestamp,
    latencyMs: undefined,
    executionResult: undefined,
    isCompressed: undefined,
    pollCount: undefined,
    pollLatencyMs: undefined,
    retryCount: undefined,
    resultReadyLatencyMs: undefined,
    resultConsumptionLatencyMs: undefined,
    chunksPresent: undefined,
    chunksIterated: 0,
    chunkInitialLatencyMs: undefined,
    chunkSlowestLatencyMs: undefined,
    chunkSumLatencyMs: 0,
    bytesDownloaded: 0,
    errorName: undefined,
    errorChunkIndex: undefined,
    done: false,
    unauthenticated: undefined,
  };
}

function isId(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_ID_LENGTH;
}

/** A finite non-negative number, or undefined: bad input never turns a sum into NaN or a string. */
function count(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}
