/**
 * Quick start: the one import. In an application it reads
 *   import { DBSQLClient } from 'dbsql-telemetry';
 * instead of `from '@databricks/sql'`; everything else in the code stays as it was.
 * Here the client talks to the local workspace emulator, so the example runs anywhere.
 *
 * Run: node -r ts-node/register/transpile-only examples/quickStart.ts
 */
import { DBSQLClient, DBSQLLogger, LogLevel } from '../lib';
import { startEmulator } from '../lib/emulator';

async function main(): Promise<void> {
  const emulator = await startEmulator();
  try {
    const client = new DBSQLClient({ logger: new DBSQLLogger({ level: LogLevel.error }) });
    // With a real workspace: { host: 'adb-123.azuredatabricks.net', path: '/sql/1.0/warehouses/abc', token }.
    await client.connect({ ...emulator.connectOptions(), telemetryEnabled: true });
    const session = await client.openSession();
    const operation = await session.executeStatement('SELECT * FROM range(5)');
    const rows = await operation.fetchAll();
    await operation.close();
    await session.close();
    await client.close(); // sends the pending telemetry

    console.log(`rows: ${JSON.stringify(rows)}`);
    const uploads = emulator.telemetry.requests();
    const logs = emulator.telemetry.logs();
    console.log(
      `telemetry: ${logs.length} logs in ${uploads.length} upload(s) to ${uploads.map((u) => u.path).join(', ')}`,
    );
    if (logs.length === 0) {
      process.exitCode = 1;
    }
  } finally {
    await emulator.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
