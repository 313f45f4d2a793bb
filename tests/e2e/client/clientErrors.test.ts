import { expect } from 'chai';
import { DBSQLClient } from '../../../lib';
import { Emulator, startEmulator } from '../../../lib/emulator';
import TelemetryClientProvider from '../../../lib/telemetry/TelemetryClientProvider';
import {
  connectClient,
  driverLog,
  RecordingLogger,
  rejectionOf,
  runQuery,
  sleep,
  waitFor,
} from '../../support/harness';

/** Logs that carry an error and no statement: errors of a session, or of no session at all. */
function sessionErrorLogs(emulator: Emulator, sessionId: string) {
  return emulator.telemetry
    .logs()
    .map(driverLog)
    .filter(
      (log) => log.session_id === sessionId && log.sql_statement_id === undefined && log.error_info !== undefined,
    );
}

describe('client e2e: statements that fail inside the driver, before any Thrift call', () => {
  let emulator: Emulator;
  let client: DBSQLClient | undefined;

  before(async () => {
    emulator = await startEmulator();
  });

  afterEach(async () => {
    await client?.close();
    client = undefined;
  });

  after(async () => {
    await emulator.close();
  });

  it('reports a statement refused for its parameters once, by the error class, against its session', async () => {
    client = await connectClient(emulator);
    const session = await client.openSession();
    const thriftBefore = emulator.requestCounts().thrift;
    const error = await rejectionOf(
      session.executeStatement('SELECT :a, ?', { namedParameters: { a: 1 }, ordinalParameters: [2] } as Parameters<
        typeof session.executeStatement
      >[1]),
    );
    expect(emulator.requestCounts().thrift).to.equal(thriftBefore);
    const logs = await waitFor(() => sessionErrorLogs(emulator, session.id));
    expect(logs.map((log) => log.error_info?.error_name)).to.deep.equal([error.constructor.name]);
    expect(JSON.stringify(emulator.telemetry.logs())).not.to.include('ordinal and named');
    await session.close();
  });

  it('reports a statement on a closed session once, and nothing for a statement the server fails', async () => {
    client = await connectClient(emulator);
    const session = await client.openSession();
    await rejectionOf(runQuery(session, 'SELECT a FROM missing_table'));
    const { id } = session;
    await session.close();
    const error = await rejectionOf(session.executeStatement('SELECT 1'));
    const logs = await waitFor(() => sessionErrorLogs(emulator, id));
    await sleep(100);
    expect(sessionErrorLogs(emulator, id).map((log) => log.error_info?.error_name)).to.deep.equal([
      error.constructor.name,
    ]);
    expect(logs).to.have.length(1);
  });
});

describe('client e2e: a session open that cannot reach the host', () => {
  it('is not reported, and makes no telemetry request at all: the endpoint is on the same host', async () => {
    const emulator = await startEmulator();
    const options = emulator.connectOptions();
    await emulator.close();
    const logger = new RecordingLogger();
    const client = new DBSQLClient({ logger }, new TelemetryClientProvider());
    Object.assign(client.getConfig(), { retryMaxAttempts: 1 });
    await client.connect({ ...options, telemetryEnabled: true } as Parameters<DBSQLClient['connect']>[0]);
    const error = await rejectionOf(client.openSession());
    expect(String(error.code ?? error.message)).to.match(/ECONNREFUSED/);
    await client.close();
    expect(
      logger.lines.filter((line) => /failed before reaching the host \(FetchError\); not reported/.test(line.message)),
    ).to.have.length(1);
    expect(logger.lines.filter((line) => /feature flag|telemetry export/i.test(line.message))).to.deep.equal([]);
    expect(logger.aboveDebug().filter((line) => /telemetry/i.test(line.message))).to.deep.equal([]);
  });
});
