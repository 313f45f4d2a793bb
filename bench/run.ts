/**
 * The benchmarks: `npm run bench`. Prints a table (figure, target, measured, pass/fail) on stdout
 * and progress on stderr. A full run writes everything measured to bench/results/latest.json and
 * regenerates README.md's figures from it (scripts/generate-bench-readme.ts). A quick run
 * (`BENCH_QUICK=1`, `npm run bench:quick`) shrinks every figure for a smoke run and writes
 * bench/results/quick.json; a full run of only some parts (`BENCH_ONLY`) writes subset.json;
 * neither touches latest.json or the README. The exit code is non-zero only when something
 * crashed, never for a missed target: CI runs the quick bench as a smoke test.
 *
 * Layout: the hot path runs in this process; every other figure runs in child processes against
 * one workspace emulator, itself a child started through the CLI (`lib/cli/index.ts emulator`), so
 * emulator CPU never counts against a client. The anchor rows have an emulator of their own, on
 * port 443 (see children/anchor.ts).
 */
import { execFileSync, spawn } from 'child_process';
import { mkdirSync, writeFileSync } from 'fs';
import { cpus } from 'os';
import { join } from 'path';
import type { AnchorOutput, AnchorSpec } from './children/anchor';
import type { ConnectResult } from './children/connectWorker';
import type { ExitChildSpec } from './children/exitChild';
import type { PairedOutput, PairedSpec } from './children/pairedOnOff';
import type {
  OpenTelemetryPhase,
  PairedOpenTelemetryOutput,
  PairedOpenTelemetrySpec,
} from './children/pairedOpenTelemetry';
import { benchChurnSpec, CHURN_NODE_FLAGS, ChurnResult, churnRows } from './children/churn';
import type { ProfileShare, ProfileSpec } from './children/profileOn';
import type { UploadIdleResult, UploadIdleSpec } from './children/uploadIdle';
import type { OutageResult } from './children/outage';
import type { UploadCostResult, UploadCostSpec } from './children/uploadCost';
import { runHotPath } from './hotPath';
import {
  AnchorCase,
  AnchorCaseResult,
  AnchorCost,
  anchorCost,
  AnchorFormat,
  AnchorPath,
  AnchorResults,
  anchorSql,
  AnchorSubject,
  AnchorSubjectRuns,
} from './support/anchoring';
import { cleanEnv } from './support/clients';
import { EmulatorProcess, RequestCounts } from './support/emulatorProcess';
import { ExitRun, runExitChild } from './support/exitRunner';
import { progress } from './support/log';
import { PairedResult, PairedSample, poolPairs } from './support/pairing';
import { CHILDREN, ROOT, tsNodeArgs } from './support/paths';
import { mad, max, median, medianSe, min, round } from './support/stats';
import { QueryWorker } from './support/worker';
import { DEFAULT_TELEMETRY_CONFIG } from '../lib/telemetry/types';
import { BenchFigure, BenchRun, LATEST_RESULTS, RESULTS_DIR, writeBenchReadme } from '../scripts/generate-bench-readme';

const QUICK = process.env.BENCH_QUICK === '1';
const PARTS = ['hot', 'outage', 'overhead', 'connect', 'exit', 'churn', 'anchor'];
/** `BENCH_ONLY=overhead,connect` runs a subset of PARTS. */
const ONLY = new Set((process.env.BENCH_ONLY ?? PARTS.join(',')).split(',').map((part) => part.trim()));
const ALL_PARTS = PARTS.every((part) => ONLY.has(part));

const figures: BenchFigure[] = [];
const results: Record<string, unknown> = {};

function record(group: string, figure: string, target: string, measured: string, pass?: boolean): void {
  figures.push({ group, figure, target, measured, pass });
  progress(`${verdict(pass)} ${group}: ${figure}: ${measured} (target ${target})`);
}

function verdict(pass: boolean | undefined): string {
  if (pass === undefined) {
    return 'info';
  }
  return pass ? 'pass' : 'FAIL';
}

// ---------------------------------------------------------------------------------------------
// Overhead: client CPU per query, A/B interleaved across two long-lived client processes.

const SQL = {
  columns: '/* emulator: format=columns */ SELECT 1',
  arrow: '/* emulator: format=arrow */ SELECT 1',
  cloudfetch: '/* emulator: format=cloudfetch chunks=2 */ SELECT * FROM range(2000)',
} as const;

/**
 * Telemetry on as users get it: the default batch (100 logs) and flush interval (5 s). A sample
 * runs 80 to 200 statements, so uploads happen during every sample, and the CPU charged to a
 * sample runs until the side's next sample starts, so a late upload is counted too.
 */
const ON_TELEMETRY = {};

interface AbResult {
  label: string;
  sql: string;
  queriesPerSample: number;
  pairs: number;
  /** CPU per query charged to each sample: from its start to the start of the worker's next sample. */
  aMicrosPerQuery: number[];
  bMicrosPerQuery: number[];
  ratios: number[];
  medianRatio: number;
  ratioMad: number;
  /** Standard error of the median ratio (1.2533 * sigma / sqrt(n), sigma from the MAD). */
  ratioSe: number;
  medianA: number;
  medianB: number;
  /** The same from the statements alone (sample start to end), for comparison. */
  inSampleMedianRatio: number;
  requests?: Partial<RequestCounts>;
}

/**
 * A/B pairs, interleaved, alternating which side goes first. Each worker's sample is charged with
 * the CPU from its start to the start of that worker's next sample (or a final mark): an idle
 * Node process spends next to nothing, so the difference is exactly the work the statements and
 * their telemetry caused, however late a flush runs.
 */
