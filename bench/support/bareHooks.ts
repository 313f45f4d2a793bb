/**
 * The floor under any telemetry built on the driver's public surface: the plain driver's client
 * with a hook at each point our adapter uses, every hook forwarding and recording nothing.
 * - the Thrift client: its observed RPCs become own methods, set once, that give the driver's
 *   callback a callback of their own;
 * - the session's `executeStatement`: a reaction on the operation it returns;
 * - the operation's `close`, `cancel`, `fetchChunk` and `fetchAll`: a reaction on their outcome.
 * Paired against the plain telemetry-off client, this is what placing the hooks costs before
 * telemetry records anything.
 */
import { DBSQLClient as PlainDBSQLClient } from '@databricks/sql';
import type { OpenSessionRequest } from '@databricks/sql/dist/contracts/IDBSQLClient';
import type IDBSQLSession from '@databricks/sql/dist/contracts/IDBSQLSession';
import type IThriftClient from '@databricks/sql/dist/contracts/IThriftClient';
import { OBSERVED_RPCS } from '../../lib/driver/thriftMappings';
import type { OperationMethods } from '../../lib/driver/sessionObserver';

type AnyMethod = (...args: unknown[]) => Promise<unknown>;
type Callback = (error: unknown, response: unknown) => void;
type Rpc = (request: unknown, callback?: Callback) => unknown;

const passThrough = (value: unknown) => value;
const rethrow = (error: unknown) => {
  throw error;
};

export default class BareHooksClient extends PlainDBSQLClient {
  private hooked = false;

  getClient(): Promise<IThriftClient> {
    const client = super.getClient();
    if (!this.hooked) {
      client.then((thriftClient) => {
        hookClient(thriftClient);
        this.hooked = true;
      }, passThrough);
    }
    return client;
  }

  async openSession(request?: OpenSessionRequest): Promise<IDBSQLSession> {
    const session = await super.openSession(request);
    const target = session as unknown as Record<string, AnyMethod>;
    const executeStatement = target.executeStatement;
    target.executeStatement = function hookedExecute(this: unknown, ...args: unknown[]) {
      return executeStatement.apply(this, args).then(hookOperation);
    };
    return session;
  }
}

function hookClient(client: IThriftClient): void {
  const rpcs = client as unknown as Record<string, Rpc>;
  if (Object.prototype.hasOwnProperty.call(rpcs, 'ExecuteStatement')) {
    return;
  }
  for (const name of OBSERVED_RPCS) {
    const rpc = rpcs[name];
    rpcs[name] = function hookedRpc(this: unknown, request: unknown, callback?: Callback) {
      return rpc.call(this, request, (error: unknown, response: unknown) => callback?.(error, response));
    };
  }
}

/** Each method read and set by name, as the adapter does (see observeOperation in sessionObserver.ts). */
function hookOperation(operation: unknown): unknown {
  const target = operation as OperationMethods;
  target.close = hookedEnd(target.close);
  target.cancel = hookedEnd(target.cancel);
  target.fetchChunk = hookedFetch(target.fetchChunk);
  target.fetchAll = hookedFetch(target.fetchAll);
  return operation;
}

function hookedEnd(original: AnyMethod): AnyMethod {
  return function hookedOperationEnd(this: unknown, ...args: unknown[]) {
    return original.apply(this, args).then(passThrough, rethrow);
  };
}

function hookedFetch(original: AnyMethod): AnyMethod {
  return function hookedFetchCall(this: unknown, ...args: unknown[]) {
    return original.apply(this, args).then(undefined, rethrow);
  };
}
