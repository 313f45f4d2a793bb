import { meanSe, median, medianSe } from './stats';

/** One process's paired statements: side A (measured) and side B (baseline), CPU µs each, in pair order. */
export interface PairedSample {
  format: string;
  /** Where the CPU time came from: the main thread's scheduler statistics, or process.cpuUsage(). */
  clock: 'main thread' | 'process';
  aMicros: number[];
  bMicros: number[];
}

export interface PairedResult {
  format: string;
  pairs: number;
  processes: number;
  clock: PairedSample['clock'];
  medianOnMicros: number;
  medianOffMicros: number;
  /** Median of (A - B) over the pairs of every process, and its standard error. */
  medianDiffMicros: number;
  diffSeMicros: number;
  /** Each process's own median difference: their spread is the process-to-process noise. */
  processMedianDiffs: number[];
  /** 1 + medianDiff / medianOff. */
  ratio: number;
}

/**
 * Pools the pairs of several processes. The standard error is the larger of the pooled median's
 * (from the MAD, which assumes independent pairs) and the spread of the processes' own medians
 * (which also counts what differs from one process to the next: JIT choices, heap layout).
 */
export function poolPairs(samples: readonly PairedSample[]): PairedResult {
  const diffsPerProcess = samples.map((sample) => sample.aMicros.map((a, i) => a - sample.bMicros[i]));
  const diffs = diffsPerProcess.flat();
  const processMedianDiffs = diffsPerProcess.map(median);
  const medianDiffMicros = median(diffs);
  const medianOffMicros = median(samples.flatMap((sample) => sample.bMicros));
  return {
    format: samples[0].format,
    pairs: diffs.length,
    processes: samples.length,
    clock: samples[0].clock,
    medianOnMicros: median(samples.flatMap((sample) => sample.aMicros)),
    medianOffMicros,
    medianDiffMicros,
    diffSeMicros: Math.max(medianSe(diffs), meanSe(processMedianDiffs)),
    processMedianDiffs,
    ratio: 1 + medianDiffMicros / medianOffMicros,
  };
}
