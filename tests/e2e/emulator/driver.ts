import { DBSQLClient, DBSQLLogger, LogLevel } from '@databricks/sql';
import { Emulator } from '../../../lib/emulator';

export type Session = Awaited<ReturnType<DBSQLClient['openSession']>>;

// One logger for every client: each DBSQLLogger adds a process-wide exception listener.
const logger = new DBSQLLogger({ level: LogLevel.error });

/** Connects the real driver to the emulator over TLS, with the driver's own telemetry off. */
export async function connect(
  emulator: Emulator,
  extra: Record<string, unknown> = {},
  config: Record<string, unknown> = {},
): Promise<DBSQLClient> {
  const client = new DBSQLClient({ logger });
  // Client-wide settings (arrowEnabled...) have no connect() option; the config object is live.
  Object.assign(client.getConfig(), config);
  await client.connect({ ...emulator.connectOptions(), telemetryEnabled: false, ...extra } as Parameters<
    DBSQLClient['connect']
  >[0]);
  return client;
}

/** Opens a session, runs `body`, and always closes session and client. */
export async function withSession<R>(
  emulator: Emulator,
  body: (session: Session) => Promise<R>,
  config?: Record<string, unknown>,
): Promise<R> {
  const client = await connect(emulator, {}, config);
  try {
    const session = await client.openSession();
    try {
      return await body(session);
    } finally {
      await session.close();
    }
  } finally {
    await client.close();
  }
}

/** Runs one statement to completion and returns its rows. */
export async function query(
  session: Session,
  sql: string,
  options: Record<string, unknown> = {},
): Promise<Record<string, unknown>[]> {
  const operation = await session.executeStatement(sql, options);
  try {
    return (await operation.fetchAll()) as Record<string, unknown>[];
  } finally {
    await operation.close();
  }
}

/** The Thrift result metadata; `getMetadata` exists on the driver's operations but not on `IOperation`. */
export function resultMetadata(operation: object): Promise<{ resultFormat?: number; lz4Compressed?: boolean }> {
  return (operation as { getMetadata(): Promise<{ resultFormat?: number; lz4Compressed?: boolean }> }).getMetadata();
}
