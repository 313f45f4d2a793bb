import type IDBSQLSession from '@databricks/sql/dist/contracts/IDBSQLSession';
import type IOperation from '@databricks/sql/dist/contracts/IOperation';
import ExceptionClassifier from '../telemetry/ExceptionClassifier';
import TelemetryEventEmitter from '../telemetry/TelemetryEventEmitter';
import ThriftClientObserver from './ThriftClientObserver';
import quietly from './quietly';

/** Session methods that return an operation (a statement, in telemetry terms). */
const OPERATION_METHODS = [
  'executeStatement',
  'getTypeInfo',
  'getCatalogs',
  'getSchemas',
  'getTables',
  'getTableTypes',
  'getColumns',
  'getFunctions',
  'getPrimaryKeys',
  'getCrossReference',
] as const;

type AnyMethod = (...args: unknown[]) => Promise<unknown>;

/** What the session and operation wrappers report to. */
export interface SessionObserverSink {
  readonly observer: ThriftClientObserver;
  readonly emitter: TelemetryEventEmitter;
  sessionClosed(sessionId: string): void;
}

/**
 * Wraps, on the instance, the session methods whose timing and outcome only the caller sees:
 * when the application asked for a statement, when it closed it, what its fetches threw. Each
 * wrapper returns or throws exactly what the driver did.
 */
export function observeSession(session: IDBSQLSession, sink: SessionObserverSink): IDBSQLSession {
  const target = session as unknown as Record<string, AnyMethod>;
  for (const name of OPERATION_METHODS) {
    const original = target[name];
    if (typeof original !== 'function') {
      continue;
    }
    target[name] = async function observedOperationStart(this: unknown, ...args: unknown[]) {
      const calledAt = Date.now();
      const operation = (await original.apply(this, args)) as IOperation;
      try {
        sink.observer.setStartTime(operation.id, calledAt);
        observeOperation(operation, sink);
      } catch {
        // An odd operation object stays unobserved; the caller still gets it unchanged.
      }
      return operation;
    };
  }
  const close = target.close;
  if (typeof close === 'function') {
    target.close = async function observedSessionClose(this: unknown, ...args: unknown[]) {
      try {
        return await close.apply(this, args);
      } finally {
        quietly(() => sink.sessionClosed(session.id));
      }
    };
  }
  return session;
}

function observeOperation(operation: IOperation, sink: SessionObserverSink): void {
  const target = operation as unknown as Record<string, AnyMethod>;
  const statementId = operation.id;
  for (const name of ['close', 'cancel']) {
    const original = target[name];
    if (typeof original === 'function') {
      target[name] = async function observedOperationEnd(this: unknown, ...args: unknown[]) {
        try {
          return await original.apply(this, args);
        } finally {
          quietly(() => sink.observer.completeStatement(statementId, Date.now()));
        }
      };
    }
  }
  for (const name of ['fetchChunk', 'fetchAll']) {
    const original = target[name];
    if (typeof original === 'function') {
      target[name] = async function observedFetch(this: unknown, ...args: unknown[]) {
        try {
          return await original.apply(this, args);
        } catch (error) {
          quietly(() =>
            sink.emitter.emitError({ statementId, errorName: ExceptionClassifier.safeErrorName(error), isTerminal: true }),
          );
          throw error;
        }
      };
    }
  }
}