async function abPairs(
  label: string,
  a: QueryWorker,
  b: QueryWorker,
  sql: string,
  queries: number,
  pairs: number,
): Promise<AbResult> {
  // Warm-up sample on each side for this statement.
  await a.sample(sql, queries);
  await b.sample(sql, queries);
  const starts = new Map<QueryWorker, number[]>([
    [a, []],
    [b, []],
  ]);
  const inSample = new Map<QueryWorker, number[]>([
    [a, []],
    [b, []],
  ]);
  for (let pair = 0; pair < pairs; pair += 1) {
    const order = pair % 2 === 0 ? [a, b] : [b, a];
    for (const worker of order) {
      const sample = await worker.sample(sql, queries);
      starts.get(worker)?.push(sample.cpuAtStart);
      inSample.get(worker)?.push((sample.cpuAtEnd - sample.cpuAtStart) / queries);
    }
  }
  for (const worker of [a, b]) {
    starts.get(worker)?.push(await worker.mark());
  }
  const perQuery = (worker: QueryWorker) => {
    const list = starts.get(worker) as number[];
    return list.slice(0, -1).map((start, i) => (list[i + 1] - start) / queries);
  };
  const aValues = perQuery(a);
  const bValues = perQuery(b);
  const ratios = aValues.map((value, i) => value / bValues[i]);
  const inSampleA = inSample.get(a) as number[];
  const inSampleB = inSample.get(b) as number[];
  const ratioMad = mad(ratios);
  const result: AbResult = {
    label,
    sql,
    queriesPerSample: queries,
    pairs,
    aMicrosPerQuery: aValues.map((v) => round(v, 1)),
    bMicrosPerQuery: bValues.map((v) => round(v, 1)),
    ratios: ratios.map((v) => round(v, 4)),
    medianRatio: median(ratios),
    ratioMad,
    ratioSe: medianSe(ratios),
    medianA: median(aValues),
    medianB: median(bValues),
    inSampleMedianRatio: median(inSampleA.map((v, i) => v / inSampleB[i])),
  };
  progress(
    `  ${label}: ratios ${result.ratios.map((r) => r.toFixed(3)).join(' ')}; median ${result.medianRatio.toFixed(4)} ` +
      `(${a.name} ${result.medianA.toFixed(0)} µs/q, ${b.name} ${result.medianB.toFixed(0)} µs/q; in-sample ratio ${result.inSampleMedianRatio.toFixed(4)})`,
  );
  return result;
}

function countsDelta(before: RequestCounts, after: RequestCounts): Partial<RequestCounts> {
  return {
    thrift: after.thrift - before.thrift,
    cloudFetch: after.cloudFetch - before.cloudFetch,
    telemetryExt: after.telemetryExt - before.telemetryExt,
    telemetryUnauth: after.telemetryUnauth - before.telemetryUnauth,
    featureFlags: after.featureFlags - before.featureFlags,
  };
}

async function overhead(emulator: EmulatorProcess): Promise<void> {
  const pairs = QUICK ? 3 : 12;
  const small = QUICK ? 60 : 200;
  const cloudFetch = QUICK ? 30 : 80;
  // V8 keeps optimizing the driver for thousands of statements: a side that ran fewer looks
  // slower. Every worker gets a long warm-up, and before each comparison the side that ran fewer
  // statements catches up, so both are equally warm.
  const warmupPerFormat = QUICK ? 30 : 400;
  const warmup = async (worker: QueryWorker) => worker.warmup(Object.values(SQL), warmupPerFormat);
  const equalize = async (x: QueryWorker, y: QueryWorker) => {
    const [behind, ahead] = x.queriesRun < y.queriesRun ? [x, y] : [y, x];
    const perFormat = Math.floor((ahead.queriesRun - behind.queriesRun) / 3);
    if (perFormat > 0) {
      progress(`overhead: ${behind.name} catches up ${perFormat * 3} statements with ${ahead.name}`);
      await behind.warmup(Object.values(SQL), perFormat);
    }
  };

  // 1. Disabled (ours, telemetryEnabled false) vs plain @databricks/sql, with nothing else running:
  //    any telemetry or feature-flag request the emulator sees now came from one of these two.
  progress('overhead: disabled (ours) vs plain @databricks/sql');
  await emulator.resetRequestCounts();
  const before = await emulator.requestCounts();
  const off = new QueryWorker('off');
  const plain = new QueryWorker('plain');
  let ratioByFormat: Record<string, number> = {};
  try {
    await off.request({ type: 'init', kind: 'off', endpoint: emulator.endpoint });
    await plain.request({ type: 'init', kind: 'plain', endpoint: emulator.endpoint });
    progress('overhead: warming up (every format, both sides)');
    await warmup(off);
    await warmup(plain);
    const disabled = await abPairs('disabled/plain', off, plain, SQL.arrow, small, pairs);
    await plain.stop();
    const after = await emulator.requestCounts();
    disabled.requests = countsDelta(before, after);
    results.disabledVsPlain = disabled;
    const noise = Math.max(0.01, 2 * disabled.ratioSe);
    record(
      'Overhead',
      'disabled (ours) / plain driver, CPU per query (arrow SELECT 1)',
      `|ratio-1| <= max(1%, 2 SE) = ${(noise * 100).toFixed(1)}%`,
      `${disabled.medianRatio.toFixed(4)} (${disabled.medianA.toFixed(0)} vs ${disabled.medianB.toFixed(0)} µs/q, SE ${(disabled.ratioSe * 100).toFixed(2)}%)`,
      Math.abs(disabled.medianRatio - 1) <= noise,
    );
    const telemetryRequests = (disabled.requests.telemetryExt ?? 0) + (disabled.requests.telemetryUnauth ?? 0);
    record(
      'Overhead',
      'disabled: telemetry + feature-flag requests',
      '0',
      `${telemetryRequests} telemetry, ${disabled.requests.featureFlags} feature-flag (of ${disabled.requests.thrift} Thrift)`,
      telemetryRequests === 0 && disabled.requests.featureFlags === 0,
    );

    // 2. Telemetry on vs off, same client class, per result format.
    const on = new QueryWorker('on');
    try {
      await on.request({ type: 'init', kind: 'on', endpoint: emulator.endpoint, telemetry: ON_TELEMETRY });
      await warmup(on);
      await equalize(on, off);
      const formats: Array<[keyof typeof SQL, number]> = [
        ['columns', small],
        ['arrow', small],
        ['cloudfetch', cloudFetch],
      ];
      const perFormat: Record<string, AbResult> = {};
      for (const [format, queries] of formats) {
        progress(`overhead: telemetry on vs off, ${format}`);
        const countsBefore = await emulator.requestCounts();
        const result = await abPairs(`on/off ${format}`, on, off, SQL[format], queries, pairs);
        result.requests = countsDelta(countsBefore, await emulator.requestCounts());
        await emulator.clearTelemetry();
        perFormat[format] = result;
        record(
          'Overhead',
          `telemetry on / off, CPU per query, ${format} (${queries} q/sample, ${pairs} pairs)`,
          '<= 1.005',
          `${result.medianRatio.toFixed(4)} (${result.medianA.toFixed(0)} vs ${result.medianB.toFixed(0)} µs/q, SE ${(result.ratioSe * 100).toFixed(2)}%, ${result.requests.telemetryExt} uploads)`,
          result.medianRatio <= 1.005 && (result.requests.telemetryExt ?? 0) > 0,
        );
      }
      results.onVsOff = perFormat;
      ratioByFormat = Object.fromEntries(
        Object.entries(perFormat).map(([format, result]) => [format, result.medianRatio]),
      );
    } finally {
      await on.stop();
    }
  } finally {
    await Promise.all([off.stop(), plain.stop()]);
  }
  // With the A/B workers gone: nothing else of ours holds a connection or a timer.
  const columns = await pairedStatements(emulator);
  await uploadCost(emulator, columns);
  await pairedOpenTelemetry(emulator);
  await profileShares(emulator, ratioByFormat);
}

