/**
 * Telemetry's cost per statement beside the driver's own: one process holds three warm clients on
 * one emulator and runs their statements in rotation, charging each statement with the main
 * thread's CPU while it ran. For an anchor row the three are the plain driver (P), a second plain
 * driver (Q, the control) and the client under test (X: the driver's built-in telemetry or ours):
 * X - P is the subject's cost, and Q - P, what two identical clients differ by, is taken off it.
 * Head to head they are the plain driver, the built-in and ours: ours - built-in, rotation by
 * rotation in one process, leaves out what differs from one process to the next. The rotations
 * cycle through all six orders of the three clients, so each runs first, second and last equally
 * often and no position's cost (a cold cache, the previous client's garbage) falls on one of them.
 *
 * The built-in refuses loopback host names and always uploads to port 443, so the emulator listens
 * on port 443 of a loopback address and the clients connect to a name under `.emulator.test`,
 * which this process alone resolves to that address. Argument: JSON `AnchorSpec`. Prints one JSON
 * line (`AnchorOutput`).
 */
import type IDBSQLClient from '@databricks/sql/dist/contracts/IDBSQLClient';
import type IDBSQLSession from '@databricks/sql/dist/contracts/IDBSQLSession';
import { ClientKind, connect, runQuery } from '../support/clients';
import type { EmulatorEndpoint } from '../support/emulatorProcess';
import { mainThreadClock } from '../support/clock';
import { resolveTo } from '../support/loopbackName';
import { round } from '../support/stats';

export interface AnchorSpec {
  endpoint: EmulatorEndpoint;
  /** The loopback address the endpoint's host name stands for. */
  address: string;
  /** The three clients, in the order their times are reported. */
  clients: [ClientKind, ClientKind, ClientKind];
  /** [SQL, rotations] run before anything is measured, so every client's code is optimized. */
  jitWarmup: [string, number];
  /** Rotations before each measured case: its own result-handling code warms up. */
  warmup: number;
  /** Case name to [SQL, rotations]; a multiple of six runs every order equally often. */
  cases: Record<string, [string, number]>;
}

export interface AnchorSample {
  name: string;
  clock: string;
  /** CPU µs per statement of each of the spec's clients, in rotation order. */
  micros: [number[], number[], number[]];
}

export type AnchorOutput = AnchorSample[];

/**
 * Every order of the three clients: three rotations of one order, then three of its reverse, so
 * any three consecutive rotations already put each client in each position once.
 */
const ORDERS: ReadonlyArray<readonly number[]> = [
  [0, 1, 2],
  [2, 0, 1],
  [1, 2, 0],
  [2, 1, 0],
  [0, 2, 1],
  [1, 0, 2],
];

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2]) as AnchorSpec;
  resolveTo(spec.endpoint.host, spec.address);
  const [clock, cpu] = mainThreadClock();
  const clients: IDBSQLClient[] = [];
  for (const kind of spec.clients) {
    clients.push(await connect(kind, spec.endpoint));
  }
  const sessions = await Promise.all(clients.map((client) => client.openSession()));
  const rotate = async (sql: string, rotations: number, sample?: AnchorSample) => {
    for (let rotation = 0; rotation < rotations; rotation += 1) {
      const order = ORDERS[rotation % ORDERS.length];
      const times: number[] = [];
      for (const index of order) {
        const start = cpu();
        await runQuery(sessions[index] as IDBSQLSession, sql);
        times[index] = cpu() - start;
      }
      sample?.micros.forEach((micros, index) => micros.push(round(times[index], 1)));
    }
  };
  await rotate(...spec.jitWarmup);
  const output: AnchorOutput = [];
  for (const [name, [sql, rotations]] of Object.entries(spec.cases)) {
    await rotate(sql, spec.warmup);
    const sample: AnchorSample = { name, clock, micros: [[], [], []] };
    await rotate(sql, rotations, sample);
    output.push(sample);
  }
  for (const session of sessions) {
    await session.close();
  }
  await Promise.all(clients.map((client) => client.close()));
  process.stdout.write(`${JSON.stringify(output)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`anchor: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exitCode = 1;
});
