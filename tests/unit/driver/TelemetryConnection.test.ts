import { expect } from 'chai';
import sinon from 'sinon';
import type IConnectionProvider from '@databricks/sql/dist/connection/contracts/IConnectionProvider';
import type IDBSQLSession from '@databricks/sql/dist/contracts/IDBSQLSession';
import TelemetryConnection from '../../../lib/driver/TelemetryConnection';
import type { FeatureFlagAnswer } from '../../../lib/telemetry/FeatureFlagCache';
import type TelemetryClient from '../../../lib/telemetry/TelemetryClient';
import type TelemetryClientProvider from '../../../lib/telemetry/TelemetryClientProvider';
import { ConnectionParameters, DEFAULT_TELEMETRY_CONFIG, TelemetryLog } from '../../../lib/telemetry/types';
import DriverThriftClientStub, {
  OK_STATUS,
  makeGuid,
  operationHandle,
  sessionHandle,
  uuidOf,
} from '../.stubs/DriverThriftClientStub';
import LoggerStub from '../.stubs/LoggerStub';
import { makeTarget } from '../.stubs/TelemetryTargetStub';

const T0 = 1_760_000_000_000;
const TTL_MS = 15 * 60 * 1000;
const SESSION = makeGuid(1);
const OP = makeGuid(10);

type Rpcs = Record<string, (request: unknown, callback: (error: unknown, response: unknown) => void) => unknown>;

/** The shared client as the connection sees it: what it enqueues, and the flag's answers in turn. */
class FakeSharedClient {
  readonly logs: TelemetryLog[] = [];

  readonly answers: FeatureFlagAnswer[] = [];

  asked = 0;

  enqueue(log: TelemetryLog): void {
    this.logs.push(log);
  }

  async featureFlagAnswer(): Promise<FeatureFlagAnswer> {
    this.asked += 1;
    return this.answers.shift() ?? { state: 'enabled', expiresAt: Date.now() + TTL_MS };
  }

  async flush(): Promise<void> {}
}

const isOwn = (target: object, name: string) => Object.prototype.hasOwnProperty.call(target, name);