/** Processes the paired figures are spread over: one process's JIT and heap layout move its median. */
const PAIRED_PROCESSES = QUICK ? 1 : 3;

/**
 * The tight figure: on and off statements paired one by one, in each of a few processes (see
 * pairedOnOff.ts). Returns the columns figure.
 */
async function pairedStatements(emulator: EmulatorProcess): Promise<PairedResult> {
  progress(`overhead: statements paired one by one, telemetry on and off, in ${processCount(PAIRED_PROCESSES)}`);
  const perProcess = (pairs: number) => Math.ceil(pairs / PAIRED_PROCESSES);
  const spec: PairedSpec = {
    endpoint: emulator.endpoint,
    jitWarmup: [SQL.columns, QUICK ? 50 : 3000],
    warmup: QUICK ? 20 : 300,
    formats: {
      columns: [SQL.columns, perProcess(QUICK ? 200 : 3000)],
      arrow: [SQL.arrow, perProcess(QUICK ? 200 : 3000)],
      cloudfetch: [SQL.cloudfetch, perProcess(QUICK ? 60 : 800)],
    },
    floor: [SQL.columns, perProcess(QUICK ? 200 : 3000)],
  };
  const outputs: PairedOutput[] = [];
  for (let run = 0; run < PAIRED_PROCESSES; run += 1) {
    outputs.push(await runJsonChild<PairedOutput>('pairedOnOff.ts', [JSON.stringify(spec)], []));
  }
  const telemetry = Object.keys(spec.formats).map((format) =>
    poolPairs(outputs.map((output) => output.telemetry.find((sample) => sample.format === format)!)),
  );
  const floor = poolPairs(outputs.map((output) => output.floor as PairedSample));
  results.pairedStatements = telemetry;
  results.pairedFloor = floor;
  for (const result of telemetry) {
    // Judged on the point estimate; the standard error is printed beside it.
    record(
      'Overhead',
      `telemetry on - off per statement, ${result.format} (median of ${result.pairs} pairs in ${processCount(result.processes)}, ${result.clock} CPU)`,
      'ratio <= 1.005',
      `${signed(result.medianDiffMicros)} ± ${result.diffSeMicros.toFixed(1)} µs of ${result.medianOffMicros.toFixed(0)} µs: ${result.ratio.toFixed(4)} (per process ${perProcessMedians(result)})`,
      result.ratio <= 1.005,
    );
  }
  // Not a target: what the hook points alone cost, recording nothing (see bareHooks.ts).
  const budget = 0.005 * floor.medianOffMicros;
  record(
    'Overhead',
    `floor: forwarding hooks alone - plain driver, per statement, columns (median of ${floor.pairs} pairs in ${processCount(floor.processes)})`,
    `none (0.5 % = ${budget.toFixed(1)} µs)`,
    `${signed(floor.medianDiffMicros)} ± ${floor.diffSeMicros.toFixed(1)} µs of ${floor.medianOffMicros.toFixed(0)} µs: ${floor.ratio.toFixed(4)} (per process ${perProcessMedians(floor)})`,
  );
  await pairedFlagOff(emulator, { ...spec, formats: { columns: spec.formats.columns }, floor: undefined });
  return telemetry.find((result) => result.format === 'columns')!;
}

/**
 * With the workspace's feature flag off, telemetry on should cost what telemetry off costs: the
 * connection idles once the flag answers, which happens during the warm-up.
 */
async function pairedFlagOff(emulator: EmulatorProcess, spec: PairedSpec): Promise<void> {
  progress(
    `overhead: the workspace's flag off, statements paired one by one, telemetry on and off, in ${processCount(PAIRED_PROCESSES)}`,
  );
  await emulator.setFeatureFlag(false);
  const outputs: PairedOutput[] = [];
  const before = await emulator.requestCounts();
  try {
    for (let run = 0; run < PAIRED_PROCESSES; run += 1) {
      outputs.push(await runJsonChild<PairedOutput>('pairedOnOff.ts', [JSON.stringify(spec)], []));
    }
  } finally {
    await emulator.setFeatureFlag(true);
  }
  const requests = countsDelta(before, await emulator.requestCounts());
  const result = poolPairs(outputs.map((output) => output.telemetry[0]));
  results.pairedFlagOff = { ...result, requests };
  const uploads = (requests.telemetryExt ?? 0) + (requests.telemetryUnauth ?? 0);
  record(
    'Overhead',
    `flag off: telemetry on - off per statement, columns (median of ${result.pairs} pairs in ${processCount(result.processes)}, ${result.clock} CPU)`,
    'within 2 SE of 0, no upload',
    `${signed(result.medianDiffMicros)} ± ${result.diffSeMicros.toFixed(1)} µs of ${result.medianOffMicros.toFixed(0)} µs: ${result.ratio.toFixed(4)} (per process ${perProcessMedians(result)}; ${uploads} uploads, ${requests.featureFlags} flag requests)`,
    Math.abs(result.medianDiffMicros) <= 2 * result.diffSeMicros && uploads === 0,
  );
}

/**
 * Not a target: what uploading costs per statement, the part of telemetry's cost the paired figure
 * leaves out, beside what Node's own HTTPS costs to send the same bytes (the floor for any
 * uploader at this batch size).
 */
