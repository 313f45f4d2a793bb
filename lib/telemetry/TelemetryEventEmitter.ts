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
import { copyMeasuredFields } from './statementFields';

/** What the adapter passes: the event without its type, the timestamp defaulting to now. */
export type EventFields<E extends TelemetryEvent> = Omit<E, 'eventType' | 'timestamp'> & { timestamp?: number };

/** What a producer of events (the driver adapter) calls. */
export type TelemetryEventSink = Pick<
  TelemetryEventEmitter,
  'emitConnectionOpen' | 'emitStatementStart' | 'emitStatementComplete' | 'emitCloudFetchChunk' | 'emitError'
>;

/** A subscriber to one event type; it receives that type's event. */
// `never`: a listener for one event type fits, whichever type it is.
export type TelemetryEventListener = (event: never) => void;

/**
 * Typed telemetry events, one event name per `TelemetryEventType`. Called on the driver's hot
 * path, so every method is a no-op when telemetry is off or nobody listens, and nothing it does
 * (bad input, a throwing listener, a throwing logger) ever reaches the driver. Subscribing works
 * as on Node's EventEmitter (`on`, `off`, `listenerCount`, `emit`); delivery calls the type's
 * listeners directly.
 */
export default class TelemetryEventEmitter {
  /** Replaced, never changed in place: a listener that subscribes or leaves during delivery waits for the next event. */
  private readonly listeners = new Map<string, readonly TelemetryEventListener[]>();

  constructor(private readonly context: ITelemetryContext) {}

  on<K extends TelemetryEventType>(
    eventType: K,
    listener: (event: Extract<TelemetryEvent, { eventType: K }>) => void,
  ): this;

  on(eventType: string, listener: (event: TelemetryEvent) => void): this;

  on(eventType: string, listener: TelemetryEventListener): this;

  on(eventType: string, listener: TelemetryEventListener): this {
    this.listeners.set(eventType, [...(this.listeners.get(eventType) ?? []), listener]);
    return this;
  }

  /** Removes one subscription of `listener`, the most recent, as EventEmitter does. */
  off(eventType: string, listener: TelemetryEventListener): this {
    const current = this.listeners.get(eventType) ?? [];
    const index = current.lastIndexOf(listener);
    if (index >= 0) {
      const remaining = current.filter((_, i) => i !== index);
      if (remaining.length > 0) {
        this.listeners.set(eventType, remaining);
      } else {
        this.listeners.delete(eventType);
      }
    }
    return this;
  }

  listenerCount(eventType: string): number {
    return this.listeners.get(eventType)?.length ?? 0;
  }

  /** Delivers `event` as it is to the type's listeners; a throwing listener is logged, and the others still get it. */
  emit(eventType: string, event: unknown): boolean {
    const listeners = this.listeners.get(eventType);
    if (listeners === undefined) {
      return false;
    }
    callEach(listeners, event, (error) => this.log(`telemetry: a ${eventType} listener failed`, error));
    return true;
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
      // Checking listeners first skips building an event nobody would receive.
      const listeners = this.listeners.get(eventType);
      if (listeners === undefined) {
        return;
      }
      const config = this.context.getTelemetryConfig();
      if (!config.enabled && !config.openTelemetry) {
        return;
      }
      if (typeof fields !== 'object' || fields === null) {
        this.log(`telemetry: ignored ${eventType} event with no fields`);
        return;
      }
      const { timestamp } = fields;
      callEach(
        listeners,
        build(fields, typeof timestamp === 'number' && Number.isFinite(timestamp) ? timestamp : Date.now()),
        (error) => this.log(`telemetry: a ${eventType} listener failed`, error),
      );
    } catch (caught) {
      this.log(`telemetry: ${eventType} event failed`, caught);
    }
  }

  private log(message: string, error?: unknown): void {
    debugLog(this.context, message, error);
  }
}

/**
 * Each listener gets the event whatever the ones before it did: the one error boundary of every
 * listener's handling (they need none of their own), logged by `failed`.
 */
function callEach(
  listeners: readonly TelemetryEventListener[],
  event: unknown,
  failed: (error: unknown) => void,
): void {
  for (const listener of listeners) {
    try {
      (listener as (event: unknown) => void)(event);
    } catch (error) {
      failed(error);
    }
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
    queryText: fields.queryText,
    parentContext: fields.parentContext,
  };
}

function statementComplete(fields: EventFields<StatementCompleteEvent>, timestamp: number): StatementCompleteEvent {
  const event: StatementCompleteEvent = {
    eventType: TelemetryEventType.STATEMENT_COMPLETE,
    timestamp,
    statementId: fields.statementId,
    sessionId: fields.sessionId,
    latencyMs: fields.latencyMs,
  };
  copyMeasuredFields(fields, event);
  return event;
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
    retryCount: fields.retryCount,
    unauthenticated: fields.unauthenticated,
  };
}
