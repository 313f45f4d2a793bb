/**
 * Child-process script for the "a process that forgets close() still exits" test: connects to
 * the emulator named by EMULATOR_CONNECT (JSON of `emulator.connectOptions()`), runs a query,
 * prints `done`, and never closes the operation, the session or the client.
 * TELEMETRY=on|off chooses whether our telemetry runs. Prints the session id, so the parent can
 * tell that telemetry really ran (the connection log is uploaded while the query runs).
 * CLOSE=unawaited calls `client.close()` after `done` without awaiting it (close deadline 300 ms).
 * On its 'exit' event it prints `exit-after-work <ms>`, the time from `done` to exit measured
 * in-process, so the figure leaves out process teardown (and a coverage dump under c8).
 */
import { writeSync } from 'fs';
import { performance } from 'perf_hooks';
import { DBSQLClient } from '../../lib';
import type { TelemetryConnectionOptions } from '../../lib';
import { RecordingLogger } from './harness';

async function main(): Promise<void> {
  const connect = JSON.parse(process.env.EMULATOR_CONNECT ?? '{}') as Record<string, unknown>;
  const telemetry = process.env.TELEMETRY === 'on';
  const client = new DBSQLClient({ logger: new RecordingLogger() });
  await client.connect({
    ...connect,
    telemetryEnabled: telemetry,
    telemetryFlushIntervalMs: 60000,
    telemetryCloseTimeoutMs: 300,
  } as TelemetryConnectionOptions);
  const session = await client.openSession();
  const operation = await session.executeStatement('SELECT * FROM range(3)');
  const rows = await operation.fetchAll();
  process.stdout.write(`session ${session.id}\ndone ${rows.length}\n`);
  const doneAt = performance.now();
  process.on('exit', () => {
    writeSync(1, `exit-after-work ${Math.round(performance.now() - doneAt)}\n`);
  });
  if (process.env.CLOSE === 'unawaited') {
    void client.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`failed: ${String(error)}\n`);
  process.exitCode = 1;
});
