/**
 * Child-process script for the forward-proxy tests. With a proxy the driver does not apply
 * `customCaCert`, so a private CA can only come from NODE_EXTRA_CA_CERTS, which Node reads at
 * start: hence a process of its own.
 *
 * PROXIED_CLIENT is JSON `{ connect, options }`: connection options (host, port, path, token,
 * proxy) and telemetry options, spread into `connect()`. The script opens a session, runs two
 * queries and a failing statement, closes the session, then the client. It prints one JSON object
 * per line: `open` (session id); `sessionClosed`, after which it waits for a line on stdin (so the
 * parent can change what the proxy does before `client.close()`); then `result` (rows, error
 * messages, how long `client.close()` took), `logs` (every logger line) and any unhandled
 * `rejection`.
 */
import { writeSync } from 'fs';
import { createInterface } from 'readline';
import { DBSQLClient } from '../../lib';
import type { TelemetryConnectionOptions } from '../../lib';
import { RecordingLogger } from './harness';

const print = (value: Record<string, unknown>): void => {
  writeSync(1, `${JSON.stringify(value)}\n`);
};

const stdin = createInterface({ input: process.stdin });
const waiting: Array<() => void> = [];
let buffered = 0;
stdin.on('line', () => {
  const next = waiting.shift();
  if (next) {
    next();
  } else {
    buffered += 1;
  }
});
// A parent that ends stdin early must not leave this process waiting.
stdin.on('close', () => waiting.splice(0).forEach((next) => next()));

function nextLine(): Promise<void> {
  if (buffered > 0) {
    buffered -= 1;
    return Promise.resolve();
  }
  return new Promise((resolve) => waiting.push(resolve));
}

async function rowsOf(session: Awaited<ReturnType<DBSQLClient['openSession']>>, sql: string): Promise<unknown[]> {
  const operation = await session.executeStatement(sql);
  try {
    return await operation.fetchAll();
  } finally {
    await operation.close();
  }
}

async function main(): Promise<void> {
  const { connect, options } = JSON.parse(process.env.PROXIED_CLIENT ?? '{}') as { connect: object; options: object };
  const logger = new RecordingLogger();
  process.on('unhandledRejection', (reason) => print({ event: 'rejection', reason: String(reason) }));
  const rows: unknown[] = [];
  const errors: string[] = [];
  try {
    const client = new DBSQLClient({ logger });
    await client.connect({ ...connect, ...options } as TelemetryConnectionOptions);
    const session = await client.openSession();
    print({ event: 'open', sessionId: session.id });
    for (const sql of ['SELECT 1', 'SELECT * FROM range(3)']) {
      rows.push(await rowsOf(session, sql));
    }
    try {
      await rowsOf(session, 'SELECT a FROM missing_table');
    } catch (error) {
      errors.push((error as Error).message);
    }
    await session.close();
    print({ event: 'sessionClosed' });
    await nextLine();
    const started = Date.now();
    await client.close();
    print({ event: 'result', rows, errors, closeMs: Date.now() - started });
  } catch (error) {
    print({ event: 'failed', message: String(error) });
    process.exitCode = 1;
  } finally {
    print({ event: 'logs', lines: logger.lines });
    // An open stdin would keep this process alive after its work.
    stdin.close();
    process.stdin.destroy();
  }
}

main();
