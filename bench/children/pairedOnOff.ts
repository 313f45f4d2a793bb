/**
 * The per-statement cost of telemetry, measured tightly: one process holds a telemetry-on and a
 * telemetry-off client and runs their statements one by one, alternately (ABBA), charging each
 * statement with the CPU of the process's main thread while it ran. Both sides of a pair run
 * within a few milliseconds on the same heap, so the machine's drift and the process's own state
 * cancel out; the median of the per-pair differences is telemetry's steady cost per statement.
 *
 * What it leaves out, by design: work that lands between statements or on rare statements
 * (uploads every 100 logs, garbage collection) is split between the two sides or dropped by the
 * median; the A/B figures across processes count it.
 *
 * The same pairing puts a floor under the figure: the plain driver with forwarding hooks where
 * our adapter observes it (bareHooks.ts), against the plain driver. Argument: JSON `PairedSpec`.
 * Prints one JSON line (`PairedOutput`).
 */
import { readFileSync } from 'fs';
import type IDBSQLSession from '@databricks/sql/dist/contracts/IDBSQLSession';
import { connect, runQuery } from '../support/clients';
import type { EmulatorEndpoint } from '../support/emulatorProcess';
import { cpuNow, median, medianSe } from '../support/stats';

export interface PairedSpec {
  endpoint: EmulatorEndpoint;
  /** Statements per side before measuring, per format. */
  warmup: number;
  /** Format name to [SQL, pairs]: telemetry on against off. */
  formats: Record<string, [string, number]>;
  /** [SQL, pairs]: the bare hooks (bareHooks.ts) against the plain driver. */
  floor: [string, number];
}

export interface PairedOutput {
  telemetry: PairedResult[];
  /** The hooks alone, recording nothing: `medianOn` is the hooked client, `medianOff` the plain driver. */
  floor: PairedResult;
}

export interface PairedResult {
  format: string;
  pairs: number;
  /** Where the CPU time came from: the main thread's scheduler statistics, or process.cpuUsage(). */
  clock: 'main thread' | 'process';
  medianOnMicros: number;
  medianOffMicros: number;
  /** Median of (on - off) over the pairs, and its standard error (from the MAD). */
  medianDiffMicros: number;
  diffSeMicros: number;
  /** 1 + medianDiff / medianOff. */
  ratio: number;
}

const SCHEDSTAT = `/proc/self/task/${process.pid}/schedstat`;

/** CPU time of this process's main thread in µs (Linux), so helper threads' noise stays out. */
function mainThreadMicros(): number {
  return Number(readFileSync(SCHEDSTAT, 'latin1').split(' ')[0]) / 1000;
}

function pickClock(): [PairedResult['clock'], () => number] {
  try {
    if (Number.isFinite(mainThreadMicros())) {
      return ['main thread', mainThreadMicros];
    }
  } catch {
    // Not Linux: the whole process's CPU is noisier but means the same.
  }
  return ['process', cpuNow];
}

async function timed(cpu: () => number, session: IDBSQLSession, sql: string): Promise<number> {
  const start = cpu();
  await runQuery(session, sql);
  return cpu() - start;
}

/** Runs `pairs` statements on each session alternately (ABBA: neither side always goes first). */
async function pairUp(
  cpu: () => number,
  [a, b]: [IDBSQLSession, IDBSQLSession],
  sql: string,
  pairs: number,
): Promise<{ aMicros: number[]; bMicros: number[]; diffs: number[] }> {
  const aMicros: number[] = [];
  const bMicros: number[] = [];
  const diffs: number[] = [];
  for (let pair = 0; pair < pairs; pair += 1) {
    const aFirst = pair % 2 === 0;
    const first = await timed(cpu, aFirst ? a : b, sql);
    const second = await timed(cpu, aFirst ? b : a, sql);
    const [aTime, bTime] = aFirst ? [first, second] : [second, first];
    aMicros.push(aTime);
    bMicros.push(bTime);
    diffs.push(aTime - bTime);
  }
  return { aMicros, bMicros, diffs };
}

function resultOf(
  format: string,
  clock: PairedResult['clock'],
  { aMicros, bMicros, diffs }: { aMicros: number[]; bMicros: number[]; diffs: number[] },
): PairedResult {
  const medianOffMicros = median(bMicros);
  const medianDiffMicros = median(diffs);
  return {
    format,
    pairs: diffs.length,
    clock,
    medianOnMicros: median(aMicros),
    medianOffMicros,
    medianDiffMicros,
    diffSeMicros: medianSe(diffs),
    ratio: 1 + medianDiffMicros / medianOffMicros,
  };
}

async function warm(sessions: IDBSQLSession[], sql: string, statements: number): Promise<void> {
  for (let i = 0; i < statements; i += 1) {
    for (const session of sessions) await runQuery(session, sql);
  }
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2]) as PairedSpec;
  const [clock, cpu] = pickClock();
  const clients = [
    await connect('on', spec.endpoint, { telemetry: {} }),
    await connect('off', spec.endpoint),
    await connect('hooks', spec.endpoint),
    await connect('plain', spec.endpoint),
  ];
  const [on, off, hooks, plain] = await Promise.all(clients.map((client) => client.openSession()));
  const telemetry: PairedResult[] = [];
  for (const [format, [sql, pairs]] of Object.entries(spec.formats)) {
    await warm([on, off], sql, spec.warmup);
    telemetry.push(resultOf(format, clock, await pairUp(cpu, [on, off], sql, pairs)));
  }
  const [floorSql, floorPairs] = spec.floor;
  await warm([hooks, plain], floorSql, spec.warmup);
  const floor = resultOf('columns', clock, await pairUp(cpu, [hooks, plain], floorSql, floorPairs));
  for (const session of [on, off, hooks, plain]) await session.close();
  await Promise.all(clients.map((client) => client.close()));
  const output: PairedOutput = { telemetry, floor };
  process.stdout.write(`${JSON.stringify(output)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`paired: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exitCode = 1;
});
