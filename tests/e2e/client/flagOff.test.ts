import { expect } from 'chai';
import { DBSQLClient } from '../../../lib';
import { Emulator, startEmulator } from '../../../lib/emulator';
import { connectClient, RecordingLogger, runQuery, waitFor } from '../../support/harness';

const RPCS = ['ExecuteStatement', 'GetOperationStatus', 'GetResultSetMetadata', 'FetchResults', 'GetCatalogs'];

describe('client e2e: with the workspace feature flag off, the connection idles', () => {
  let emulator: Emulator;
  let client: DBSQLClient | undefined;

  before(async () => {
    emulator = await startEmulator({ featureFlag: { enabled: false } });
  });

  afterEach(async () => {
    await client?.close();
    client = undefined;
  });

  after(async () => {
    await emulator.close();
  });

  /** The connection's Thrift client, as the driver holds it. */
  async function thriftClientOf(connected: DBSQLClient): Promise<object> {
    return (await connected.getClient()) as object;
  }

  it('observes nothing once the flag answered off: no emitter for the driver, the Thrift client as it was, no upload', async () => {
    const logger = new RecordingLogger();
    client = await connectClient(emulator, { logger });
    const session = await client.openSession();
    const connected = client;
    await waitFor(() => connected.getTelemetryEmitter() === undefined);
    expect(client.getTelemetryEmitter()).to.equal(undefined);
    expect(client.getTelemetryAggregator()).to.equal(undefined);
    const thrift = await thriftClientOf(client);
    expect(RPCS.filter((name) => Object.prototype.hasOwnProperty.call(thrift, name))).to.deep.equal([]);

    for (let i = 0; i < 5; i += 1) {
      expect((await runQuery(session, '/* emulator: direct=off */ SELECT 1')).rows).to.deep.equal([{ 1: 1 }]);
    }
    await session.close();
    await client.close();
    client = undefined;
    expect(emulator.requestCounts().featureFlags).to.equal(1);
    expect(emulator.telemetry.requests()).to.deep.equal([]);
    expect(logger.lines.some((line) => /feature flag is off; not observing the driver/.test(line.message))).to.equal(
      true,
    );
    expect(logger.aboveDebug().filter((line) => /telemetry/i.test(line.message))).to.deep.equal([]);
  });

  it('observes as usual when the flag is on (the same checks, the other way)', async () => {
    emulator.featureFlag.set(true);
    try {
      client = await connectClient(emulator);
      const session = await client.openSession();
      await runQuery(session, 'SELECT 1');
      expect(client.getTelemetryEmitter()).not.to.equal(undefined);
      const thrift = await thriftClientOf(client);
      expect(RPCS.filter((name) => Object.prototype.hasOwnProperty.call(thrift, name))).to.deep.equal(RPCS);
      await session.close();
    } finally {
      emulator.featureFlag.set(false);
    }
  });
});
