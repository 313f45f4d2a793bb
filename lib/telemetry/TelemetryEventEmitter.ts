import { EventEmitter } from 'events';
import ITelemetryContext from './contracts/ITelemetryContext';
import {
  CloudFetchChunkEvent,
  ConnectionOpenEvent,
  ErrorEvent,
  StatementCompleteEvent,
  StatementStartEvent,
  TelemetryEvent,
  TelemetryEventType,
} from './types';
import debugLog from './debugLog';

/** What the adapter passes: the event without its type, the timestamp defaulting to now. */
export type EventFields<E extends TelemetryEvent> = Omit<E, 'eventType' | 'timestamp'> & { timestamp?: number };

/**
 * Typed telemetry events, one event name per `TelemetryEventType`. Called on the driver's hot
 * path, so every method is a no-op when telemetry is off or nobody listens, and nothing it does
 * (bad input, a throwing listener, a throwing logger) ever reaches the driver.
 */
export default class TelemetryEventEmitter extends EventEmitter {
  constructor(private readonly context: ITelemetryContext) {
    super();
  }

  emitConnectionOpen(fields: EventFields<ConnectionOpenEvent>): void {
    this.dispatch(TelemetryEventType.CONNECTION_OPEN, fields, connectionOpen);
  }

  emitStatementStart(fields: EventFields<StatementStartEvent>): void {
    this.dispatch(TelemetryEventType.STATEMENT_START, fields, statementStart);
  }

  emitStatementComplete(fields: EventFields<StatementCompleteEvent>): void {
    this.dispatch(TelemetryEventType.STATEMENT_COMPLETE, fields, statementComplete);
  }

  emitCloudFetchChunk(fields: EventFields<CloudFetchChunkEvent>): void {
    this.dispatch(TelemetryEventType.CLOUDFETCH_CHUNK, fields, cloudFetchChunk);
  }

  emitError(fields: EventFields<ErrorEvent>): void {
    this.dispatch(TelemetryEventType.ERROR, fields, error);
  }

  private dispatch<F extends { timestamp?: number }>(
    eventType: TelemetryEventType,
    fields: F,
    build: (fields: F, timestamp: number) => TelemetryEvent,
  ): void {
    try {
      // Checking listeners first skips building the event, and keeps Node's special 'error'
      // event (TelemetryEventType.ERROR) from throwing when nobody subscribed.
      if (this.listenerCount(eventType) === 0 || !this.context.getTelemetryConfig().enabled) {
        return;
      }
      if (typeof fields !== 'object' || fields === null) {
        this.log(`telemetry: ignored ${eventType} event with no fields`);
        return;
      }
      const { timestamp } = fields;
      this.emit(eventType, build(fields, typeof timestamp === 'number' && Number.isFinite(timestamp) ? timestamp : Date.now()));
    } catch (caught) {
      this.log(`telemetry: ${eventType} event failed`, caught);
    }
  }

  private log(message: string, error?: unknown): void {
    debugLog(this.context, message, error);
  }
}

// One literal per event type: copying named fields is an order of magnitude faster than object
// spread on this hot path, and drops whatever else the caller's object carries.

function connectionOpen(fields: EventFields<ConnectionOpenEvent>, timestamp: number): ConnectionOpenEvent {
  return {
    eventType: TelemetryEventType.CONNECTION_OPEN,
    timestamp,
    sessionId: fields.sessionId,
    workspaceId: fields.workspaceId,
    latencyMs: fields.latencyMs,
    authType: fields.authType,
    driverConfig: fields.driverConfig,
    connectionParams: fields.connectionParams,
  };
}

function statementStart(fields: EventFields<StatementStartEvent>, timestamp: number): StatementStartEvent {
  return {
    eventType: TelemetryEventType.STATEMENT_START,
    timestamp,
    statementId: fields.statementId,
    sessionId: fields.sessionId,
    statementType: fields.statementType,
    operationType: fields.operationType,
  };
}

function statementComplete(fields: EventFields<StatementCompleteEvent>, timestamp: number): StatementCompleteEvent {
  return {
    eventType: TelemetryEventType.STATEMENT_COMPLETE,
    timestamp,
    statementId: fields.statementId,
    sessionId: fields.sessionId,
    latencyMs: fields.latencyMs,
    executionResult: fields.executionResult,
    isCompressed: fields.isCompressed,
    pollCount: fields.pollCount,
    pollLatencyMs: fields.pollLatencyMs,
    chunksPresent: fields.chunksPresent,
    resultReadyLatencyMs: fields.resultReadyLatencyMs,
    resultConsumptionLatencyMs: fields.resultConsumptionLatencyMs,
    retryCount: fields.retryCount,
  };
}

function cloudFetchChunk(fields: EventFields<CloudFetchChunkEvent>, timestamp: number): CloudFetchChunkEvent {
  return {
    eventType: TelemetryEventType.CLOUDFETCH_CHUNK,
    timestamp,
    statementId: fields.statementId,
    chunkIndex: fields.chunkIndex,
    latencyMs: fields.latencyMs,
    bytes: fields.bytes,
    compressed: fields.compressed,
  };
}

function error(fields: EventFields<ErrorEvent>, timestamp: number): ErrorEvent {
  return {
    eventType: TelemetryEventType.ERROR,
    timestamp,
    statementId: fields.statementId,
    sessionId: fields.sessionId,
    errorName: fields.errorName,
    isTerminal: fields.isTerminal,
    chunkIndex: fields.chunkIndex,
    unauthenticated: fields.unauthenticated,
  };
}
