/**
 * Anchor (`BENCH_ONLY=anchor`): the driver's built-in telemetry and ours, each against the plain
 * driver in one process (children/anchor.ts), on an emulator of its own on port 443; then each
 * one's own code under the profiler (children/profileOn.ts) and its upload cost per log
 * (children/uploadIdle.ts). Runs last, with the shared emulator gone.
 */
import type { AnchorOutput, AnchorSpec } from '../children/anchor';
import type { ProfileShare, ProfileSpec } from '../children/profileOn';
import type { UploadIdleResult, UploadIdleSpec } from '../children/uploadIdle';
import { DEFAULT_TELEMETRY_CONFIG } from '../../lib/telemetry/types';
import {
  AnchorCase,
  AnchorCaseResult,
  AnchorCost,
  anchorCost,
  AnchorFormat,
  AnchorPath,
  AnchorProcessKind,
  AnchorResults,
  anchorSql,
  AnchorSubject,
  AnchorSubjectRuns,
  headToHeadCost,
} from '../support/anchoring';
import { EmulatorProcess, requestsBetween } from '../support/emulatorProcess';
import { figure, FigureRecorder } from '../support/figures';
import { processCount, signed } from '../support/format';
import { runJsonChild } from '../support/jsonChild';
import { QUICK } from '../support/mode';
import type { Part } from '../support/part';
import { progress } from '../support/progress';
import { median, medianSe, round } from '../support/stats';
import { atMost, holds, informational, Target } from '../support/target';

/** The built-in uploads only to port 443 of a host name that is not loopback (see anchor.ts). */
const ANCHOR_ADDRESS = '127.0.0.1';
const ANCHOR_HOST = 'workspace.emulator.test';
/**
 * Processes per subject, built-in and ours alternating; each case's rotations are pooled across
 * them. Identical code measures differently from one process to the next (what the JIT made of
 * it), by more than the rotations' own spread, so the rotations are split over several processes.
 */
const ANCHOR_PROCESSES = QUICK ? 1 : 6;
/** Our cost's budget per statement, as a share of the plain driver's CPU. */
const ANCHOR_BUDGET: Record<AnchorPath, number> = { direct: 0.005, polled: 0.01 };
/**
 * Rotations per process and case, multiples of six (every order of the three clients equally
 * often). The direct cases get the most: their budget is the tighter, on a cheaper statement.
 */
const ANCHOR_ROTATIONS: Record<AnchorPath, Record<AnchorFormat, number>> = QUICK
  ? { direct: { columns: 180, arrow: 120, cloudfetch: 48 }, polled: { columns: 48, arrow: 48, cloudfetch: 30 } }
  : { direct: { columns: 582, arrow: 462, cloudfetch: 228 }, polled: { columns: 120, arrow: 120, cloudfetch: 78 } };
/** Logs per measured upload: fewer than a batch (100), so the flush timer sends them in the idle window. */
const ANCHOR_UPLOAD_LOGS = 90;
const ANCHOR_SUBJECTS: ReadonlyArray<[AnchorSubject, string]> = [
  ['builtin', 'built-in'],
  ['on', 'ours'],
];
/** What each kind of anchor process holds: the plain driver first, then two more clients. */
const ANCHOR_PROCESS_CLIENTS: Record<AnchorProcessKind, AnchorSpec['clients']> = {
  builtin: ['plain', 'plain', 'builtin'],
  on: ['plain', 'plain', 'on'],
  headToHead: ['plain', 'builtin', 'on'],
};
const ANCHOR_PROCESS_KINDS: ReadonlyArray<[AnchorProcessKind, string]> = [
  ...ANCHOR_SUBJECTS,
  ['headToHead', 'built-in and ours head to head'],
];

/** Starts the anchor's emulator, or says why it cannot listen on port 443. */
async function startAnchorEmulator(): Promise<EmulatorProcess | string> {
  try {
    return await EmulatorProcess.start(['--port', '443', '--host', ANCHOR_ADDRESS]);
  } catch (error) {
    const code = /\b(EACCES|EADDRINUSE|EADDRNOTAVAIL)\b/.exec((error as Error).message);
    if (!code) {
      throw error;
    }
    return `the emulator cannot listen on ${ANCHOR_ADDRESS}:443 (${code[1]})`;
  }
}

