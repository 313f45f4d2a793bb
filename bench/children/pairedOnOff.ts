/**
 * The per-statement cost of telemetry, measured tightly: one process holds a telemetry-on and a
 * telemetry-off client and runs their statements one by one, alternately (ABBA), charging each
 * statement with the CPU of the process's main thread while it ran. Both sides of a pair run
 * within a few milliseconds on the same heap, so the machine's drift and the process's own state
 * cancel out; the median of the per-pair differences is telemetry's steady cost per statement.
 *
 * What it leaves out, by design: work that lands between statements or on rare statements
 * (uploads every 100 logs, garbage collection) is split between the two sides or dropped by the
 * median; the A/B figures across processes count it. Argument: JSON `PairedSpec`. Prints one JSON line.
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
  /** Format name to [SQL, pairs]. */
  formats: Record<string, [string, number]>;
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

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2]) as PairedSpec;
  const [clock, cpu] = pickClock();
  const on = await connect('on', spec.endpoint, { telemetry: {} });
  const off = await connect('off', spec.endpoint);
  const sides = [await on.openSession(), await off.openSession()];
  const results: PairedResult[] = [];
  for (const [format, [sql, pairs]] of Object.entries(spec.formats)) {
    for (let i = 0; i < spec.warmup; i += 1) {
      for (const session of sides) await runQuery(session, sql);
    }
    const onMicros: number[] = [];
    const offMicros: number[] = [];
    const diffs: number[] = [];
    for (let pair = 0; pair < pairs; pair += 1) {
      // ABBA: neither side always goes first.
      const onFirst = pair % 2 === 0;
      const first = await timed(cpu, sides[onFirst ? 0 : 1], sql);
      const second = await timed(cpu, sides[onFirst ? 1 : 0], sql);
      const [onTime, offTime] = onFirst ? [first, second] : [second, first];
      onMicros.push(onTime);
      offMicros.push(offTime);
      diffs.push(onTime - offTime);
    }
    const medianOffMicros = median(offMicros);
    const medianDiffMicros = median(diffs);
    results.push({
      format,
      pairs,
      clock,
      medianOnMicros: median(onMicros),
      medianOffMicros,
      medianDiffMicros,
      diffSeMicros: medianSe(diffs),
      ratio: 1 + medianDiffMicros / medianOffMicros,
    });
  }
  for (const session of sides) await session.close();
  await Promise.all([on.close(), off.close()]);
  process.stdout.write(`${JSON.stringify(results)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`paired: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exitCode = 1;
});
