import type IDBSQLSession from '@databricks/sql/dist/contracts/IDBSQLSession';
import ExceptionClassifier from '../telemetry/ExceptionClassifier';
import { TelemetryEventSink } from '../telemetry/TelemetryEventEmitter';
import quietly from './quietly';

/** Session methods that start a statement. */
export const STATEMENT_METHODS = [
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

/** How many Thrift calls the connection has sent so far: a call that sent none failed in the driver itself. */
export interface SentCalls {
  sentCalls(): number | undefined;
}

/**
 * Reports the statements that fail inside the driver before any Thrift call is sent (an invalid
 * parameter, a closed session): no RPC shows them, and the driver's own telemetry hook points
 * cover operations only. Each watched session's statement methods become own methods that settle
 * exactly as the driver's call did; a rejection with no Thrift call sent since the call began is
 * reported as an error of the session, by its class name. A failure after a call was sent is the
 * Thrift observer's to report, so it is never reported twice. `release()` gives every session its
 * own methods back.
 */
export default class SessionCallWatch {
  /** Each watched session, with the methods it had before: restored exactly on release. */
  private readonly sessions = new Map<IDBSQLSession, Array<{ name: string; method: unknown; own: boolean }>>();

  constructor(
    private readonly calls: SentCalls,
    private readonly events: TelemetryEventSink,
  ) {}

  watch(session: IDBSQLSession): IDBSQLSession {
    const target = session as unknown as Record<string, AnyMethod>;
    const { calls, events } = this;
    const originals: Array<{ name: string; method: unknown; own: boolean }> = [];
    for (const name of STATEMENT_METHODS) {
      const original = target[name];
      if (typeof original !== 'function') {
        continue;
      }
      originals.push({ name, method: original, own: Object.prototype.hasOwnProperty.call(session, name) });
      target[name] = function watchedStatementMethod(this: unknown, ...args: unknown[]) {
        const sentBefore = calls.sentCalls();
        return call(original, this, args).then(undefined, (error: unknown) => {
          quietly(() => {
            if (calls.sentCalls() === sentBefore) {
              events.emitError({
                sessionId: session.id,
                errorName: ExceptionClassifier.safeErrorName(error),
                isTerminal: true,
              });
            }
          });
          throw error;
        });
      };
    }
    this.sessions.set(session, originals);
    return session;
  }

  /** The session closed: nothing more to give back. */
  forget(sessionId: string): void {
    for (const session of this.sessions.keys()) {
      if (session.id === sessionId) {
        this.sessions.delete(session);
      }
    }
  }

  /** Gives every watched session the methods it had before. */
  release(): void {
    for (const [session, originals] of this.sessions) {
      const target = session as unknown as Record<string, unknown>;
      for (const { name, method, own } of originals) {
        if (own) {
          target[name] = method;
        } else {
          delete target[name];
        }
      }
    }
    this.sessions.clear();
  }
}

/** The method's result as a promise; a synchronous throw becomes a rejection, as from an async method. */
export function call(method: AnyMethod, self: unknown, args: unknown[]): Promise<unknown> {
  try {
    return Promise.resolve(method.apply(self, args));
  } catch (error) {
    return Promise.reject(error);
  }
}
