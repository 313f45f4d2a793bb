/**
 * The benchmarks: `npm run bench`. Prints a table (figure, target, measured, pass/fail) on stdout
 * and progress on stderr. A full run writes everything measured to bench/results/latest.json and
 * regenerates README.md's figures from it (scripts/generate-bench-readme.ts). A quick run
 * (`BENCH_QUICK=1`, `npm run bench:quick`) shrinks every figure for a smoke run and writes
 * bench/results/quick.json; a full run of only some parts (`BENCH_ONLY`) writes subset.json;
 * neither touches latest.json or the README. The exit code is non-zero only when something
 * crashed, never for a missed target: CI runs the quick bench as a smoke test.
 *
 * Layout: each part (bench/parts/) declares its figures — id, group, title, target
 * (support/target.ts) and measured text — and measures them. The hot path runs in this process;
 * every other figure runs in child processes (bench/children/). The parts marked `emulator` share
 * one workspace emulator, itself a child started through the CLI (`lib/cli/index.ts emulator`), so
 * emulator CPU never counts against a client. The anchor has an emulator of its own, on port 443
 * (see children/anchor.ts), and runs last, with the shared one gone.
 */
import { execFileSync } from 'child_process';
import { mkdirSync, writeFileSync } from 'fs';
import { cpus } from 'os';
import { join } from 'path';
import { anchor } from './parts/anchor';
import { churn } from './parts/churn';
import { connect } from './parts/connect';
import { exit } from './parts/exit';
import { hot } from './parts/hot';
import { outage } from './parts/outage';
import { overhead } from './parts/overhead';
import { EmulatorProcess } from './support/emulatorProcess';
import { FigureRecorder } from './support/figures';
import { QUICK } from './support/mode';
import type { Part } from './support/part';
import { ROOT } from './support/paths';
import { progress } from './support/progress';
import { BenchRun, LATEST_RESULTS, RESULTS_DIR, writeBenchReadme } from '../scripts/generate-bench-readme';

/**
 * The parts, in the order they run: in-process and emulator-free figures first, while nothing
 * else of ours runs; then those on the shared emulator; the anchor last.
 */
const PARTS: readonly Part[] = [hot, outage, overhead, connect, exit, churn, anchor];

/** `BENCH_ONLY=overhead,connect` runs a subset of PARTS. */
const ONLY = new Set(
  (process.env.BENCH_ONLY ?? PARTS.map((part) => part.name).join(',')).split(',').map((part) => part.trim()),
);
const SELECTED = PARTS.filter((part) => ONLY.has(part.name));
const ALL_PARTS = SELECTED.length === PARTS.length;

/** Runs the selected parts, starting the shared emulator before the first that needs it and stopping it after the last. */
async function runParts(recorder: FigureRecorder): Promise<void> {
  let emulator: EmulatorProcess | undefined;
  try {
    for (const part of SELECTED) {
      if (part.emulator) {
        if (emulator === undefined) {
          progress('starting the emulator (CLI, separate process)');
          emulator = await EmulatorProcess.start();
        }
        await part.run(recorder, emulator);
      } else {
        if (emulator !== undefined) {
          await emulator.stop();
          emulator = undefined;
        }
        await part.run(recorder);
      }
    }
  } finally {
    await emulator?.stop();
  }
}

async function main(): Promise<void> {
  const started = Date.now();
  // Read before anything runs: the code measured is the code loaded now.
  const revision = gitRevision();
  progress(`node ${process.version}, ${cpus().length} CPUs${QUICK ? ', QUICK mode' : ''}`);
  const recorder = new FigureRecorder();
  await runParts(recorder);
  const seconds = (Date.now() - started) / 1000;
  progress(`done in ${seconds.toFixed(0)} s`);
  const run: BenchRun = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    quick: QUICK,
    parts: SELECTED.map((part) => part.name),
    ...revision,
    seconds,
    figures: recorder.figures,
    results: recorder.results,
  };
  // Only a full run of every part stands for the code: a quick or partial run never replaces it.
  const file = join(RESULTS_DIR, QUICK ? 'quick.json' : ALL_PARTS ? 'latest.json' : 'subset.json');
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(file, `${JSON.stringify(run, null, 2)}\n`);
  recorder.printTable();
  progress(`results written to ${file}`);
  if (file === LATEST_RESULTS) {
    writeBenchReadme();
    progress("README.md's figures regenerated from it (scripts/generate-bench-readme.ts)");
  }
}

/** The commit measured, and whether the work tree differed from it. */
function gitRevision(): Pick<BenchRun, 'commit' | 'uncommittedChanges'> {
  try {
    const git = (...args: string[]) =>
      execFileSync('git', ['--no-optional-locks', ...args], { cwd: ROOT, encoding: 'utf8' }).trim();
    return {
      commit: git('rev-parse', '--short', 'HEAD'),
      uncommittedChanges: git('status', '--porcelain', '--untracked-files=no') !== '',
    };
  } catch {
    return {};
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.stack : error);
  process.exitCode = 1;
});
