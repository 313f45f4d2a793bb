/**
 * Rewrites README.md's measured figures, the region between `<!-- bench:start -->` and
 * `<!-- bench:end -->`, from bench/results/latest.json, which a full `npm run bench` writes (and
 * then runs this), so no figure in the README is typed by hand.
 *
 * Run: node -r ts-node/register/transpile-only scripts/generate-bench-readme.ts [--check]
 * With `--check` nothing is written: it exits non-zero when the README's region differs from what
 * latest.json gives, or latest.json is missing.
 */
import fs from 'fs';
import path from 'path';
import type { AnchorCaseResult, AnchorCost, AnchorResults, AnchorSubjectRuns } from '../bench/support/anchoring';
import { verdict } from '../bench/support/figures';
import { signed } from '../bench/support/format';

export const ROOT = path.join(__dirname, '..');
export const README_PATH = path.join(ROOT, 'README.md');
export const RESULTS_DIR = path.join(ROOT, 'bench', 'results');
export const LATEST_RESULTS = path.join(RESULTS_DIR, 'latest.json');
export const START_MARKER = '<!-- bench:start -->';
export const END_MARKER = '<!-- bench:end -->';

/** One row of the bench's table. */
export interface BenchFigure {
  group: string;
  figure: string;
  target: string;
  measured: string;
  /** Absent for a figure reported without a target. */
  pass?: boolean;
}

/** What bench/run.ts writes to bench/results/*.json. */
export interface BenchRun {
  date: string;
  node: string;
  cpus: number;
  quick: boolean;
  /** The bench's parts that ran (`BENCH_ONLY`). */
  parts?: string[];
  /** The commit measured, and whether the work tree had changes to tracked files. */
  commit?: string;
  uncommittedChanges?: boolean;
  seconds: number;
  figures: BenchFigure[];
  results: Record<string, unknown>;
}

/** The anchor rows have a table of their own. */
const ANCHOR_GROUP = 'Anchor';

/** Text for a markdown table cell: no column breaks, no HTML, no emphasis. */
function cell(text: string): string {
  return text
    .replace(/\\/g, '\\\\')
    .replace(/\|/g, '\\|')
    .replace(/\*/g, '\\*')
    .replace(/<(?=[A-Za-z/!])/g, '&lt;')
    .replace(/\n/g, ' ');
}

function row(cells: readonly string[]): string {
  return `| ${cells.map(cell).join(' | ')} |`;
}

function table(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): string[] {
  return [row(headers), `|${headers.map(() => '---').join('|')}|`, ...rows.map(row)];
}

function count(value: number): string {
  return value.toLocaleString('en-US');
}

function cost(result: AnchorCaseResult, c: AnchorCost): string {
  return `${signed(c.medianMicros)} ± ${c.seMicros.toFixed(1)} (${((c.medianMicros / result.plainMedianMicros) * 100).toFixed(2)} %)`;
}

function mean(c: AnchorCost): string {
  return `${signed(c.meanMicros)} ± ${c.meanSeMicros.toFixed(1)}`;
}

function headToHead(result: AnchorCaseResult): string {
  const h = result.headToHead;
  return `${signed(h.medianMicros)} ± ${h.seMicros.toFixed(1)} (${verdict(result.headToHeadPass)})`;
}

function anchorVerdict(result: AnchorCaseResult): string {
  if (result.pass) {
    return 'pass';
  }
  const misses = [
    ...(result.oursAtMostBuiltin ? [] : ['ours above the built-in']),
    ...(result.oursWithinBudget ? [] : [`ours over ${(result.budgetFraction * 100).toFixed(1)} %`]),
  ];
  return `FAIL: ${misses.join(', ')}`;
}

function subjectRuns(runs: AnchorSubjectRuns): string {
  return `${count(runs.uploads)} uploads over ${count(runs.statementsPerClient)} statements per client in ${runs.processes} process${runs.processes === 1 ? '' : 'es'}`;
}

