/**
 * Upload cost per log for the driver's built-in telemetry and ours alike, measured where uploads
 * happen: a client runs a few dozen statements (fewer than a batch), then the process idles past
 * the flush interval while the telemetry serializes and uploads their logs, and the main thread's
 * CPU over that idle window is charged to the upload. A plain client's idle window after the same
 * statements is the control. The paired and anchor medians leave uploads out (one statement in a
 * hundred carries one); this puts a figure on them that needs nothing from either implementation's
 * insides. Argument: JSON `UploadIdleSpec`. Prints one JSON line (`UploadIdleResult`).
 */
import type IDBSQLSession from '@databricks/sql/dist/contracts/IDBSQLSession';
import { ClientKind, connect, runQuery } from '../support/clients';
import type { EmulatorEndpoint } from '../support/emulatorProcess';
import { mainThreadClock } from '../support/clock';
import { resolveTo } from '../support/loopbackName';
import { round } from '../support/stats';

export interface UploadIdleSpec {
  endpoint: EmulatorEndpoint;
  /** The loopback address the endpoint's host name stands for. */
  address: string;
  subject: Extract<ClientKind, 'builtin' | 'on'>;
  sql: string;
  /** Statements on each client before anything is measured. */
  warmup: number;
  /** Statements, and so logs, per upload: fewer than a batch, so the flush timer sends them. */
  logs: number;
  reps: number;
  /** Longer than the flush interval (both default to 5 s). */
  idleMs: number;
}

export interface UploadIdleResult {
  logs: number;
  /** Main-thread CPU µs over each idle window after the subject's statements, and after the plain client's. */
  subjectIdleMicros: number[];
  plainIdleMicros: number[];
}

async function idle(cpu: () => number, ms: number): Promise<number> {
  const start = cpu();
  await new Promise((resolve) => setTimeout(resolve, ms));
  return round(cpu() - start, 1);
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2]) as UploadIdleSpec;
  resolveTo(spec.endpoint.host, spec.address);
  const [, cpu] = mainThreadClock();
  const clients = [await connect(spec.subject, spec.endpoint), await connect('plain', spec.endpoint)];
  const [subject, plain] = (await Promise.all(clients.map((client) => client.openSession()))) as IDBSQLSession[];
  const run = async (session: IDBSQLSession, statements: number) => {
    for (let i = 0; i < statements; i += 1) {
      await runQuery(session, spec.sql);
    }
  };
  await run(subject, spec.warmup);
  await run(plain, spec.warmup);
  // What the warm-up queued goes out before the first measured window.
  await idle(cpu, spec.idleMs);
  const result: UploadIdleResult = { logs: spec.logs, subjectIdleMicros: [], plainIdleMicros: [] };
  for (let rep = 0; rep < spec.reps; rep += 1) {
    await run(subject, spec.logs);
    result.subjectIdleMicros.push(await idle(cpu, spec.idleMs));
    await run(plain, spec.logs);
    result.plainIdleMicros.push(await idle(cpu, spec.idleMs));
  }
  await subject.close();
  await plain.close();
  await Promise.all(clients.map((client) => client.close()));
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`uploadIdle: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exitCode = 1;
});
