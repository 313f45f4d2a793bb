import type IDBSQLSession from '@databricks/sql/dist/contracts/IDBSQLSession';
import type IOperation from '@databricks/sql/dist/contracts/IOperation';
import ExceptionClassifier from '../telemetry/ExceptionClassifier';
import quietly from './quietly';
import type { SessionObserverSink } from './contracts/SessionObserverSink';
import { call, STATEMENT_METHODS } from './SessionCallWatch';

type AnyMethod = (...args: unknown[]) => Promise<unknown>;

/**
 * Wraps, on the instance, the session methods whose timing and outcome only the caller sees:
 * when the application asked for a statement, when it closed it, what its fetches threw. Each
 * wrapper settles exactly as the driver's call did, with the same value or error. The wrappers
 * chain on the driver's promise instead of being async functions, which would add a suspended
 * frame and a promise to every call of every statement.
 */
export function observeSession(session: IDBSQLSession, sink: SessionObserverSink): IDBSQLSession {
  const target = session as unknown as Record<string, AnyMethod>;
  for (const name of STATEMENT_METHODS) {
    const original = target[name];
    if (typeof original !== 'function') {
      continue;
    }
    target[name] = function observedOperationStart(this: unknown, ...args: unknown[]) {
      const calledAt = Date.now();
      return call(original, this, args).then((operation) => {
        quietly(() => observeOperation(operation as IOperation, sink, calledAt));
        return operation;
      });
    };
  }
  const close = target.close;
  if (typeof close === 'function') {
    target.close = function observedSessionClose(this: unknown, ...args: unknown[]) {
      return settled(call(close, this, args), () => sink.sessionClosed(session.id));
    };
  }
  return session;
}

/** The operation methods the adapter wraps, as the wrappers see them. */
interface OperationMethods {
  close: AnyMethod;
  cancel: AnyMethod;
  fetchChunk: AnyMethod;
  fetchAll: AnyMethod;
}

/**
 * Runs once per statement, so each method is read and set by name: a loop over method names
 * makes every read and store a keyed, megamorphic one that V8 resolves in its runtime.
 */
function observeOperation(operation: IOperation, sink: SessionObserverSink, calledAt: number): void {
  const target = operation as unknown as OperationMethods;
  // Read once: the driver's getter formats the GUID again on every read.
  const statementId = operation.id;
  sink.observer.setStartTime(statementId, calledAt);
  const complete = () => sink.observer.statementClosed(statementId, Date.now());
  const failed = (error: unknown) =>
    sink.events.emitError({ statementId, errorName: ExceptionClassifier.safeErrorName(error), isTerminal: true });
  if (typeof target.close === 'function') {
    target.close = observedEnd(target.close, complete);
  }
  if (typeof target.cancel === 'function') {
    target.cancel = observedEnd(target.cancel, complete);
  }
  if (typeof target.fetchChunk === 'function') {
    target.fetchChunk = observedFetch(target.fetchChunk, failed);
  }
  if (typeof target.fetchAll === 'function') {
    target.fetchAll = observedFetch(target.fetchAll, failed);
  }
}

/** `close` or `cancel`: the statement is complete once the driver's call settles, either way. */
function observedEnd(original: AnyMethod, complete: () => void): AnyMethod {
  return function observedOperationEnd(this: unknown, ...args: unknown[]) {
    return settled(call(original, this, args), complete);
  };
}

/** `fetchChunk` or `fetchAll`: what they throw is reported, and thrown on unchanged. */
function observedFetch(original: AnyMethod, failed: (error: unknown) => void): AnyMethod {
  return function observedFetchCall(this: unknown, ...args: unknown[]) {
    return call(original, this, args).then(undefined, (error: unknown) => {
      quietly(() => failed(error));
      throw error;
    });
  };
}

/** Settles as `promise` does, after running `observe` quietly either way. */
function settled(promise: Promise<unknown>, observe: () => void): Promise<unknown> {
  return promise.then(
    (value) => {
      quietly(observe);
      return value;
    },
    (error: unknown) => {
      quietly(observe);
      throw error;
    },
  );
}
