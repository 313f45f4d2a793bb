import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { parseArgs } from 'util';
import { Emulator, startEmulator } from '../emulator';

export const EMULATOR_USAGE = `Usage: dbsql-telemetry emulator [--port N] [--host H] [--token T]

Serves a local Databricks workspace over HTTPS (SQL warehouse, CloudFetch, feature flags,
telemetry collector) until interrupted. Control it with JSON under /emulator/...`;

export interface RunningEmulator {
  emulator: Emulator;
  /** The emulator's CA certificate, written for clients in other processes. */
  caPath: string;
  /** Closes the emulator and removes the CA file. */
  stop(): Promise<void>;
}

/** Starts the emulator from command-line arguments and prints how to connect to it. */
export async function startEmulatorCommand(args: string[], print: (line: string) => void): Promise<RunningEmulator> {
  const { values } = parseArgs({
    args,
    options: { port: { type: 'string' }, host: { type: 'string' }, token: { type: 'string' } },
  });
  const port = values.port === undefined ? 0 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`Invalid --port: ${values.port}`);
  }
  const emulator = await startEmulator({ port, host: values.host, token: values.token });
  const directory = mkdtempSync(join(tmpdir(), 'dbsql-telemetry-emulator-'));
  const caPath = join(directory, 'ca.pem');
  writeFileSync(caPath, emulator.ca);
  [
    'Databricks workspace emulator is running',
    `  host:        ${emulator.host}`,
    `  port:        ${emulator.port}`,
    `  path:        ${emulator.path}`,
    `  token:       ${emulator.token}`,
    `  CA file:     ${caPath}`,
    `  control API: ${emulator.url}/emulator`,
    'Connect with DBSQLClient.connect({ host, port, path, token, customCaCert: <CA file contents> }).',
    'Stop with Ctrl+C.',
  ].forEach((line) => print(line));
  return {
    emulator,
    caPath,
    stop: async () => {
      await emulator.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

/** `dbsql-telemetry emulator`: serves until SIGINT or SIGTERM. */
export async function emulatorCommand(args: string[]): Promise<void> {
  if (args.includes('--help') || args.includes('-h')) {
    console.log(EMULATOR_USAGE);
    return;
  }
  const running = await startEmulatorCommand(args, (line) => console.log(line));
  await new Promise<void>((resolve) => {
    const shutdown = () => {
      process.off('SIGINT', shutdown);
      process.off('SIGTERM', shutdown);
      running.stop().then(resolve, resolve);
    };
    process.on('SIGINT', shutdown);
    process.on('SIGTERM', shutdown);
  });
}
