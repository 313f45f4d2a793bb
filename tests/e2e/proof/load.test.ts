import { expect } from 'chai';
import { Emulator, startEmulator } from '../../../lib/emulator';
import {
  getCredentialKey,
  normalizeHost,
  DRIVER_VERSION,
  telemetryUserAgent,
} from '../../../lib/driver/connectionFacts';
import TelemetryTarget from '../../../lib/telemetry/contracts/TelemetryTarget';
import TelemetryClientProvider from '../../../lib/telemetry/TelemetryClientProvider';
import { connectClient, countBy, RecordingLogger, RejectionWatch, waitFor } from './support';

const CLIENTS = 20;
const STATEMENTS = 200;

describe('proof: load, 20 clients x 200 statements on one host and token', function () {
  this.timeout(60000);

  let emulator: Emulator;

  before(async () => {
    emulator = await startEmulator();
  });

  after(async () => {
    await emulator?.close();
  });

  it('shares one telemetry client (ref count 20) and reports every statement exactly once', async () => {
    const provider = new TelemetryClientProvider();
    const logger = new RecordingLogger();
    const watch = new RejectionWatch();
    watch.install();
    try {
      const options = { telemetryEnabled: true, telemetryFlushIntervalMs: 50 };
      const clients = await Promise.all(
        Array.from({ length: CLIENTS }, () => connectClient({ emulator, logger, provider, options })),
      );
      const sessions = await Promise.all(clients.map((client) => client.openSession()));

      // The key the provider shares clients by: the host, port and a digest of the credential.
      const target: TelemetryTarget = {
        host: normalizeHost(emulator.host),
        port: emulator.port,
        userAgent: telemetryUserAgent(DRIVER_VERSION),
        driverVersion: DRIVER_VERSION,
        credentialKey: getCredentialKey({ ...emulator.connectOptions() }),
        getAuthHeaders: async () => ({}),
      };
      expect(provider.getRefCount(target), 'connections on the shared telemetry client').to.equal(CLIENTS);

      const statementIds: string[] = [];
      await Promise.all(
        sessions.map(async (session) => {
          for (let i = 0; i < STATEMENTS; i += 1) {
            const operation = await session.executeStatement('SELECT 1');
            expect(await operation.fetchAll()).to.deep.equal([{ 1: 1 }]);
            await operation.close();
            statementIds.push(operation.id.toLowerCase());
          }
        }),
      );
      expect(provider.getRefCount(target)).to.equal(CLIENTS);
      expect(new Set(statementIds).size).to.equal(CLIENTS * STATEMENTS);

      const reported = () =>
        emulator.telemetry
          .logs()
          .map(
            (log) =>
              (log as { entry?: { sql_driver_log?: { sql_statement_id?: string } } }).entry?.sql_driver_log
                ?.sql_statement_id,
          )
          .filter((id): id is string => typeof id === 'string');
      await waitFor(() => reported().length >= CLIENTS * STATEMENTS, 20000, 'every statement log');

      await Promise.all(sessions.map((session) => session.close()));
      await Promise.all(clients.map((client) => client.close()));
      expect(provider.getRefCount(target), 'released by every client').to.equal(0);

      const counts = countBy(reported());
      expect(counts.size, 'statements reported').to.equal(CLIENTS * STATEMENTS);
      expect(
        [...counts.values()].every((n) => n === 1),
        'each exactly once',
      ).to.equal(true);
      expect([...counts.keys()].sort()).to.deep.equal([...statementIds].sort());

      const all = emulator.telemetry.logs();
      const connectionLogs = all.length - CLIENTS * STATEMENTS;
      expect(connectionLogs, 'one connection log per client').to.equal(CLIENTS);
      const eventIds = countBy(all.map((log) => (log as { frontend_log_event_id: string }).frontend_log_event_id));
      expect(eventIds.size, 'distinct frontend_log_event_id').to.equal(all.length);
      // One shared client, one export at a time: uploads are batches, not one request per log.
      expect(emulator.requestCounts().telemetryExt).to.be.below(all.length / 5);
      expect(emulator.requestCounts().featureFlags, 'one flag fetch for the shared host').to.equal(1);
      expect(watch.reasons).to.deep.equal([]);
      expect(logger.lines.filter((line) => line.level !== 'debug' && /telemetry/i.test(line.message))).to.deep.equal(
        [],
      );
    } finally {
      watch.uninstall();
    }
  });
});
