import type { AnchorSample } from '../children/anchor';
import { meanSe, median, medianSe, round } from './stats';

/** The anchor child's subjects: the driver's built-in telemetry and ours. */
export type AnchorSubject = 'builtin' | 'on';

/** What an anchor process measures: one subject against the plain driver, or both head to head. */
export type AnchorProcessKind = AnchorSubject | 'headToHead';

/** Direct results answer in one RPC; polled ones take execute, status, metadata, fetches and close. */
export type AnchorPath = 'direct' | 'polled';

export type AnchorFormat = 'columns' | 'arrow' | 'cloudfetch';

/** The statement the emulator answers on `path` in `format`. */
export function anchorSql(path: AnchorPath, format: AnchorFormat): string {
  const hints = [`format=${format}`];
  if (format === 'cloudfetch') {
    hints.push('chunks=2');
  }
  if (path === 'polled') {
    hints.push('direct=off');
  }
  return `/* emulator: ${hints.join(' ')} */ ${format === 'cloudfetch' ? 'SELECT * FROM range(2000)' : 'SELECT 1'}`;
}

/** One subject's cost on one case, from the rotations of every process that ran it. */
export interface AnchorCost {
  processes: number;
  rotations: number;
  /** Medians in this subject's processes, CPU µs per statement. */
  plainMedianMicros: number;
  controlMedianMicros: number;
  subjectMedianMicros: number;
  /** median(X - P) - median(Q - P): the subject's cost per statement, what the control differs by taken off. */
  medianMicros: number;
  /**
   * Its standard error: the larger of the two medians' errors combined (each from the MAD) and the
   * spread of the processes' own figures, which also counts what differs between processes.
   */
  seMicros: number;
  processMedians: number[];
  /** mean(X - P) - mean(Q - P): counts the statements an upload or a collection landed in, which a median drops. */
  meanMicros: number;
  meanSeMicros: number;
  processMeans: number[];
}

function mean(values: readonly number[]): number {
  return values.reduce((sum, value) => sum + value, 0) / values.length;
}

function differences(values: readonly number[], plain: readonly number[]): number[] {
  return values.map((value, i) => value - plain[i]);
}

/** Pools one subject's samples of one case, one per process; each sample's clients are plain, control, subject. */
export function anchorCost(samples: readonly AnchorSample[]): AnchorCost {
  const subject = samples.map(({ micros: [plain, , tested] }) => differences(tested, plain));
  const control = samples.map(({ micros: [plain, other] }) => differences(other, plain));
  const allSubject = subject.flat();
  const allControl = control.flat();
  const processMedians = samples.map((_, k) => median(subject[k]) - median(control[k]));
  const processMeans = samples.map((_, k) => mean(subject[k]) - mean(control[k]));
  const combined = (se: (values: readonly number[]) => number) => Math.sqrt(se(allSubject) ** 2 + se(allControl) ** 2);
  return {
    processes: samples.length,
    rotations: allSubject.length,
    plainMedianMicros: round(median(samples.flatMap((sample) => sample.micros[0])), 1),
    controlMedianMicros: round(median(samples.flatMap((sample) => sample.micros[1])), 1),
    subjectMedianMicros: round(median(samples.flatMap((sample) => sample.micros[2])), 1),
    medianMicros: round(median(allSubject) - median(allControl), 2),
    seMicros: round(Math.max(combined(medianSe), meanSe(processMedians)), 2),
    processMedians: processMedians.map((value) => round(value, 2)),
    meanMicros: round(mean(allSubject) - mean(allControl), 2),
    meanSeMicros: round(Math.max(combined(meanSe), meanSe(processMeans)), 2),
    processMeans: processMeans.map((value) => round(value, 2)),
  };
}

/** Ours against the built-in on one case, in the same processes (clients: plain, built-in, ours). */
export interface HeadToHeadCost {
  processes: number;
  rotations: number;
  /** median(ours - built-in) over every rotation: what ours costs more, negative where less. */
  medianMicros: number;
  /** Its standard error, as an anchor cost's: the larger of the median's and the processes' spread. */
  seMicros: number;
  processMedians: number[];
  /** Each one's cost over the plain driver in these processes: median(subject - plain). */
  builtinMicros: number;
  onMicros: number;
}

/** Pools the head-to-head samples of one case, one per process. */
export function headToHeadCost(samples: readonly AnchorSample[]): HeadToHeadCost {
  const oursOverBuiltin = samples.map(({ micros: [, builtin, ours] }) => differences(ours, builtin));
  const all = oursOverBuiltin.flat();
  const processMedians = oursOverBuiltin.map((values) => median(values));
  const overPlain = (index: 1 | 2) =>
    round(median(samples.flatMap(({ micros }) => differences(micros[index], micros[0]))), 2);
  return {
    processes: samples.length,
    rotations: all.length,
    medianMicros: round(median(all), 2),
    seMicros: round(Math.max(medianSe(all), meanSe(processMedians)), 2),
    processMedians: processMedians.map((value) => round(value, 2)),
    builtinMicros: overPlain(1),
    onMicros: overPlain(2),
  };
}

/** One row of the anchor: a path and a result format. */
export interface AnchorCase {
  name: string;
  path: AnchorPath;
  format: AnchorFormat;
  sql: string;
  rotationsPerProcess: number;
}

/** What one subject's processes ran, and what telemetry the emulator received meanwhile. */
export interface AnchorSubjectRuns {
  processes: number;
  /** Statements each of the processes' three clients ran, warm-ups included, summed over the processes. */
  statementsPerClient: number;
  /** Telemetry uploads (`/telemetry-ext`) the emulator received while this subject's processes ran. */
  uploads: number;
  unauthenticatedUploads: number;
}

export interface AnchorCaseResult extends AnchorCase {
  /** Our cost's budget, as a share of the plain driver's CPU per statement. */
  budgetFraction: number;
  /** The plain driver's median CPU per statement, over every process of both subjects. */
  plainMedianMicros: number;
  builtin: AnchorCost;
  on: AnchorCost;
  headToHead: HeadToHeadCost;
  oursAtMostBuiltin: boolean;
  /** Head to head, ours at most the built-in. */
  headToHeadPass: boolean;
  oursWithinBudget: boolean;
  pass: boolean;
}

/** `results.anchor` in the bench's JSON. */
export interface AnchorResults {
  /** Why the anchor did not run, or null. */
  skipped: string | null;
  host: string;
  address: string;
  port: number;
  processesPerSubject: number;
  jitWarmup: { sql: string; rotations: number };
  warmupPerCase: number;
  subjects: Record<AnchorProcessKind, AnchorSubjectRuns>;
  cases: AnchorCaseResult[];
}