async function uploadCost(emulator: EmulatorProcess, columns: PairedResult): Promise<void> {
  const columnsOffMicros = columns.medianOffMicros;
  progress('overhead: upload cost per statement log, exporter and bare transport in alternating blocks');
  const spec: UploadCostSpec = {
    endpoint: emulator.endpoint,
    batchSize: DEFAULT_TELEMETRY_CONFIG.batchSize,
    warmup: QUICK ? 5 : 30,
    blocks: QUICK ? 4 : 40,
    exportsPerBlock: 10,
  };
  const result = await runJsonChild<UploadCostResult>('uploadCost.ts', [JSON.stringify(spec)], []);
  await emulator.clearTelemetry();
  results.uploadCost = result;
  const share = (micros: number) => `${((micros / columnsOffMicros) * 100).toFixed(2)} % of a columns SELECT 1`;
  const sampling = `median of ${result.blocks} blocks of ${result.exportsPerBlock} exports of ${result.batchSize}`;
  record(
    'Overhead',
    `upload: client CPU per statement log, the exporter to the emulator (${sampling})`,
    'none (the A/B counts it)',
    `${result.microsPerLog.toFixed(2)} µs per log of ${result.bytesPerLog} bytes: ${share(result.microsPerLog)}; ` +
      `${signed(result.exporterOverTransportMicrosPerLog)} ± ${result.exporterOverTransportSe.toFixed(2)} µs over the transport below (serializing, deadlines, response)`,
  );
  record(
    'Overhead',
    `upload floor: Node's https.request of the same ${(result.bodyBytes / 1024).toFixed(0)} KB body, built once, per log (${sampling})`,
    `none (0.5 % = ${(0.005 * columnsOffMicros).toFixed(1)} µs)`,
    `${result.transportMicrosPerLog.toFixed(2)} µs per log: ${share(result.transportMicrosPerLog)}`,
  );
  // One log per statement: the paired difference plus one log's upload is all telemetry costs a statement.
  const whole = columns.medianDiffMicros + result.microsPerLog;
  record(
    'Overhead',
    "whole cost per columns SELECT 1: paired on - off + one log's upload",
    'none (the A/B and paired rows carry the targets)',
    `${signed(whole)} ± ${columns.diffSeMicros.toFixed(1)} µs: ${share(whole)}, of which the upload floor ${share(result.transportMicrosPerLog)}`,
  );
}

/** What one side of pairedOpenTelemetry.ts measured, pooled over its processes. */
interface OpenTelemetryPairs {
  results: PairedResult[];
  /** Statements the OpenTelemetry side ran (warm-ups included), and what the SDK got meanwhile. */
  statements: number;
  statementSpans: number;
  otherSpans: number;
  durations: number;
  /** Every statement of the OpenTelemetry side gave one span and one duration; the plain side's none. */
  traced: boolean;
}

/**
 * Not a target: what the OpenTelemetry output costs per statement, paired like the rows above
 * (children/pairedOpenTelemetry.ts), with a real SDK registered (batch span processor, periodic
 * metric reader, exporters that drop). Our client with only the output on against the plain
 * driver, and the driver's own client under DatabricksSqlInstrumentation against our client with
 * telemetry off (which the instrumentation leaves alone).
 */
async function pairedOpenTelemetry(emulator: EmulatorProcess): Promise<void> {
  progress(
    `overhead: statements paired one by one, OpenTelemetry output and instrumentation against plain, in ${processCount(PAIRED_PROCESSES)}`,
  );
  const perProcess = (pairs: number) => Math.ceil(pairs / PAIRED_PROCESSES);
  // No arrow: the output does the same per statement for arrow as for columns (a span, two
  // measurements); CloudFetch adds a span event per chunk.
  const spec: PairedOpenTelemetrySpec = {
    endpoint: emulator.endpoint,
    jitWarmup: [SQL.columns, QUICK ? 50 : 3000],
    instrumentationJitWarmup: QUICK ? 30 : 1000,
    warmup: QUICK ? 20 : 300,
    formats: {
      columns: [SQL.columns, perProcess(QUICK ? 200 : 3000)],
      cloudfetch: [SQL.cloudfetch, perProcess(QUICK ? 40 : 800)],
    },
  };
  const outputs: PairedOpenTelemetryOutput[] = [];
  for (let run = 0; run < PAIRED_PROCESSES; run += 1) {
    outputs.push(await runJsonChild<PairedOpenTelemetryOutput>('pairedOpenTelemetry.ts', [JSON.stringify(spec)], []));
  }
  const pool = (side: keyof PairedOpenTelemetryOutput): OpenTelemetryPairs => {
    const phases: OpenTelemetryPhase[] = outputs.map((output) => output[side]);
    const sum = (field: 'statements' | 'statementSpans' | 'otherSpans' | 'durations') =>
      phases.reduce((total, phase) => total + phase[field], 0);
    return {
      results: Object.keys(spec.formats).map((format) =>
        poolPairs(phases.map((phase) => phase.samples.find((sample) => sample.format === format)!)),
      ),
      statements: sum('statements'),
      statementSpans: sum('statementSpans'),
      otherSpans: sum('otherSpans'),
      durations: sum('durations'),
      traced: phases.every(
        (phase) => phase.statementSpans === phase.statements && phase.durations === phase.statements,
      ),
    };
  };
  const output = pool('output');
  const instrumentation = pool('instrumentation');
  results.pairedOpenTelemetry = { output, instrumentation };
  const rows: Array<[OpenTelemetryPairs, string, string]> = [
    [
      output,
      'OpenTelemetry output on - plain',
      'our client with only telemetryOpenTelemetry on, against the plain driver',
    ],
    [
      instrumentation,
      'OpenTelemetry instrumentation - plain',
      "the driver's client under DatabricksSqlInstrumentation, against our client with telemetry off",
    ],
  ];
  for (const [side, name, subjects] of rows) {
    const traced = `${side.statementSpans} statement spans and ${side.durations} durations for ${side.statements} statements`;
    for (const result of side.results) {
      const budget = 0.005 * result.medianOffMicros;
      record(
        'Overhead',
        `${name} per statement, ${result.format} (${subjects}; median of ${result.pairs} pairs in ${processCount(result.processes)}, ${result.clock} CPU)`,
        `none (0.5 % = ${budget.toFixed(1)} µs)`,
        `${signed(result.medianDiffMicros)} ± ${result.diffSeMicros.toFixed(1)} µs of ${result.medianOffMicros.toFixed(0)} µs: ${result.ratio.toFixed(4)} ` +
          `(per process ${perProcessMedians(result)}; ${side.traced ? traced : `check failed, not what it says: ${traced}`})`,
        side.traced ? undefined : false,
      );
    }
  }
}

