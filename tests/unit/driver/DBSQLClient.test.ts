import { expect } from 'chai';
import sinon from 'sinon';
import { DBSQLClient as DriverDBSQLClient } from '@databricks/sql';
import type IDBSQLSession from '@databricks/sql/dist/contracts/IDBSQLSession';
import DBSQLClient from '../../../lib/driver/DBSQLClient';
import ThriftClientObserver from '../../../lib/driver/ThriftClientObserver';
import TelemetryEventEmitter from '../../../lib/telemetry/TelemetryEventEmitter';
import ClientContextStub from '../.stubs/ClientContextStub';
import DriverThriftClientStub from '../.stubs/DriverThriftClientStub';
import { immediately } from '../.stubs/immediateQueue';

/** The part of a connection's telemetry that openSession() talks to (through the client's ClientTelemetry). */
interface FakeTelemetry {
  observer: ThriftClientObserver;
  opened: IDBSQLSession[];
  thriftClient?: object;
  sessionOpened(session: IDBSQLSession): IDBSQLSession;
  sessionOpenFailed(): void;
  needsThriftClient(): boolean;
  observeThriftClient(thriftClient: object): void;
}

describe('DBSQLClient, observing the Thrift client', () => {
  let context: ClientContextStub;
  let observer: ThriftClientObserver;
  let client: DBSQLClient;
  let thrift: DriverThriftClientStub;
  let getClient: sinon.SinonStub;
  const session = { id: 'session' } as unknown as IDBSQLSession;

  beforeEach(() => {
    context = new ClientContextStub();
    observer = new ThriftClientObserver(immediately(new TelemetryEventEmitter(context)), context.getLogger());
    client = new DBSQLClient({ logger: context.getLogger() });
    thrift = new DriverThriftClientStub();
    getClient = sinon.stub(DriverDBSQLClient.prototype, 'getClient').callsFake(() => Promise.resolve(thrift) as never);
    sinon.stub(DriverDBSQLClient.prototype, 'openSession').callsFake(() => Promise.resolve(session));
  });

  afterEach(() => {
    sinon.restore();
  });

  /** Connects the client's telemetry to `observer`, as connect() does when telemetry is on. */
  function telemetryOn(): FakeTelemetry {
    const telemetry: FakeTelemetry = {
      observer,
      opened: [],
      sessionOpened(opened) {
        telemetry.opened.push(opened);
        return opened;
      },
      sessionOpenFailed() {},
      needsThriftClient: () => telemetry.thriftClient === undefined,
      observeThriftClient(thriftClient) {
        telemetry.thriftClient = thriftClient;
        observer.observeClient(thriftClient);
      },
    };
    (client as unknown as { telemetry: { connection: FakeTelemetry } }).telemetry.connection = telemetry;
    return telemetry;
  }

  const isOwn = (target: object, name: string) => Object.prototype.hasOwnProperty.call(target, name);

  it('observes the Thrift client once the first session is open, before the caller gets the session', async () => {
    const telemetry = telemetryOn();
    expect(await client.openSession()).to.equal(session);
    expect(isOwn(thrift, 'ExecuteStatement')).to.equal(true);
    expect(observer.observesClient()).to.equal(true);
    expect(telemetry.opened).to.deep.equal([session]);
  });

  it('asks the driver for its Thrift client once per connection, not per session or per RPC', async () => {
    telemetryOn();
    await client.openSession();
    await client.openSession();
    expect(getClient.callCount).to.equal(1);
    expect(isOwn(client, 'getClient')).to.equal(false);
    expect(DBSQLClient.prototype.getClient).to.equal(DriverDBSQLClient.prototype.getClient);
  });

  it('observes nothing with telemetry off', async () => {
    expect(await client.openSession()).to.equal(session);
    expect(getClient.callCount).to.equal(0);
    expect(isOwn(thrift, 'ExecuteStatement')).to.equal(false);
  });

  it('still opens the session and reports it when the Thrift client cannot be had, logging at debug only', async () => {
    getClient.callsFake(() => Promise.reject(new Error('no client')) as never);
    const telemetry = telemetryOn();
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      expect(await client.openSession()).to.equal(session);
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).to.deep.equal([]);
      expect(telemetry.opened).to.deep.equal([session]);
      expect(observer.observesClient()).to.equal(false);
      expect(context.logger.has(/could not observe the Thrift client: no client/)).to.equal(true);
      // The driver itself logs its own creation at info level.
      expect(context.logger.aboveDebug().filter((entry) => /telemetry/i.test(entry.message))).to.deep.equal([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
