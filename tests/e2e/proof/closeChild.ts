/**
 * Child-process script: connects to the emulator named by EMULATOR_CONNECT, runs a query with a
 * long flush interval, awaits `client.close()` and prints `closed <ms>` after it. Nothing else
 * keeps this process alive, so the line proves close() completes on its own.
 */
import { DBSQLClient } from '../../../lib';
import type { TelemetryConnectionOptions } from '../../../lib';
import { RecordingLogger } from './support';

async function main(): Promise<void> {
  const connect = JSON.parse(process.env.EMULATOR_CONNECT ?? '{}') as Record<string, unknown>;
  const client = new DBSQLClient({ logger: new RecordingLogger() });
  await client.connect({
    ...connect,
    telemetryEnabled: true,
    telemetryFlushIntervalMs: 60000,
    telemetryCloseTimeoutMs: 500,
  } as TelemetryConnectionOptions);
  const session = await client.openSession();
  const operation = await session.executeStatement('SELECT 1');
  await operation.fetchAll();
  await operation.close();
  await session.close();
  const started = Date.now();
  await client.close();
  process.stdout.write(`closed ${Date.now() - started}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`failed: ${String(error)}\n`);
  process.exitCode = 1;
});