function processCount(count: number): string {
  return `${count} process${count === 1 ? '' : 'es'}`;
}

function perProcessMedians(result: PairedResult): string {
  return result.processMedianDiffs.map((diff) => signed(diff)).join(', ');
}

function signed(micros: number): string {
  return `${micros >= 0 ? '+' : ''}${micros.toFixed(1)}`;
}

/** The profiler cross-check: lib/'s share of a warm telemetry-on client's CPU, per format. */
async function profileShares(emulator: EmulatorProcess, ratios: Record<string, number>): Promise<void> {
  progress('overhead: profiler cross-check (share of client CPU owned by lib/)');
  const spec = { endpoint: emulator.endpoint, warmup: QUICK ? 50 : 300, queries: QUICK ? 100 : 400, sqls: SQL };
  const shares = await runJsonChild<ProfileShare[]>('profileOn.ts', [JSON.stringify(spec)], []);
  results.profileShares = shares;
  for (const share of shares) {
    const top = share.topLibFunctions
      .slice(0, 3)
      .map((f) => `${f.name.replace(/ .*\//, ' ')} ${(f.share * 100).toFixed(2)}%`)
      .join(', ');
    record(
      'Overhead',
      `profiler: lib/ share of telemetry-on client CPU, ${share.format} (A/B median ${(ratios[share.format] ?? NaN).toFixed(3)})`,
      '<= 0.5%',
      `${(share.libShare * 100).toFixed(2)}% (top: ${top})`,
      share.libShare <= 0.005,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Outage memory: a child with --expose-gc and fake timers.

/**
 * A child trusts the emulator's CA process-wide, as every process trusts a workspace's public CA:
 * its connections carry no `customCaCert` (see connectOptions), so telemetry's uploads and the
 * driver's built-in ones both go as they do against a real workspace.
 */
function trustingEmulatorCa(args: string[], env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  if (env.NODE_EXTRA_CA_CERTS !== undefined) {
    return env;
  }
  for (const arg of args) {
    try {
      const caPath = (JSON.parse(arg) as { endpoint?: { caPath?: unknown } })?.endpoint?.caPath;
      if (typeof caPath === 'string') {
        return { ...env, NODE_EXTRA_CA_CERTS: caPath };
      }
    } catch {
      // Not a spec.
    }
  }
  return env;
}

function runJsonChild<T>(
  entry: string,
  args: string[],
  nodeFlags: string[],
  env: NodeJS.ProcessEnv = cleanEnv(),
): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, tsNodeArgs(join(CHILDREN, entry), nodeFlags).concat(args), {
      cwd: ROOT,
      env: trustingEmulatorCa(args, env),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.on('data', (data: Buffer) => {
      stdout += data.toString();
    });
    child.once('close', (code) => {
      const line = stdout.trim().split('\n').pop() ?? '';
      try {
        if (code !== 0) {
          throw new Error(`exit code ${code}`);
        }
        resolve(JSON.parse(line) as T);
      } catch (error) {
        reject(new Error(`${entry}: ${(error as Error).message}; output: ${stdout.slice(-500)}`));
      }
    });
  });
}

async function outage(): Promise<void> {
  progress('outage: one simulated hour at 1,000 statements/s (503 for 30 min, then hanging)');
  const minutes = QUICK ? 6 : 60;
  const result = await runJsonChild<OutageResult>('outage.ts', [], ['--expose-gc'], {
    ...cleanEnv(),
    BENCH_OUTAGE_MINUTES: String(minutes),
  });
  results.outage = result;
  record(
    'Outage',
    `retained heap growth over ${minutes} simulated min (after gc, vs minute 2)`,
    '<= 4 MB',
    `max +${result.maxGrowthMB.toFixed(2)} MB, end ${result.endGrowthMB >= 0 ? '+' : ''}${result.endGrowthMB.toFixed(2)} MB (baseline ${result.baselineMB.toFixed(1)} MB)`,
    result.maxGrowthMB <= 4,
  );
  const dropped = result.clientDropped + result.exporterDropped;
  record(
    'Outage',
    `drops counted (${result.statements.toLocaleString('en-US')} statement logs)`,
    `all accounted (<= 1 batch in flight), > 0 dropped`,
    `${dropped.toLocaleString('en-US')} dropped (queue ${result.clientDropped.toLocaleString('en-US')}, exporter ${result.exporterDropped.toLocaleString('en-US')}), ${result.queued} queued, ${result.unaccounted} in flight`,
    dropped > 0 && result.unaccounted >= 0 && result.unaccounted <= result.batchSize,
  );
  const perMinute = result.attemptsPerMinute;
  const limit = DEFAULT_TELEMETRY_CONFIG.circuitBreakerThreshold + 1;
  record(
    'Outage',
    'upload attempts per minute (circuit breaker)',
    `<= ${limit} in any minute`,
    `max ${max(perMinute)}, median ${median(perMinute)}, total ${perMinute.reduce((a, b) => a + b, 0)} in ${minutes} min`,
    max(perMinute) <= limit,
  );
}

// ---------------------------------------------------------------------------------------------
// Close and exit: short-lived application processes.

/** Variants whose `await client.close()` runs with nothing else holding the event loop. */
const RETURN_CHECKED = ['on, close()', 'on, endpoint hanging, close()'];

async function closeAndExit(emulator: EmulatorProcess): Promise<void> {
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
  const healthyUploads = countsDelta(healthyBefore, await emulator.requestCounts()).telemetryExt ?? 0;
  progress('close/exit: telemetry endpoint hanging');
  const countsBefore = await emulator.requestCounts();
  await emulator.setFault('telemetry', { kind: 'hang', times: 'forever' });
  try {
    await runGroup(hanging);
  } finally {
    await emulator.clearFaults('telemetry');
  }
  const hangingUploads = countsDelta(countsBefore, await emulator.requestCounts()).telemetryExt ?? 0;

  const summary: Record<
    string,
    { exitMs: number[]; closeMs: number[]; unfinished: number; exitDuringCloseMs: number[] }
  > = {};
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
  results.closeAndExit = { reps, summary, healthyUploads, hangingUploads };

  const deadline = DEFAULT_TELEMETRY_CONFIG.closeTimeoutMs;
  const hangClose = summary['on, endpoint hanging, close(), app holds loop'].closeMs;
  const offClose = summary['off, endpoint hanging, close(), app holds loop'].closeMs;
  record(
    'Close/exit',
    `close() duration, telemetry endpoint hanging (${hangingUploads} uploads hung)`,
    `<= close deadline ${deadline} ms + 100`,
    hangClose.length > 0
      ? `median ${median(hangClose).toFixed(0)} ms, max ${max(hangClose).toFixed(0)} ms (telemetry off: ${median(offClose).toFixed(0)} ms)`
      : 'close() never returned',
    hangClose.length === reps && max(hangClose) <= deadline + 100 && hangingUploads > 0,
  );
  for (const name of RETURN_CHECKED) {
    const entry = summary[name];
    record(
      'Close/exit',
      `await close() returns to the caller: ${name}, nothing else holding the loop`,
      `returns in every run`,
      entry.unfinished === 0
        ? `returned ${reps}/${reps} (close() median ${median(entry.closeMs).toFixed(0)} ms)`
        : `returned ${reps - entry.unfinished}/${reps}: process exited ${median(entry.exitDuringCloseMs).toFixed(0)} ms into close(); code after it never ran`,
      entry.unfinished === 0,
    );
  }
  const offExit = [...summary['off, close()'].exitMs, ...summary['off, no close()'].exitMs];
  for (const [name] of [...healthy, ...hanging]) {
    const entry = summary[name];
    const exits = entry.exitMs;
    if (entry.unfinished > 0 && RETURN_CHECKED.includes(name)) {
      continue; // Reported once, by its "close() returns" row.
    }
    record(
      'Close/exit',
      `last line of work -> exit: ${name}`,
      '<= 100 ms (every run)',
      entry.unfinished > 0
        ? `${entry.unfinished}/${reps} runs never reached their last line (exited inside close())` +
            (exits.length > 0 ? `; others max ${max(exits).toFixed(1)} ms` : '')
        : `median ${median(exits).toFixed(1)} ms, max ${max(exits).toFixed(1)} ms (telemetry off: median ${median(offExit).toFixed(1)} ms)`,
      // A negative time is a clock fault, not a fast exit.
      entry.unfinished === 0 && min(exits) >= 0 && max(exits) <= 100,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Connect latency with a hanging feature-flag endpoint.

async function connectLatency(emulator: EmulatorProcess): Promise<void> {
  const rounds = QUICK ? 5 : 20;
  progress(`connect: connect() + openSession(), feature flags hanging, ${rounds} each side`);
  const countsBefore = await emulator.requestCounts();
  await emulator.setFault('featureFlags', { kind: 'hang', times: 'forever' });
  let result: ConnectResult;
  try {
    result = await runJsonChild<ConnectResult>(
      'connectWorker.ts',
      [JSON.stringify({ endpoint: emulator.endpoint, rounds })],
      [],
    );
  } finally {
    await emulator.clearFaults('featureFlags');
  }
  const flagRequests = countsDelta(countsBefore, await emulator.requestCounts()).featureFlags ?? 0;
  const on = median(result.onMs);
  const off = median(result.offMs);
  const tolerance = Math.max(2, off * 0.05);
  results.connect = { ...result, flagRequests, medianOn: on, medianOff: off };
  record(
    'Connect',
    `connect() + openSession(), flag endpoint hanging (${flagRequests} flag requests hung)`,
    `on <= off + max(2 ms, 5%)`,
    `on ${on.toFixed(1)} ms vs off ${off.toFixed(1)} ms (median of ${rounds})`,
    on <= off + tolerance && flagRequests > 0,
  );
}

// ---------------------------------------------------------------------------------------------
// Anchor: the driver's built-in telemetry and ours, each against the plain driver in one process.

/** The built-in uploads only to port 443 of a host name that is not loopback (see anchor.ts). */
const ANCHOR_ADDRESS = '127.0.0.1';
const ANCHOR_HOST = 'workspace.emulator.test';
/** Processes per subject, built-in and ours alternating; each case's rotations are pooled across them. */
const ANCHOR_PROCESSES = QUICK ? 1 : 2;
/** Our cost's budget per statement, as a share of the plain driver's CPU. */
const ANCHOR_BUDGET: Record<AnchorPath, number> = { direct: 0.005, polled: 0.01 };
/**
 * Rotations per process and case, multiples of six (every order of the three clients equally
 * often). The direct cases get the most: their budget is the tighter, on a cheaper statement.
 */
const ANCHOR_ROTATIONS: Record<AnchorPath, Record<AnchorFormat, number>> = QUICK
  ? { direct: { columns: 180, arrow: 120, cloudfetch: 48 }, polled: { columns: 48, arrow: 48, cloudfetch: 30 } }
  : { direct: { columns: 1740, arrow: 1380, cloudfetch: 690 }, polled: { columns: 348, arrow: 348, cloudfetch: 240 } };
/** Logs per measured upload: fewer than a batch (100), so the flush timer sends them in the idle window. */
const ANCHOR_UPLOAD_LOGS = 90;
const ANCHOR_SUBJECTS: ReadonlyArray<[AnchorSubject, string]> = [
  ['builtin', 'built-in'],
  ['on', 'ours'],
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

async function anchor(): Promise<void> {
  progress(`anchor: starting a second emulator on ${ANCHOR_ADDRESS}:443 (CLI, separate process)`);
  const emulator = await startAnchorEmulator();
  if (typeof emulator === 'string') {
    progress(`anchor: skipped: ${emulator}`);
    results.anchor = { skipped: emulator } satisfies Pick<AnchorResults, 'skipped'>;
    record('Anchor', 'built-in and our telemetry against the plain driver', 'runs', `skipped: ${emulator}`);
    return;
  }
  try {
    await anchorRuns(emulator);
    await anchorProfiles(emulator);
    await anchorUploads(emulator);
  } finally {
    await emulator.stop();
  }
}

/** Upload cost per log for both, from the CPU of idle windows in which they upload (children/uploadIdle.ts). */
async function anchorUploads(emulator: EmulatorProcess): Promise<void> {
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
    const uploads = countsDelta(before, await emulator.requestCounts()).telemetryExt ?? 0;
    await emulator.clearTelemetry();
    perSubject[subject] = { ...result, uploads };
  }
  results.anchorUploads = perSubject;
  const perLog = (result: UploadIdleResult) => {
    const diffs = result.subjectIdleMicros.map((micros, i) => (micros - result.plainIdleMicros[i]) / result.logs);
    return { median: median(diffs), se: medianSe(diffs) };
  };
  const builtin = perLog(perSubject.builtin as UploadIdleResult);
  const on = perLog(perSubject.on as UploadIdleResult);
  const reps = (perSubject.on as UploadIdleResult).subjectIdleMicros.length;
  record(
    'Anchor',
    `upload: CPU per log, idle windows in which ${ANCHOR_UPLOAD_LOGS} logs go out, less a plain client's (median of ${reps})`,
    'ours <= built-in',
    `built-in ${builtin.median.toFixed(1)} ± ${builtin.se.toFixed(1)} µs (${perSubject.builtin?.uploads} uploads), ours ${on.median.toFixed(1)} ± ${on.se.toFixed(1)} µs (${perSubject.on?.uploads} uploads)`,
    on.median <= builtin.median,
  );
}

/**
 * The low-noise counterpart of the anchor rows: each subject's client under the sampling profiler
 * (children/profileOn.ts), charged with the time its own telemetry code owns per statement. The
 * driver's hook points, which both pay alike, are owned by neither. Uploads are left out (nothing
 * is sent while profiling): the built-in sends through node-fetch, which the profile cannot tell
 * from the driver's own use of it; the upload rows below measure both alike.
 */
async function anchorProfiles(emulator: EmulatorProcess): Promise<void> {
  const sqls: Record<string, string> = {};
  for (const path of ['direct', 'polled'] as const) {
    for (const format of ['columns', 'arrow', 'cloudfetch'] as const) {
      sqls[`${path} ${format}`] = anchorSql(path, format);
    }
  }
  const shares: Partial<Record<AnchorSubject, ProfileShare[]>> = {};
  for (const [subject, label] of ANCHOR_SUBJECTS) {
    progress(`anchor: profiler, ${label}: the telemetry's own code per statement`);
    const spec: ProfileSpec = {
      endpoint: { ...emulator.endpoint, host: ANCHOR_HOST },
      address: ANCHOR_ADDRESS,
      subject,
      warmup: QUICK ? 30 : 500,
      queries: QUICK ? 100 : 800,
      sqls,
      uploads: false,
      intervalMicros: 50,
    };
    shares[subject] = await runJsonChild<ProfileShare[]>('profileOn.ts', [JSON.stringify(spec)], []);
    await emulator.clearTelemetry();
  }
  results.anchorProfiles = shares;
  for (const name of Object.keys(sqls)) {
    const of = (subject: AnchorSubject) => shares[subject]?.find((share) => share.format === name) as ProfileShare;
    const [builtin, on] = [of('builtin'), of('on')];
    const top = on.topLibFunctions
      .slice(0, 3)
      .map((f) => f.name.replace(/ .*\//, ' '))
      .join(', ');
    record(
      'Anchor',
      `${name}: the telemetry's own code per statement, sampling profiler (uploads left out)`,
      'ours <= built-in',
      `built-in ${builtin.ownMicrosPerStatement.toFixed(2)} µs (${(builtin.libShare * 100).toFixed(2)} %), ours ${on.ownMicrosPerStatement.toFixed(2)} µs (${(on.libShare * 100).toFixed(2)} %; top: ${top})`,
      on.ownMicrosPerStatement <= builtin.ownMicrosPerStatement,
    );
  }
}

async function anchorRuns(emulator: EmulatorProcess): Promise<void> {
  const cases: AnchorCase[] = (['direct', 'polled'] as const).flatMap((path) =>
    (['columns', 'arrow', 'cloudfetch'] as const).map((format) => ({
      name: `${path} ${format}`,
      path,
      format,
      sql: anchorSql(path, format),
      rotationsPerProcess: ANCHOR_ROTATIONS[path][format],
    })),
  );
  const spec: Omit<AnchorSpec, 'subject'> = {
    endpoint: { ...emulator.endpoint, host: ANCHOR_HOST },
    address: ANCHOR_ADDRESS,
    jitWarmup: [anchorSql('direct', 'columns'), QUICK ? 300 : 2000],
    warmup: QUICK ? 12 : 60,
    cases: Object.fromEntries(cases.map((c) => [c.name, [c.sql, c.rotationsPerProcess]])),
  };
  const statementsPerClient =
    spec.jitWarmup[1] + cases.reduce((sum, c) => sum + spec.warmup + c.rotationsPerProcess, 0);
  const outputs: Record<AnchorSubject, AnchorOutput[]> = { builtin: [], on: [] };
  const runs: Record<AnchorSubject, AnchorSubjectRuns> = {
    builtin: { processes: 0, statementsPerClient: 0, uploads: 0, unauthenticatedUploads: 0 },
    on: { processes: 0, statementsPerClient: 0, uploads: 0, unauthenticatedUploads: 0 },
  };
  for (let run = 0; run < ANCHOR_PROCESSES; run += 1) {
    for (const [subject, label] of ANCHOR_SUBJECTS) {
      progress(
        `anchor: ${label}, process ${run + 1} of ${ANCHOR_PROCESSES} (${statementsPerClient.toLocaleString('en-US')} statements per client)`,
      );
      const before = await emulator.requestCounts();
      const output = await runJsonChild<AnchorOutput>(
        'anchor.ts',
        [JSON.stringify({ ...spec, subject } satisfies AnchorSpec)],
        [],
      );
      const requests = countsDelta(before, await emulator.requestCounts());
      await emulator.clearTelemetry();
      outputs[subject].push(output);
      runs[subject].processes += 1;
      runs[subject].statementsPerClient += statementsPerClient;
      runs[subject].uploads += requests.telemetryExt ?? 0;
      runs[subject].unauthenticatedUploads += requests.telemetryUnauth ?? 0;
      const perCase = output.map((sample) => {
        const cost = anchorCost([sample]);
        return `${sample.name} ${signed(cost.medianMicros)}`;
      });
      progress(
        `  anchor: ${label}: ${requests.telemetryExt} uploads; µs per statement over the plain driver: ${perCase.join(', ')}`,
      );
    }
  }

  const caseResults: AnchorCaseResult[] = cases.map((c) => {
    const samplesOf = (subject: AnchorSubject) =>
      outputs[subject].map((output) => output.find((sample) => sample.name === c.name)!);
    const all = [...samplesOf('builtin'), ...samplesOf('on')];
    const plainMedianMicros = round(median(all.flatMap((sample) => sample.plain)), 1);
    const builtin = anchorCost(samplesOf('builtin'));
    const on = anchorCost(samplesOf('on'));
    const budgetFraction = ANCHOR_BUDGET[c.path];
    const oursAtMostBuiltin = on.medianMicros <= builtin.medianMicros;
    const oursWithinBudget = on.medianMicros <= budgetFraction * plainMedianMicros;
    return {
      ...c,
      budgetFraction,
      plainMedianMicros,
      builtin,
      on,
      oursAtMostBuiltin,
      oursWithinBudget,
      pass: oursAtMostBuiltin && oursWithinBudget,
    };
  });
  results.anchor = {
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
    const share = (micros: number) => `${((micros / result.plainMedianMicros) * 100).toFixed(2)} %`;
    const cost = (c: AnchorCost) =>
      `${signed(c.medianMicros)} ± ${c.seMicros.toFixed(1)} µs (${share(c.medianMicros)})`;
    const mean = (c: AnchorCost) => `${signed(c.meanMicros)} ± ${c.meanSeMicros.toFixed(1)}`;
    record(
      'Anchor',
      `${result.name}: CPU per statement over the plain driver, less the control's (median of ${result.on.rotations} rotations in ${processCount(result.on.processes)} per subject)`,
      `ours <= built-in, ours <= ${(result.budgetFraction * 100).toFixed(1)} % (${(result.budgetFraction * result.plainMedianMicros).toFixed(1)} µs)`,
      `plain ${result.plainMedianMicros.toFixed(0)} µs; built-in ${cost(result.builtin)}, ours ${cost(result.on)}; ` +
        `with uploads and GC (means): built-in ${mean(result.builtin)}, ours ${mean(result.on)} µs`,
      result.pass,
    );
  }
  const sent = (subject: AnchorSubject) =>
    `${runs[subject].uploads} uploads over ${runs[subject].statementsPerClient.toLocaleString('en-US')} statements in ${processCount(runs[subject].processes)}`;
  record(
    'Anchor',
    'telemetry uploads the emulator received while each subject ran',
    '> 0 from each',
    `built-in ${sent('builtin')}; ours ${sent('on')}`,
    runs.builtin.uploads > 0 && runs.on.uploads > 0,
  );
}

// ---------------------------------------------------------------------------------------------

function hotPath(): void {
  progress('hot path: emitter + aggregator + serializer, in-process');
  const result = runHotPath(QUICK ? 50_000 : 200_000, QUICK ? 3 : 7);
  results.hotPath = result;
  record(
    'Hot path',
    'CPU per statement: start, 2 chunks, complete, serialize',
    '<= 2 µs',
    `${result.statementMicros.toFixed(2)} µs (events ${result.eventsOnlyMicros.toFixed(2)} µs; ${result.rounds} x ${result.iterationsPerRound.toLocaleString('en-US')})`,
    result.statementMicros <= 2,
  );
  record(
    'Hot path',
    'serializeProtoLog() throughput, statement logs',
    '>= 200,000 logs/s',
    `${Math.round(result.serializeLogsPerSecond).toLocaleString('en-US')} logs/s (+${result.uploadBodyMicrosPerLog.toFixed(2)} µs/log for uploadBody)`,
    result.serializeLogsPerSecond >= 200_000,
  );
}

function printTable(): void {
  const headers = ['Figure', 'Target', 'Measured', 'Result'];
  const rows = figures.map((f) => [`${f.group}: ${f.figure}`, f.target, f.measured, verdict(f.pass)]);
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  console.log(line(headers));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const row of rows) {
    console.log(line(row));
  }
  const targeted = figures.filter((f) => f.pass !== undefined);
  const met = targeted.filter((f) => f.pass).length;
  console.log(`\n${met}/${targeted.length} figures met their targets.`);
}

/**
 * Connection churn: connect / query / close cycles over many host names, some never closed, in a
 * child each for the plain driver and telemetry on (children/churn.ts): heap, handles and the
 * shared state left behind.
 */
async function churn(emulator: EmulatorProcess): Promise<void> {
  const spec = benchChurnSpec(emulator.endpoint, QUICK);
  progress(
    `churn: ${spec.cycles} connect/query/close cycles over ${spec.hosts} host names, 1 in ${spec.forgetEvery} never closed (plain driver, then telemetry on)`,
  );
  const env = { ...cleanEnv(), NODE_EXTRA_CA_CERTS: emulator.endpoint.caPath };
  const run = (kind: 'on' | 'plain') =>
    runJsonChild<ChurnResult>('churn.ts', [JSON.stringify({ ...spec, kind })], CHURN_NODE_FLAGS, env);
  const plain = await run('plain');
  const on = await run('on');
  results.churn = { on, plain };
  for (const row of churnRows(on, plain)) {
    record('Churn', row.figure, row.target, row.measured, row.pass);
  }
}

async function main(): Promise<void> {
  const started = Date.now();
  // Read before anything runs: the code measured is the code loaded now.
  const revision = gitRevision();
  progress(`node ${process.version}, ${cpus().length} CPUs${QUICK ? ', QUICK mode' : ''}`);
  // In-process and emulator-free figures first, while nothing else of ours runs.
  if (ONLY.has('hot')) {
    hotPath();
  }
  if (ONLY.has('outage')) {
    await outage();
  }
  if (['overhead', 'connect', 'exit', 'churn'].some((part) => ONLY.has(part))) {
    progress('starting the emulator (CLI, separate process)');
    const emulator = await EmulatorProcess.start();
    try {
      if (ONLY.has('overhead')) {
        await overhead(emulator);
      }
      if (ONLY.has('connect')) {
        await connectLatency(emulator);
      }
      if (ONLY.has('exit')) {
        await closeAndExit(emulator);
      }
      if (ONLY.has('churn')) {
        await churn(emulator);
      }
    } finally {
      await emulator.stop();
    }
  }
  // Last, with the other emulator gone.
  if (ONLY.has('anchor')) {
    await anchor();
  }
  const seconds = (Date.now() - started) / 1000;
  progress(`done in ${seconds.toFixed(0)} s`);
  const run: BenchRun = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    quick: QUICK,
    parts: PARTS.filter((part) => ONLY.has(part)),
    ...revision,
    seconds,
    figures,
    results,
  };
  // Only a full run of every part stands for the code: a quick or partial run never replaces it.
  const file = join(RESULTS_DIR, QUICK ? 'quick.json' : ALL_PARTS ? 'latest.json' : 'subset.json');
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(file, `${JSON.stringify(run, null, 2)}\n`);
  printTable();
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
