/**
 * Custom batching: how many logs go in one upload, how long a log may wait, and how long
 * `close()` may spend sending what is left. Every option also has an environment variable
 * (`DATABRICKS_TELEMETRY_BATCH_SIZE`, `DATABRICKS_TELEMETRY_FLUSH_INTERVAL_MS`, ...); options
 * given to `connect()` win over those given to the client, which win over the environment.
 *
 * Run: node -r ts-node/register/transpile-only examples/customBatching.ts
 */
import { DBSQLClient, DBSQLLogger, LogLevel } from '../lib';
import { startEmulator } from '../lib/emulator';

const BATCH_SIZE = 4;

async function main(): Promise<void> {
  const emulator = await startEmulator();
  try {
    const client = new DBSQLClient({
      logger: new DBSQLLogger({ level: LogLevel.error }),
      // Client-wide defaults...
      telemetryFlushIntervalMs: 200, // a log waits at most 200 ms (default 5000)
      telemetryMaxQueueSize: 500, // logs held while the endpoint is slow; beyond it they are dropped
    });
    await client.connect({
      ...emulator.connectOptions(),
      telemetryEnabled: true,
      // ...and per connection.
      telemetryBatchSize: BATCH_SIZE, // a full batch is sent at once (default 100)
      telemetryCloseTimeoutMs: 1000, // close() spends at most 1 s flushing (default 2000)
    });
    const session = await client.openSession();
    for (let i = 0; i < 10; i += 1) {
      const operation = await session.executeStatement(`SELECT ${i}`);
      await operation.fetchAll();
      await operation.close();
    }
    // Wait past one flush interval: whatever did not fill a batch goes on the timer.
    await new Promise((resolve) => setTimeout(resolve, 400));
    const beforeClose = emulator.telemetry.requests().length;
    await session.close();
    await client.close();

    const uploads = emulator.telemetry.requests();
    uploads.forEach((upload, i) => console.log(`upload ${i + 1}: ${upload.logs.length} logs`));
    console.log(`${uploads.length} uploads (${beforeClose} before close()), at most ${BATCH_SIZE} logs each`);
    if (uploads.length === 0 || uploads.some((upload) => upload.logs.length > BATCH_SIZE)) {
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
