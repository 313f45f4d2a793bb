import { expect } from 'chai';
import sinon from 'sinon';
import { DBSQLClient as DriverDBSQLClient } from '@databricks/sql';
import DBSQLClient from '../../../lib/driver/DBSQLClient';
import ThriftClientObserver from '../../../lib/driver/ThriftClientObserver';
import TelemetryEventEmitter from '../../../lib/telemetry/TelemetryEventEmitter';
import ClientContextStub from '../.stubs/ClientContextStub';
import DriverThriftClientStub from '../.stubs/DriverThriftClientStub';
import { immediately } from '../.stubs/immediateQueue';

type ClientWithTelemetry = { telemetry?: { observer: ThriftClientObserver } };

describe('DBSQLClient.getClient', () => {
  let observer: ThriftClientObserver;
  let client: DBSQLClient;

  beforeEach(() => {
    const context = new ClientContextStub();
    observer = new ThriftClientObserver(immediately(new TelemetryEventEmitter(context)), context.getLogger());
    client = new DBSQLClient({ logger: context.getLogger() });
  });

  afterEach(() => {
    sinon.restore();
  });

  /** Connects the client's telemetry to `observer`, as connect() does when telemetry is on. */
  function telemetryOn(): void {
    (client as unknown as ClientWithTelemetry).telemetry = { observer };
  }

  const isOwn = (thrift: object, name: string) => Object.prototype.hasOwnProperty.call(thrift, name);

  it("returns the driver's own promise, with the client observed by the time the caller's await resumes", async () => {
    const thrift = new DriverThriftClientStub();
    const driverPromise = Promise.resolve(thrift);
    sinon.stub(DriverDBSQLClient.prototype, 'getClient').returns(driverPromise as never);
    telemetryOn();
    const returned = client.getClient();
    expect(returned).to.equal(driverPromise);
    const resolved = await returned;
    expect(resolved).to.equal(thrift);
    expect(isOwn(thrift, 'ExecuteStatement')).to.equal(true);
    expect(observer.observesClient()).to.equal(true);
  });

  it('adds nothing to later calls once the client is observed', async () => {
    const thrift = new DriverThriftClientStub();
    sinon.stub(DriverDBSQLClient.prototype, 'getClient').callsFake(() => Promise.resolve(thrift) as never);
    telemetryOn();
    await client.getClient();
    const observeClient = sinon.spy(observer, 'observeClient');
    await client.getClient();
    await client.getClient();
    expect(observeClient.callCount).to.equal(0);
  });

  it('observes nothing with telemetry off', async () => {
    const thrift = new DriverThriftClientStub();
    const driverPromise = Promise.resolve(thrift);
    sinon.stub(DriverDBSQLClient.prototype, 'getClient').returns(driverPromise as never);
    expect(client.getClient()).to.equal(driverPromise);
    await driverPromise;
    expect(isOwn(thrift, 'ExecuteStatement')).to.equal(false);
  });

  it("hands the caller the driver's failure, and leaves no unhandled rejection", async () => {
    const failure = new Error('not connected');
    sinon.stub(DriverDBSQLClient.prototype, 'getClient').callsFake(() => Promise.reject(failure) as never);
    telemetryOn();
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      let caught: unknown;
      await client.getClient().catch((error: unknown) => (caught = error));
      expect(caught).to.equal(failure);
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).to.deep.equal([]);
      expect(observer.observesClient()).to.equal(false);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
