/**
 * The per-statement cost of telemetry, measured tightly: one process holds a telemetry-on and a
 * telemetry-off client and runs their statements one by one, alternately (ABBA), charging each
 * statement with the CPU of the process's main thread while it ran. Both sides of a pair run
 * within a few milliseconds on the same heap, so the machine's drift and the process's own state
 * cancel out; the median of the per-pair differences is telemetry's steady cost per statement.
 * The parent runs it in several processes and pools the pairs (support/pairing.ts).
 *
 * What it leaves out, by design: work that lands between statements or on rare statements
 * (uploads every 100 logs, garbage collection) is split between the two sides or dropped by the
 * median; the A/B figures across processes count it.
 *
 * The same pairing puts a floor under the figure: the plain driver with forwarding hooks where
 * our adapter observes it (bareHooks.ts), against the plain driver. Argument: JSON `PairedSpec`.
 * Prints one JSON line (`PairedOutput`): every pair's CPU times.
 */
import { connect } from '../support/clients';
import type { EmulatorEndpoint } from '../support/emulatorProcess';
import type { PairedSample } from '../support/pairing';
import { pairUp, warm } from '../support/pairedRuns';
import { mainThreadClock } from '../support/clock';

export interface PairedSpec {
  endpoint: EmulatorEndpoint;
  /**
   * [SQL, statements]: run on every client before anything is measured. V8 optimizes a function
   * run once per statement only after hundreds to thousands of statements (our adapter's last
   * ones near the 3,000th), so a shorter warm-up measures partly unoptimized code, and the format
   * measured first the least optimized of all.
   */
  jitWarmup: [string, number];
  /** Statements per side before measuring, per format (its own result-handling code). */
  warmup: number;
  /** Format name to [SQL, pairs]: telemetry on against off. */
  formats: Record<string, [string, number]>;
  /** [SQL, pairs]: the bare hooks (bareHooks.ts) against the plain driver; none when left out. */
  floor?: [string, number];
}

export interface PairedOutput {
  /** A: telemetry on, B: off. */
  telemetry: PairedSample[];
  /** A: the hooks alone, recording nothing; B: the plain driver. */
  floor?: PairedSample;
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2]) as PairedSpec;
  const [clock, cpu] = mainThreadClock();
  const clients = [
    await connect('on', spec.endpoint, { telemetry: {} }),
    await connect('off', spec.endpoint),
    await connect('hooks', spec.endpoint),
    await connect('plain', spec.endpoint),
  ];
  const [on, off, hooks, plain] = await Promise.all(clients.map((client) => client.openSession()));
  await warm([on, off, hooks, plain], ...spec.jitWarmup);
  const telemetry: PairedSample[] = [];
  for (const [format, [sql, pairs]] of Object.entries(spec.formats)) {
    await warm([on, off], sql, spec.warmup);
    telemetry.push({ format, clock, ...(await pairUp(cpu, [on, off], sql, pairs)) });
  }
  let floor: PairedSample | undefined;
  if (spec.floor) {
    const [floorSql, floorPairs] = spec.floor;
    await warm([hooks, plain], floorSql, spec.warmup);
    floor = { format: 'columns', clock, ...(await pairUp(cpu, [hooks, plain], floorSql, floorPairs)) };
  }
  for (const session of [on, off, hooks, plain]) {
    await session.close();
  }
  await Promise.all(clients.map((client) => client.close()));
  const output: PairedOutput = { telemetry, floor };
  process.stdout.write(`${JSON.stringify(output)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`paired: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exitCode = 1;
});
