/**
 * Close and exit (`BENCH_ONLY=exit`): short-lived application processes (children/exitChild.ts),
 * with a healthy telemetry endpoint and a hanging one: how long `close()` takes, whether `await
 * close()` returns, and how long the process takes to exit after its last line of work.
 */
import type { ExitChildSpec } from '../children/exitChild';
import { DEFAULT_TELEMETRY_CONFIG } from '../../lib/telemetry/types';
import { EmulatorProcess, requestsBetween } from '../support/emulatorProcess';
import { ExitRun, runExitChild } from '../support/exitRunner';
import { figure, FigureRecorder } from '../support/figures';
import { QUICK } from '../support/mode';
import type { Part } from '../support/part';
import { progress } from '../support/progress';
import { max, median, min, round } from '../support/stats';
import { atMost, guard, holds } from '../support/target';

/** `results.closeAndExit.summary[variant]`. */
interface VariantSummary {
  exitMs: number[];
  closeMs: number[];
  unfinished: number;
  exitDuringCloseMs: number[];
}

/** Variants whose `await client.close()` runs with nothing else holding the event loop. */
const RETURN_CHECKED = ['on, close()', 'on, endpoint hanging, close()'];

/** The close deadline (default settings) and what close() may take beyond it. */
const CLOSE_DEADLINE_MS = DEFAULT_TELEMETRY_CONFIG.closeTimeoutMs;

interface CloseReading {
  reps: number;
  /** close() durations with the endpoint hanging, telemetry on and off, the app holding the loop. */
  hangClose: number[];
  offClose: number[];
  hangingUploads: number;
}

export const CLOSE_HANGING = figure<CloseReading>({
  id: 'exit.closeHanging',
  group: 'Close/exit',
  title: (r) => `close() duration, telemetry endpoint hanging (${r.hangingUploads} uploads hung)`,
  target: atMost<CloseReading>((r) => max(r.hangClose), CLOSE_DEADLINE_MS + 100, {
    label: () => `close deadline ${CLOSE_DEADLINE_MS} ms + 100`,
  }).and(guard((r) => r.hangClose.length === r.reps && r.hangingUploads > 0)),
  measured: (r) =>
    r.hangClose.length > 0
      ? `median ${median(r.hangClose).toFixed(0)} ms, max ${max(r.hangClose).toFixed(0)} ms (telemetry off: ${median(r.offClose).toFixed(0)} ms)`
      : 'close() never returned',
});

interface VariantReading {
  name: string;
  reps: number;
  entry: VariantSummary;
  /** Exits of the telemetry-off variants with a healthy endpoint, for comparison. */
  offExit: number[];
}

export const CLOSE_RETURNS = figure<VariantReading>({
  id: 'exit.closeReturns',
  group: 'Close/exit',
  title: (r) => `await close() returns to the caller: ${r.name}, nothing else holding the loop`,
  target: holds('returns in every run', (r) => r.entry.unfinished === 0),
  measured: ({ entry, reps }) =>
    entry.unfinished === 0
      ? `returned ${reps}/${reps} (close() median ${median(entry.closeMs).toFixed(0)} ms)`
      : `returned ${reps - entry.unfinished}/${reps}: process exited ${median(entry.exitDuringCloseMs).toFixed(0)} ms into close(); code after it never ran`,
});

export const EXIT_AFTER_WORK = figure<VariantReading>({
  id: 'exit.afterWork',
  group: 'Close/exit',
  title: (r) => `last line of work -> exit: ${r.name}`,
  // A negative time is a clock fault, not a fast exit.
  target: atMost<VariantReading>((r) => max(r.entry.exitMs), 100, { unit: 'ms', note: 'every run' }).and(
    guard((r) => r.entry.unfinished === 0 && min(r.entry.exitMs) >= 0),
  ),
  measured: ({ entry, reps, offExit }) => {
    const exits = entry.exitMs;
    return entry.unfinished > 0
      ? `${entry.unfinished}/${reps} runs never reached their last line (exited inside close())` +
          (exits.length > 0 ? `; others max ${max(exits).toFixed(1)} ms` : '')
      : `median ${median(exits).toFixed(1)} ms, max ${max(exits).toFixed(1)} ms (telemetry off: median ${median(offExit).toFixed(1)} ms)`;
  },
});

