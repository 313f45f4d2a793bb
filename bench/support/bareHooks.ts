/**
 * The floor under any telemetry built on these hook points: the plain driver's client with a hook
 * at each point our adapter uses on drivers from 1.15, every hook forwarding and recording nothing.
 * - the Thrift client, once its first session is open: its observed RPCs become own methods, set
 *   once, that give the driver's callback a callback of their own;
 * - the driver's own telemetry hook points: the client answers `getTelemetryEmitter()` and
 *   `getTelemetryAggregator()` with an object whose methods do nothing, so the driver builds the
 *   fields of each event it would report, as it does for any telemetry there.
 * Paired against the plain telemetry-off client, this is what the hooks cost before telemetry
 * records anything.
 */
import { DBSQLClient as PlainDBSQLClient } from '@databricks/sql';
import type { OpenSessionRequest } from '@databricks/sql/dist/contracts/IDBSQLClient';
import type IDBSQLSession from '@databricks/sql/dist/contracts/IDBSQLSession';
import type IThriftClient from '@databricks/sql/dist/contracts/IThriftClient';
import { OBSERVED_RPCS } from '../../lib/driver/thriftMappings';

type Callback = (error: unknown, response: unknown) => void;
type Rpc = (request: unknown, callback?: Callback) => unknown;

const doNothing = (): void => undefined;

/** Every method the driver calls on its telemetry emitter and aggregator. */
const SILENT_RECEIVER = {
  emitStatementStart: doNothing,
  emitStatementComplete: doNothing,
  emitError: doNothing,
  emitCloudFetchChunk: doNothing,
  emitConnectionOpen: doNothing,
  emitConnectionClose: doNothing,
  completeStatement: doNothing,
};

type Receiver = ReturnType<PlainDBSQLClient['getTelemetryEmitter']>;
type Aggregator = ReturnType<PlainDBSQLClient['getTelemetryAggregator']>;

export default class BareHooksClient extends PlainDBSQLClient {
  private hooked = false;

  async openSession(request?: OpenSessionRequest): Promise<IDBSQLSession> {
    const session = await super.openSession(request);
    if (!this.hooked) {
      hookClient(await super.getClient());
      this.hooked = true;
    }
    return session;
  }

  getTelemetryEmitter(): Receiver {
    return SILENT_RECEIVER as unknown as Receiver;
  }

  getTelemetryAggregator(): Aggregator {
    return SILENT_RECEIVER as unknown as Aggregator;
  }
}

function hookClient(client: IThriftClient): void {
  const rpcs = client as unknown as Record<string, Rpc>;
  for (const name of OBSERVED_RPCS) {
    const rpc = rpcs[name];
    rpcs[name] = function hookedRpc(this: unknown, request: unknown, callback?: Callback) {
      return rpc.call(this, request, (error: unknown, response: unknown) => callback?.(error, response));
    };
  }
}