/** `ours <= built-in`: our figure at most the built-in's. */
function oursAtMostBuiltin<M>(ours: (reading: M) => number, builtin: (reading: M) => number): Target<M> {
  return atMost(ours, builtin, { name: 'ours', label: () => 'built-in' });
}

export const SKIPPED = figure<string>({
  id: 'anchor.skipped',
  group: 'Anchor',
  title: 'built-in and our telemetry against the plain driver',
  target: informational('runs'),
  measured: (why) => `skipped: ${why}`,
});

/** A case's costs, before it is judged. */
type AnchorCaseCosts = Omit<AnchorCaseResult, 'oursAtMostBuiltin' | 'oursWithinBudget' | 'pass' | 'headToHeadPass'>;

const CASE_AT_MOST_BUILTIN = oursAtMostBuiltin<AnchorCaseCosts>(
  (r) => r.on.medianMicros,
  (r) => r.builtin.medianMicros,
);

const CASE_WITHIN_BUDGET = atMost<AnchorCaseCosts>(
  (r) => r.on.medianMicros,
  (r) => r.budgetFraction * r.plainMedianMicros,
  {
    name: 'ours',
    label: (budget, r) => `${(r.budgetFraction * 100).toFixed(1)} % (${budget.toFixed(1)} µs)`,
  },
);

export const CASE_COST = figure<AnchorCaseCosts>({
  id: 'anchor.caseCost',
  group: 'Anchor',
  title: (r) =>
    `${r.name}: CPU per statement over the plain driver, less the control's (median of ${r.on.rotations} rotations in ${processCount(r.on.processes)} per subject)`,
  target: CASE_AT_MOST_BUILTIN.and(CASE_WITHIN_BUDGET),
  measured: (r) => {
    const share = (micros: number) => `${((micros / r.plainMedianMicros) * 100).toFixed(2)} %`;
    const cost = (c: AnchorCost) =>
      `${signed(c.medianMicros)} ± ${c.seMicros.toFixed(1)} µs (${share(c.medianMicros)})`;
    const mean = (c: AnchorCost) => `${signed(c.meanMicros)} ± ${c.meanSeMicros.toFixed(1)}`;
    return (
      `plain ${r.plainMedianMicros.toFixed(0)} µs; built-in ${cost(r.builtin)}, ours ${cost(r.on)}; ` +
      `with uploads and GC (means): built-in ${mean(r.builtin)}, ours ${mean(r.on)} µs`
    );
  },
});

export const HEAD_TO_HEAD = figure<AnchorCaseCosts>({
  id: 'anchor.headToHead',
  group: 'Anchor',
  title: (r) =>
    `${r.name}, head to head: ours less the built-in, in the same processes (median of ${r.headToHead.rotations} rotations in ${processCount(r.headToHead.processes)})`,
  target: atMost(
    (r) => r.headToHead.medianMicros,
    () => 0,
    { name: 'ours − built-in', label: () => '0 µs' },
  ),
  measured: ({ headToHead: h }) =>
    `${signed(h.medianMicros)} ± ${h.seMicros.toFixed(1)} µs; over the plain driver there, built-in ${signed(h.builtinMicros)}, ours ${signed(h.onMicros)} µs`,
});

export const UPLOADS_RECEIVED = figure<Record<AnchorProcessKind, AnchorSubjectRuns>>({
  id: 'anchor.uploadsReceived',
  group: 'Anchor',
  title: 'telemetry uploads the emulator received while each subject ran',
  target: holds('> 0 from each', (runs) => runs.builtin.uploads > 0 && runs.on.uploads > 0),
  measured: (runs) => {
    const sent = (subject: AnchorProcessKind) =>
      `${runs[subject].uploads} uploads over ${runs[subject].statementsPerClient.toLocaleString('en-US')} statements in ${processCount(runs[subject].processes)}`;
    return `built-in ${sent('builtin')}; ours ${sent('on')}; both, head to head, ${sent('headToHead')}`;
  },
});