describe('TelemetryConnection', () => {
  let clock: sinon.SinonFakeTimers;
  let logger: LoggerStub;
  let shared: FakeSharedClient;
  let released: number;
  let connection: TelemetryConnection;
  let thrift: DriverThriftClientStub;

  beforeEach(() => {
    clock = sinon.useFakeTimers({ now: T0 });
    logger = new LoggerStub();
    shared = new FakeSharedClient();
    released = 0;
    const provider = {
      getOrCreateClient: () => shared as unknown as TelemetryClient,
      releaseClient: async () => {
        released += 1;
      },
    } as unknown as TelemetryClientProvider;
    const connectionProvider = {
      getAgent: async () => undefined,
      getRetryPolicy: async () => ({}),
    } as unknown as IConnectionProvider;
    connection = new TelemetryConnection({
      config: { ...DEFAULT_TELEMETRY_CONFIG, enabled: true },
      logger,
      connectionProvider,
      target: makeTarget(),
      authType: 'pat',
      connectionParams: {} as ConnectionParameters,
      provider,
      driverReportsEvents: true,
    });
    thrift = new DriverThriftClientStub();
  });

  afterEach(async () => {
    await connection.close();
    clock.restore();
    sinon.restore();
  });

  /** Opens a session, as DBSQLClient does: Thrift client observed, then the session reported. */
  async function openSession(): Promise<void> {
    connection.observeThriftClient(thrift);
    connection.sessionOpened({ id: uuidOf(SESSION) } as unknown as IDBSQLSession, Date.now());
    await clock.tickAsync(0);
  }

  /** Runs one statement through the Thrift client and closes it, as the driver would. */
  async function statement(op = OP): Promise<void> {
    thrift.reply('ExecuteStatement', { response: { status: OK_STATUS, operationHandle: operationHandle(op) } });
    (thrift as unknown as Rpcs).ExecuteStatement(
      { sessionHandle: sessionHandle(SESSION), statement: 'SELECT 1' },
      () => undefined,
    );
    await clock.tickAsync(0);
    connection.driverEvents?.emitStatementComplete({ statementId: uuidOf(op) });
    connection.events.deliver();
  }

  const statementLogs = () => shared.logs.filter((log) => log.kind === 'statement');

  describe('the workspace feature flag', () => {
    it('observes the driver while the flag is on, and builds a log per statement', async () => {
      await openSession();
      await statement();
      expect(connection.driverEvents).not.to.equal(undefined);
      expect(isOwn(thrift, 'ExecuteStatement')).to.equal(true);
      expect(statementLogs()).to.have.length(1);
    });

    it('stops observing once the flag answers off: no emitter for the driver, the Thrift client as it was, no logs', async () => {
      shared.answers.push({ state: 'disabled', expiresAt: T0 + TTL_MS });
      await openSession();
      expect(connection.driverEvents).to.equal(undefined);
      expect(isOwn(thrift, 'ExecuteStatement')).to.equal(false);
      expect(isOwn(thrift, 'GetOperationStatus')).to.equal(false);
      const before = shared.logs.length;
      await statement();
      expect(shared.logs.length).to.equal(before);
      expect(logger.has(/feature flag is off; not observing the driver for 900000 ms/)).to.equal(true);
      expect(logger.aboveDebug()).to.deep.equal([]);
    });

    it('observes again when the answer expires, and asks the flag again', async () => {
      shared.answers.push({ state: 'disabled', expiresAt: T0 + TTL_MS });
      await openSession();
      expect(shared.asked).to.equal(1);
      await clock.tickAsync(TTL_MS - 1);
      expect(connection.driverEvents).to.equal(undefined);
      await clock.tickAsync(1);
      expect(shared.asked).to.equal(2);
      expect(connection.driverEvents).not.to.equal(undefined);
      expect(isOwn(thrift, 'ExecuteStatement')).to.equal(true);
      await statement();
      expect(statementLogs()).to.have.length(1);
    });

    it('goes idle again when the new answer is still off', async () => {
      shared.answers.push(
        { state: 'disabled', expiresAt: T0 + TTL_MS },
        { state: 'disabled', expiresAt: T0 + 2 * TTL_MS },
      );
      await openSession();
      await clock.tickAsync(TTL_MS);
      expect(shared.asked).to.equal(2);
      expect(connection.driverEvents).to.equal(undefined);
      expect(isOwn(thrift, 'ExecuteStatement')).to.equal(false);
    });

    it('ends what was open when it goes idle, and a later close sets nothing up again', async () => {
      let answer: (value: FeatureFlagAnswer) => void = () => undefined;
      shared.answers.length = 0;
      shared.featureFlagAnswer = () =>
        new Promise((resolve) => {
          answer = resolve;
        });
      await openSession();
      thrift.reply('ExecuteStatement', { response: { status: OK_STATUS, operationHandle: operationHandle(OP) } });
      (thrift as unknown as Rpcs).ExecuteStatement(
        { sessionHandle: sessionHandle(SESSION), statement: 'SELECT 1' },
        () => undefined,
      );
      await clock.tickAsync(0);
      answer({ state: 'disabled', expiresAt: T0 + TTL_MS });
      await clock.tickAsync(0);
      expect(statementLogs().map((log) => log.statementId)).to.deep.equal([uuidOf(OP)]);
      await connection.close();
      expect(released).to.equal(1);
      expect(clock.countTimers()).to.equal(0);
    });

    it('leaves no timer behind when closed while idle', async () => {
      shared.answers.push({ state: 'disabled', expiresAt: T0 + TTL_MS });
      await openSession();
      expect(clock.countTimers()).to.equal(1);
      await connection.close();
      expect(clock.countTimers()).to.equal(0);
      await clock.tickAsync(TTL_MS);
      expect(isOwn(thrift, 'ExecuteStatement')).to.equal(false);
    });
  });
});
