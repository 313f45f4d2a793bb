import { readFileSync } from 'fs';
import { DBSQLClient as PlainDBSQLClient, DBSQLLogger, LogLevel } from '@databricks/sql';
import type IDBSQLClient from '@databricks/sql/dist/contracts/IDBSQLClient';
import type IDBSQLSession from '@databricks/sql/dist/contracts/IDBSQLSession';
import { DBSQLClient } from '../../lib';
import type { TelemetryOptions } from '../../lib';
import TelemetryClientProvider from '../../lib/telemetry/TelemetryClientProvider';
import BareHooksClient from './bareHooks';
import type { EmulatorEndpoint } from './emulatorProcess';
import { trustsEmulatorCa } from './emulatorTrust';

/**
 * `on`: our client with telemetry on; `off`: our client with `telemetryEnabled: false`;
 * `plain`: `@databricks/sql`'s own DBSQLClient with `telemetryEnabled: false`; `builtin`: the same
 * client with its own telemetry on; `hooks`: the plain client with forwarding hooks where our
 * adapter observes the driver (see bareHooks.ts).
 */
export type ClientKind = 'on' | 'off' | 'plain' | 'builtin' | 'hooks';

// One logger per process: each DBSQLLogger adds a process-wide exception listener.
let logger: DBSQLLogger | undefined;

function sharedLogger(): DBSQLLogger {
  logger ??= new DBSQLLogger({ level: LogLevel.error });
  return logger;
}

export interface BenchClientOptions {
  /** Telemetry options for the `on` and `builtin` kinds (e.g. a short flush interval). */
  telemetry?: TelemetryOptions;
  /** A private provider (fresh feature-flag cache and breaker) for the `on` kind. */
  provider?: TelemetryClientProvider;
}

export function createClient(kind: ClientKind, options: BenchClientOptions = {}): IDBSQLClient {
  if (kind === 'plain' || kind === 'builtin') {
    return new PlainDBSQLClient({ logger: sharedLogger() });
  }
  if (kind === 'hooks') {
    return new BareHooksClient({ logger: sharedLogger() });
  }
  return options.provider
    ? new DBSQLClient({ logger: sharedLogger() }, options.provider)
    : new DBSQLClient({ logger: sharedLogger() });
}

export function connectOptions(
  kind: ClientKind,
  endpoint: EmulatorEndpoint,
  options: BenchClientOptions = {},
): Record<string, unknown> {
  const base = {
    host: endpoint.host,
    port: endpoint.port,
    path: endpoint.path,
    token: endpoint.token,
    // A process that trusts the emulator's CA (NODE_EXTRA_CA_CERTS) connects as to a workspace with a public CA.
    ...(trustsEmulatorCa(endpoint.caPath) ? {} : { customCaCert: readFileSync(endpoint.caPath) }),
  };
  if (kind === 'on') {
    return { ...base, telemetryEnabled: true, ...options.telemetry };
  }
  if (kind === 'builtin') {
    // The built-in reads the same option names where they exist.
    return { ...base, telemetryEnabled: true, ...options.telemetry };
  }
  return { ...base, telemetryEnabled: false };
}

export async function connect(
  kind: ClientKind,
  endpoint: EmulatorEndpoint,
  options: BenchClientOptions = {},
): Promise<IDBSQLClient> {
  const client = createClient(kind, options);
  await client.connect(connectOptions(kind, endpoint, options) as unknown as Parameters<IDBSQLClient['connect']>[0]);
  return client;
}

/** Runs one statement to completion, as an application would: execute, fetch every row, close. */
export async function runQuery(session: IDBSQLSession, sql: string): Promise<number> {
  const operation = await session.executeStatement(sql);
  try {
    const rows = await operation.fetchAll();
    return rows.length;
  } finally {
    await operation.close();
  }
}

/** No DATABRICKS_TELEMETRY_* variable leaks into a measured child from the caller's shell. */
export function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('DATABRICKS_TELEMETRY')) {
      env[key] = value;
    }
  }
  return env;
}