function renderAnchor(run: BenchRun): string[] {
  const anchor = run.results.anchor as AnchorResults | undefined;
  if (anchor === undefined) {
    return [];
  }
  const heading = "### Beside the driver's own telemetry";
  if (anchor.skipped) {
    return [heading, '', `Not measured in this run: ${anchor.skipped}.`];
  }
  const rows = anchor.cases.map((result) => [
    result.path,
    result.format,
    count(result.on.rotations),
    result.plainMedianMicros.toFixed(0),
    cost(result, result.builtin),
    cost(result, result.on),
    `${mean(result.builtin)} / ${mean(result.on)}`,
    `≤ ${(result.budgetFraction * 100).toFixed(1)} % (${(result.budgetFraction * result.plainMedianMicros).toFixed(1)} µs), ≤ built-in`,
    anchorVerdict(result),
    headToHead(result),
  ]);
  const uploads = run.figures.find(
    (figure) => figure.group === ANCHOR_GROUP && figure.figure.startsWith('telemetry uploads'),
  );
  // The profiler and upload rows: every anchor figure but the cases and head-to-head figures in
  // the table above, and the uploads line.
  const others = run.figures
    .filter(
      (figure) =>
        figure.group === ANCHOR_GROUP &&
        figure !== uploads &&
        !anchor.cases.some(
          (result) =>
            figure.figure.startsWith(`${result.name}: CPU per statement`) ||
            figure.figure.startsWith(`${result.name}, head to head`),
        ),
    )
    .map((figure) => [figure.figure, figure.target, figure.measured, verdict(figure.pass)]);
  const profiles =
    others.length === 0
      ? []
      : [
          '',
          "Two lower-noise views of the same two telemetries: the time each one's own code takes per " +
            'statement under the sampling profiler (for ours lib/telemetry and lib/driver, for the ' +
            "built-in the driver's telemetry folder; the driver's hook points, which both pay alike, " +
            'count for neither; uploads left out), and the CPU of uploading, per log.',
          '',
          ...table(['figure', 'target', 'measured', 'result'], others),
        ];
  return [
    heading,
    '',
    "CPU per statement that the driver's built-in telemetry and ours each add to the plain " +
      '`@databricks/sql` client. Each process holds three warm clients, the plain driver, a second ' +
      'plain driver as the control and the telemetry under test, and runs their statements in rotation ' +
      `through every order of the three; the built-in and ours run in separate processes (${anchor.processesPerSubject} of each), alternating. ` +
      `Before measuring, ${count(anchor.jitWarmup.rotations)} rotations of a direct columns \`SELECT 1\`, then ${anchor.warmupPerCase} of each case. ` +
      'A cost is the median of (subject − plain) less the median of (control − plain), ± its standard error; ' +
      'the means count the statements an upload or a garbage collection landed in, which a median leaves out. ' +
      `Head to head, ${anchor.subjects.headToHead.processes} more processes hold the plain driver, the built-in and ours together: ` +
      'the median of (ours − built-in), rotation by rotation, ± its standard error, leaves out what differs from one process to the next.',
    '',
    ...table(
      [
        'path',
        'format',
        'rotations per subject',
        'plain µs',
        'built-in +µs ± SE',
        'ours +µs ± SE',
        'means with uploads and GC, built-in / ours (µs)',
        'target for ours',
        'result',
        'head to head: ours − built-in, µs ± SE (≤ 0)',
      ],
      rows,
    ),
    '',
    `Telemetry uploads the emulator received: built-in ${subjectRuns(anchor.subjects.builtin)}; ` +
      `ours ${subjectRuns(anchor.subjects.on)}; both, head to head, ${subjectRuns(anchor.subjects.headToHead)}` +
      `${uploads ? ` (${verdict(uploads.pass)})` : ''}.`,
    ...profiles,
  ];
}

/** The markdown between the markers, from one bench run. */
export function renderBenchSection(run: BenchRun): string {
  const targeted = run.figures.filter((figure) => figure.pass !== undefined);
  const met = targeted.filter((figure) => figure.pass).length;
  const commit = run.commit ? ` at \`${run.commit}\`${run.uncommittedChanges ? ' with uncommitted changes' : ''}` : '';
  const rows = run.figures
    .filter((figure) => figure.group !== ANCHOR_GROUP)
    .map((figure) => [`${figure.group}: ${figure.figure}`, figure.target, figure.measured, verdict(figure.pass)]);
  const anchor = renderAnchor(run);
  return [
    '<!-- Generated by scripts/generate-bench-readme.ts from bench/results/latest.json: `npm run bench` rewrites both. Do not edit by hand. -->',
    '',
    `Run of ${run.date.slice(0, 16).replace('T', ' ')} UTC${commit}: Node ${run.node}, ${run.cpus} CPUs, ` +
      `${Math.round(run.seconds / 60)} min. **${met} of ${targeted.length} targets met.**`,
    '',
    ...table(['figure', 'target', 'measured', 'result'], rows),
    ...(anchor.length > 0 ? ['', ...anchor] : []),
  ].join('\n');
}

/** `readme` with its bench region rewritten from `run`; throws when the markers are missing. */
export function generateBenchReadme(readme: string, run: BenchRun): string {
  const from = readme.indexOf(START_MARKER);
  const to = readme.indexOf(END_MARKER, from);
  if (from < 0 || to < 0) {
    throw new Error(`README.md: the lines ${START_MARKER} and ${END_MARKER} are missing`);
  }
  return `${readme.slice(0, from + START_MARKER.length)}\n${renderBenchSection(run)}\n${readme.slice(to)}`;
}

/** The full run in latest.json; a quick or partial run would misstate the figures. */
export function readLatestRun(file = LATEST_RESULTS): BenchRun {
  if (!fs.existsSync(file)) {
    throw new Error(`${path.relative(ROOT, file)} is missing: a full \`npm run bench\` writes it`);
  }
  const run = JSON.parse(fs.readFileSync(file, 'utf8')) as BenchRun;
  if (run.quick) {
    throw new Error(`${path.relative(ROOT, file)} holds a quick run`);
  }
  return run;
}

/** Rewrites README.md from latest.json; returns whether anything changed. */
export function writeBenchReadme(): boolean {
  const readme = fs.readFileSync(README_PATH, 'utf8');
  const generated = generateBenchReadme(readme, readLatestRun());
  if (generated === readme) {
    return false;
  }
  fs.writeFileSync(README_PATH, generated);
  return true;
}

function cli(args: readonly string[]): number {
  if (args.includes('--check')) {
    const readme = fs.readFileSync(README_PATH, 'utf8');
    if (generateBenchReadme(readme, readLatestRun()) !== readme) {
      process.stderr.write(
        'README.md: the measured figures differ from bench/results/latest.json: run `npm run bench:readme`\n',
      );
      return 1;
    }
    process.stdout.write('README.md: the measured figures match bench/results/latest.json\n');
    return 0;
  }
  const changed = writeBenchReadme();
  process.stdout.write(
    `README.md: the measured figures ${changed ? 'were regenerated from' : 'already match'} bench/results/latest.json\n`,
  );
  return 0;
}

if (require.main === module) {
  try {
    process.exitCode = cli(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`generate-bench-readme: ${(error as Error).message}\n`);
    process.exitCode = 1;
  }
}
