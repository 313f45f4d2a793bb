/**
 * Opting out of telemetry, two ways:
 *   1. per client or connection: `telemetryEnabled: false`;
 *   2. for the whole process, whatever the code says: `DATABRICKS_TELEMETRY_DISABLED=1`.
 * Either way nothing is uploaded and not even the feature flag is fetched.
 *
 * Run: node -r ts-node/register/transpile-only examples/optOut.ts
 */
import { DBSQLClient, DBSQLLogger, LogLevel } from '../lib';
import { Emulator, startEmulator } from '../lib/emulator';

const logger = new DBSQLLogger({ level: LogLevel.error });

async function runQuery(emulator: Emulator, telemetryEnabled: boolean): Promise<void> {
  const client = new DBSQLClient({ logger });
  await client.connect({ ...emulator.connectOptions(), telemetryEnabled });
  const session = await client.openSession();
  const operation = await session.executeStatement('SELECT 1');
  await operation.fetchAll();
  await operation.close();
  await session.close();
  await client.close();
}

function report(emulator: Emulator, label: string): boolean {
  const counts = emulator.requestCounts();
  const uploads = counts.telemetryExt + counts.telemetryUnauth;
  console.log(`${label}: ${uploads} telemetry uploads, ${counts.featureFlags} feature-flag requests`);
  emulator.telemetry.clear();
  emulator.resetRequestCounts();
  return uploads === 0 && counts.featureFlags === 0;
}

async function main(): Promise<void> {
  const emulator = await startEmulator();
  try {
    // 1. In code.
    await runQuery(emulator, false);
    const inCode = report(emulator, 'telemetryEnabled: false');

    // 2. In the environment: wins even over `telemetryEnabled: true`.
    //    Usually set outside the process: DATABRICKS_TELEMETRY_DISABLED=1 node app.js
    process.env.DATABRICKS_TELEMETRY_DISABLED = '1';
    try {
      await runQuery(emulator, true);
    } finally {
      delete process.env.DATABRICKS_TELEMETRY_DISABLED;
    }
    const inEnv = report(emulator, 'DATABRICKS_TELEMETRY_DISABLED=1 (with telemetryEnabled: true)');

    // For contrast: the same code with telemetry on.
    await runQuery(emulator, true);
    const on = emulator.requestCounts().telemetryExt;
    console.log(`telemetryEnabled: true: ${on} telemetry upload(s)`);

    if (!inCode || !inEnv || on === 0) {
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