interface ProfileReading {
  name: string;
  builtin: ProfileShare;
  on: ProfileShare;
  /** Forwarding hooks that record nothing, at our hook points: the floor under ours. */
  hooks: ProfileShare;
}

export const OWN_CODE = figure<ProfileReading>({
  id: 'anchor.ownCode',
  group: 'Anchor',
  title: (r) => `${r.name}: the telemetry's own code per statement, sampling profiler (uploads left out)`,
  target: oursAtMostBuiltin(
    (r) => r.on.ownMicrosPerStatement,
    (r) => r.builtin.ownMicrosPerStatement,
  ),
  measured: ({ builtin, on, hooks }) => {
    const top = on.topLibFunctions
      .slice(0, 3)
      .map((f) => f.name.replace(/ .*\//, ' '))
      .join(', ');
    return (
      `built-in ${builtin.ownMicrosPerStatement.toFixed(2)} µs (${(builtin.libShare * 100).toFixed(2)} %), ours ${on.ownMicrosPerStatement.toFixed(2)} µs (${(on.libShare * 100).toFixed(2)} %; top: ${top}); ` +
      `forwarding hooks that record nothing, at our points: ${hooks.ownMicrosPerStatement.toFixed(2)} µs`
    );
  },
});

interface UploadPerLog {
  median: number;
  se: number;
  uploads?: number;
}

interface UploadReading {
  builtin: UploadPerLog;
  on: UploadPerLog;
  reps: number;
}

export const UPLOAD_PER_LOG = figure<UploadReading>({
  id: 'anchor.uploadPerLog',
  group: 'Anchor',
  title: (r) =>
    `upload: CPU per log, idle windows in which ${ANCHOR_UPLOAD_LOGS} logs go out, less a plain client's (median of ${r.reps})`,
  target: oursAtMostBuiltin(
    (r) => r.on.median,
    (r) => r.builtin.median,
  ),
  measured: ({ builtin, on }) =>
    `built-in ${builtin.median.toFixed(1)} ± ${builtin.se.toFixed(1)} µs (${builtin.uploads} uploads), ours ${on.median.toFixed(1)} ± ${on.se.toFixed(1)} µs (${on.uploads} uploads)`,
});

async function measureAnchor(recorder: FigureRecorder): Promise<void> {
  progress(`anchor: starting a second emulator on ${ANCHOR_ADDRESS}:443 (CLI, separate process)`);
  const emulator = await startAnchorEmulator();
  if (typeof emulator === 'string') {
    progress(`anchor: skipped: ${emulator}`);
    recorder.results.anchor = { skipped: emulator } satisfies Pick<AnchorResults, 'skipped'>;
    recorder.record(SKIPPED, emulator);
    return;
  }
  try {
    await anchorRuns(recorder, emulator);
    await anchorProfiles(recorder, emulator);
    await anchorUploads(recorder, emulator);
  } finally {
    await emulator.stop();
  }
}

/** Upload cost per log for both, from the CPU of idle windows in which they upload (children/uploadIdle.ts). */
async function anchorUploads(recorder: FigureRecorder, emulator: EmulatorProcess): Promise<void> {
  const perSubject: Partial<Record<AnchorSubject, UploadIdleResult & { uploads: number }>> = {};
  for (const [subject, label] of ANCHOR_SUBJECTS) {
    progress(`anchor: upload cost per log, ${label}: idle windows after ${ANCHOR_UPLOAD_LOGS} statements`);
    const spec: UploadIdleSpec = {
      endpoint: { ...emulator.endpoint, host: ANCHOR_HOST },
      address: ANCHOR_ADDRESS,
      subject,
      sql: anchorSql('direct', 'columns'),
      warmup: QUICK ? 200 : 2000,
      logs: ANCHOR_UPLOAD_LOGS,
      reps: QUICK ? 2 : 8,
      idleMs: DEFAULT_TELEMETRY_CONFIG.flushIntervalMs + 700,
    };
    const before = await emulator.requestCounts();
    const result = await runJsonChild<UploadIdleResult>('uploadIdle.ts', [JSON.stringify(spec)], []);
    const uploads = requestsBetween(before, await emulator.requestCounts()).telemetryExt ?? 0;
    await emulator.clearTelemetry();
    perSubject[subject] = { ...result, uploads };
  }
  recorder.results.anchorUploads = perSubject;
  const perLog = (result: UploadIdleResult) => {
    const diffs = result.subjectIdleMicros.map((micros, i) => (micros - result.plainIdleMicros[i]) / result.logs);
    return { median: median(diffs), se: medianSe(diffs) };
  };
  const builtin = perLog(perSubject.builtin as UploadIdleResult);
  const on = perLog(perSubject.on as UploadIdleResult);
  const reps = (perSubject.on as UploadIdleResult).subjectIdleMicros.length;
  recorder.record(UPLOAD_PER_LOG, {
    builtin: { ...builtin, uploads: perSubject.builtin?.uploads },
    on: { ...on, uploads: perSubject.on?.uploads },
    reps,
  });
}

/**
 * The low-noise counterpart of the anchor rows: each subject's client under the sampling profiler
 * (children/profileOn.ts), charged with the time its own telemetry code owns per statement. The
 * driver's hook points, which both pay alike, are owned by neither. A third run, forwarding hooks
 * that record nothing at our hook points, gives the floor under ours. Uploads are left out (nothing
 * is sent while profiling): the built-in sends through node-fetch, which the profile cannot tell
 * from the driver's own use of it; the upload rows below measure both alike.
 */
async function anchorProfiles(recorder: FigureRecorder, emulator: EmulatorProcess): Promise<void> {
  const sqls: Record<string, string> = {};
  for (const path of ['direct', 'polled'] as const) {
    for (const format of ['columns', 'arrow', 'cloudfetch'] as const) {
      sqls[`${path} ${format}`] = anchorSql(path, format);
    }
  }
  const shares: Partial<Record<AnchorSubject | 'hooks', ProfileShare[]>> = {};
  const subjects: ReadonlyArray<[AnchorSubject | 'hooks', string]> = [
    ...ANCHOR_SUBJECTS,
    ['hooks', 'forwarding hooks alone'],
  ];
  for (const [subject, label] of subjects) {
    progress(`anchor: profiler, ${label}: the telemetry's own code per statement`);
    const spec: ProfileSpec = {
      endpoint: { ...emulator.endpoint, host: ANCHOR_HOST },
      address: ANCHOR_ADDRESS,
      subject,
      // Six formats of warm-up and measured statements stay under the child's batch of 10,000
      // logs, so nothing is uploaded while profiling.
      warmup: QUICK ? 30 : 500,
      queries: QUICK ? 100 : 1100,
      sqls,
      uploads: false,
      intervalMicros: 50,
    };
    shares[subject] = await runJsonChild<ProfileShare[]>('profileOn.ts', [JSON.stringify(spec)], []);
    await emulator.clearTelemetry();
  }
  recorder.results.anchorProfiles = shares;
  for (const name of Object.keys(sqls)) {
    const of = (subject: AnchorSubject | 'hooks') =>
      shares[subject]?.find((share) => share.format === name) as ProfileShare;
    recorder.record(OWN_CODE, { name, builtin: of('builtin'), on: of('on'), hooks: of('hooks') });
  }
}

async function anchorRuns(recorder: FigureRecorder, emulator: EmulatorProcess): Promise<void> {
  const cases: AnchorCase[] = (['direct', 'polled'] as const).flatMap((path) =>
    (['columns', 'arrow', 'cloudfetch'] as const).map((format) => ({
      name: `${path} ${format}`,
      path,
      format,
      sql: anchorSql(path, format),
      rotationsPerProcess: ANCHOR_ROTATIONS[path][format],
    })),
  );
  const spec: Omit<AnchorSpec, 'clients'> = {
    endpoint: { ...emulator.endpoint, host: ANCHOR_HOST },
    address: ANCHOR_ADDRESS,
    jitWarmup: [anchorSql('direct', 'columns'), QUICK ? 300 : 2000],
    warmup: QUICK ? 12 : 60,
    cases: Object.fromEntries(cases.map((c) => [c.name, [c.sql, c.rotationsPerProcess]])),
  };
  const statementsPerClient =
    spec.jitWarmup[1] + cases.reduce((sum, c) => sum + spec.warmup + c.rotationsPerProcess, 0);
  const outputs: Record<AnchorProcessKind, AnchorOutput[]> = { builtin: [], on: [], headToHead: [] };
  const noRuns = (): AnchorSubjectRuns => ({
    processes: 0,
    statementsPerClient: 0,
    uploads: 0,
    unauthenticatedUploads: 0,
  });
  const runs: Record<AnchorProcessKind, AnchorSubjectRuns> = {
    builtin: noRuns(),
    on: noRuns(),
    headToHead: noRuns(),
  };
  for (let run = 0; run < ANCHOR_PROCESSES; run += 1) {
    for (const [kind, label] of ANCHOR_PROCESS_KINDS) {
      progress(
        `anchor: ${label}, process ${run + 1} of ${ANCHOR_PROCESSES} (${statementsPerClient.toLocaleString('en-US')} statements per client)`,
      );
      const before = await emulator.requestCounts();
      const output = await runJsonChild<AnchorOutput>(
        'anchor.ts',
        [JSON.stringify({ ...spec, clients: ANCHOR_PROCESS_CLIENTS[kind] } satisfies AnchorSpec)],
        [],
      );
      const requests = requestsBetween(before, await emulator.requestCounts());
      await emulator.clearTelemetry();
      outputs[kind].push(output);
      runs[kind].processes += 1;
      runs[kind].statementsPerClient += statementsPerClient;
      runs[kind].uploads += requests.telemetryExt ?? 0;
      runs[kind].unauthenticatedUploads += requests.telemetryUnauth ?? 0;
      const perCase = output.map((sample) => {
        const cost = kind === 'headToHead' ? headToHeadCost([sample]) : anchorCost([sample]);
        return `${sample.name} ${signed(cost.medianMicros)}`;
      });
      const measured = kind === 'headToHead' ? 'ours less the built-in' : 'over the plain driver';
      progress(
        `  anchor: ${label}: ${requests.telemetryExt} uploads; µs per statement ${measured}: ${perCase.join(', ')}`,
      );
    }
  }

  const caseResults: AnchorCaseResult[] = cases.map((c) => {
    const samplesOf = (kind: AnchorProcessKind) =>
      outputs[kind].map((output) => output.find((sample) => sample.name === c.name)!);
    const all = [...samplesOf('builtin'), ...samplesOf('on')];
    const plainMedianMicros = round(median(all.flatMap((sample) => sample.micros[0])), 1);
    const costs: AnchorCaseCosts = {
      ...c,
      budgetFraction: ANCHOR_BUDGET[c.path],
      plainMedianMicros,
      builtin: anchorCost(samplesOf('builtin')),
      on: anchorCost(samplesOf('on')),
      headToHead: headToHeadCost(samplesOf('headToHead')),
    };
    return {
      ...costs,
      oursAtMostBuiltin: CASE_AT_MOST_BUILTIN.check(costs) === true,
      oursWithinBudget: CASE_WITHIN_BUDGET.check(costs) === true,
      pass: CASE_COST.target.check(costs) === true,
      headToHeadPass: HEAD_TO_HEAD.target.check(costs) === true,
    };
  });
  recorder.results.anchor = {
    skipped: null,
    host: ANCHOR_HOST,
    address: ANCHOR_ADDRESS,
    port: emulator.endpoint.port,
    processesPerSubject: ANCHOR_PROCESSES,
    jitWarmup: { sql: spec.jitWarmup[0], rotations: spec.jitWarmup[1] },
    warmupPerCase: spec.warmup,
    subjects: runs,
    cases: caseResults,
  } satisfies AnchorResults;

  for (const result of caseResults) {
    recorder.record(CASE_COST, result);
  }
  for (const result of caseResults) {
    recorder.record(HEAD_TO_HEAD, result);
  }
  recorder.record(UPLOADS_RECEIVED, runs);
}

export const anchor: Part = { name: 'anchor', emulator: false, run: measureAnchor };