async function closeAndExit(recorder: FigureRecorder, emulator: EmulatorProcess): Promise<void> {
  const reps = QUICK ? 1 : 3;
  const endpoint = emulator.endpoint;
  // Default settings (5 s flush interval): logs are still queued when close() is called.
  const base = { endpoint, queries: 10 };
  // Short flush interval and a pause: an upload is in flight (hanging) when the work ends.
  const inFlight = { pauseMs: 400, telemetry: { telemetryFlushIntervalMs: 100 } };
  const healthy: Array<[string, ExitChildSpec]> = [
    ['off, close()', { ...base, kind: 'off', close: true }],
    ['on, close()', { ...base, kind: 'on', close: true }],
    ['off, no close()', { ...base, kind: 'off', close: false }],
    ['on, no close()', { ...base, kind: 'on', close: false }],
  ];
  const hanging: Array<[string, ExitChildSpec]> = [
    ['on, endpoint hanging, no close()', { ...base, ...inFlight, kind: 'on', close: false }],
    ['on, endpoint hanging, close()', { ...base, ...inFlight, kind: 'on', close: true }],
    [
      'on, endpoint hanging, close(), app holds loop',
      { ...base, ...inFlight, kind: 'on', close: true, holdOpen: true },
    ],
    [
      'off, endpoint hanging, close(), app holds loop',
      { ...base, ...inFlight, kind: 'off', close: true, holdOpen: true },
    ],
  ];
  const runs = new Map<string, ExitRun[]>();
  const runGroup = async (group: Array<[string, ExitChildSpec]>) => {
    for (let rep = 0; rep < reps; rep += 1) {
      for (const [name, spec] of group) {
        const run = await runExitChild(spec);
        progress(
          `  exit: ${name}: ` +
            (run.finished
              ? `${run.exitMs.toFixed(1)} ms to exit${run.closeMs !== undefined ? `, close() ${run.closeMs.toFixed(0)} ms` : ''}`
              : `exited ${(run.exitDuringCloseMs ?? NaN).toFixed(1)} ms into close(), which never returned`),
        );
        runs.set(name, [...(runs.get(name) ?? []), run]);
      }
    }
  };
  progress('close/exit: healthy endpoint');
  const healthyBefore = await emulator.requestCounts();
  await runGroup(healthy);
  const healthyUploads = requestsBetween(healthyBefore, await emulator.requestCounts()).telemetryExt ?? 0;
  progress('close/exit: telemetry endpoint hanging');
  const countsBefore = await emulator.requestCounts();
  await emulator.setFault('telemetry', { kind: 'hang', times: 'forever' });
  try {
    await runGroup(hanging);
  } finally {
    await emulator.clearFaults('telemetry');
  }
  const hangingUploads = requestsBetween(countsBefore, await emulator.requestCounts()).telemetryExt ?? 0;

  const summary: Record<string, VariantSummary> = {};
  for (const [name, list] of runs) {
    summary[name] = {
      exitMs: list.flatMap((r) => (r.finished ? [round(r.exitMs, 1)] : [])),
      closeMs: list.flatMap((r) => (r.closeMs === undefined ? [] : [round(r.closeMs, 1)])),
      unfinished: list.filter((r) => !r.finished).length,
      exitDuringCloseMs: list.flatMap((r) =>
        r.exitDuringCloseMs === undefined ? [] : [round(r.exitDuringCloseMs, 1)],
      ),
    };
  }
  recorder.results.closeAndExit = { reps, summary, healthyUploads, hangingUploads };

  recorder.record(CLOSE_HANGING, {
    reps,
    hangClose: summary['on, endpoint hanging, close(), app holds loop'].closeMs,
    offClose: summary['off, endpoint hanging, close(), app holds loop'].closeMs,
    hangingUploads,
  });
  const offExit = [...summary['off, close()'].exitMs, ...summary['off, no close()'].exitMs];
  for (const name of RETURN_CHECKED) {
    recorder.record(CLOSE_RETURNS, { name, reps, entry: summary[name], offExit });
  }
  for (const [name] of [...healthy, ...hanging]) {
    const entry = summary[name];
    if (entry.unfinished > 0 && RETURN_CHECKED.includes(name)) {
      continue; // Reported once, by its "close() returns" row.
    }
    recorder.record(EXIT_AFTER_WORK, { name, reps, entry, offExit });
  }
}

export const exit: Part = { name: 'exit', emulator: true, run: closeAndExit };
