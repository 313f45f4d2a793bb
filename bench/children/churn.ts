/**
 * Connection churn (tests/support/churn.ts): connect / openSession / one query / close cycles
 * across many host names resolved to the emulator, one in `forgetEvery` never closed. Run with
 * `CHURN_NODE_FLAGS`. Prints one JSON line (`ChurnResult`) on 'exit', so it also tells what was
 * still held then and how long the process took to exit after its work. Argument: a JSON
 * `ChurnSpec`. bench/parts/churn.ts and tests/support/churn.ts import its node flags and types
 * from here: nothing of the driver is loaded unless this file runs as the child.
 */
import { writeSync } from 'fs';
import { performance } from 'perf_hooks';
import type { ChurnResult, ChurnSpec } from '../../tests/support/churn';

export type { ChurnResult, ChurnSpec };

/**
 * Node flags of the churn child: gc on demand; the interpreter only, with bytecode kept once
 * compiled. V8 otherwise drops the bytecode of functions idle for a few collections and adds
 * optimized code as functions get hot, and either moves the heap between two readings by more
 * * than a small leak per cycle would. No warning for the experimental `v8.queryObjects`.
 */
export const CHURN_NODE_FLAGS = [
  '--expose-gc',
  '--no-flush-bytecode',
  '--no-opt',
  '--no-sparkplug',
  '--disable-warning=ExperimentalWarning',
];

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2]) as ChurnSpec;
  const [{ runChurn }, { default: TelemetryClientProvider }] = await Promise.all([
    import('../../tests/support/churn'),
    import('../../lib/telemetry/TelemetryClientProvider'),
  ]);
  const provider = new TelemetryClientProvider();
  const result = await runChurn(spec, provider);
  const doneAt = performance.now();
  // Nothing is closed here: the process must end by itself, whatever is still open.
  process.once('exit', () => {
    result.atExit = { provider: provider.getStats(), exitAfterWorkMs: Math.round(performance.now() - doneAt) };
    writeSync(1, `${JSON.stringify(result)}\n`);
  });
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`churn: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exitCode = 1;
  });
}
