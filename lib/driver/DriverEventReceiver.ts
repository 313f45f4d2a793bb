import ExceptionClassifier from '../telemetry/ExceptionClassifier';
import type { SessionObserverSink } from './contracts/SessionObserverSink';

/** Fields the driver passes with its statement and session events; only these are read. */
interface DriverStatementFields {
  statementId?: unknown;
}

interface DriverErrorFields {
  statementId?: unknown;
  errorName?: unknown;
}

/** A CloudFetch download carries `compressed`; the driver's inline result pages, reported the same way, do not. */
interface DriverChunkFields {
  statementId?: unknown;
  chunkIndex?: unknown;
  latencyMs?: unknown;
  bytes?: unknown;
  compressed?: unknown;
}

interface DriverSessionFields {
  sessionId?: unknown;
}

/**
 * Takes the place of the driver's own telemetry emitter and aggregator (drivers from 1.15 ask
 * their client for both, at points inside the operation and session code) and turns the few of
 * their events that only the driver sees into the adapter's: the caller closing a statement,
 * an error thrown to the caller, a CloudFetch chunk downloaded (with its time and size, which
 * the driver measures anyway), a session closing. Nothing is set on the driver's objects, so
 * the driver's own code keeps one shape for every operation and session. Everything on the wire
 * (start, polls, result format, links, server errors) comes from the Thrift observer, with the
 * RPCs' own times. The driver runs these methods inside its own error boundary, which logs at
 * debug level; they do not throw.
 */
export default class DriverEventReceiver {
  constructor(private readonly sink: SessionObserverSink) {}

  /** The operation object exists: its start RPC was already observed, at the time it was sent. */
  emitStatementStart(): void {}

  /** The caller closed the statement. */
  emitStatementComplete(fields: DriverStatementFields): void {
    if (typeof fields?.statementId === 'string') {
      this.sink.observer.statementClosed(fields.statementId, Date.now());
    }
  }

  /** An operation method threw to the caller; the driver passes the error's name, never read beyond it. */
  emitError(fields: DriverErrorFields): void {
    if (typeof fields?.statementId === 'string') {
      this.sink.events.emitError({
        statementId: fields.statementId,
        errorName: ExceptionClassifier.safeName(fields.errorName),
        isTerminal: true,
      });
    }
  }

  /** A CloudFetch chunk the driver downloaded, with its time and size; inline result pages are left out. */
  emitCloudFetchChunk(fields: DriverChunkFields): void {
    if (typeof fields?.statementId === 'string' && 'compressed' in fields) {
      this.sink.observer.chunkDownloaded({
        statementId: fields.statementId,
        chunkIndex: count(fields.chunkIndex),
        latencyMs: count(fields.latencyMs),
        bytes: count(fields.bytes),
        time: Date.now(),
      });
    }
  }

  /** The connection opening is reported by the client, with the connection's parameters. */
  emitConnectionOpen(): void {}

  emitConnectionClose(fields: DriverSessionFields): void {
    if (typeof fields?.sessionId === 'string') {
      this.sink.sessionClosed(fields.sessionId);
    }
  }

  /** The driver's aggregator call after `emitStatementComplete`, which has done the work. */
  completeStatement(): void {}
}

/** A count or a duration from the driver: a finite number not below zero, else 0. */
function count(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : 0;
}
