/**
 * Client CPU per query (`BENCH_ONLY=overhead`): A/B samples interleaved across two long-lived
 * client processes (children/queryWorker.ts), telemetry disabled against the plain driver and on
 * against off per result format; then the paired rows (paired.ts), the OpenTelemetry rows
 * (openTelemetry.ts) and the profiler's cross-check, in that order.
 */
import type { ProfileShare } from '../children/profileOn';
import { EmulatorProcess, RequestCounts, requestsBetween } from '../support/emulatorProcess';
import { figure, FigureRecorder } from '../support/figures';
import { runJsonChild } from '../support/jsonChild';
import { QUICK } from '../support/mode';
import type { Part } from '../support/part';
import { progress } from '../support/progress';
import { SQL } from '../support/statements';
import { mad, median, medianSe, round } from '../support/stats';
import { atMost, guard, holds, percent, ratioAtMost } from '../support/target';
import { QueryWorker } from '../support/worker';
import { pairedOpenTelemetry } from './openTelemetry';
import { pairedStatements, uploadCost } from './paired';

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

export const DISABLED_VS_PLAIN = figure<AbResult>({
  id: 'overhead.disabledVsPlain',
  group: 'Overhead',
  title: 'disabled (ours) / plain driver, CPU per query (arrow SELECT 1)',
  target: atMost(
    (r) => Math.abs(r.medianRatio - 1),
    (r) => Math.max(0.01, 2 * r.ratioSe),
    { name: '|ratio-1|', label: (noise) => `max(1%, 2 SE) = ${(noise * 100).toFixed(1)}%` },
  ),
  measured: (r) =>
    `${r.medianRatio.toFixed(4)} (${r.medianA.toFixed(0)} vs ${r.medianB.toFixed(0)} µs/q, SE ${(r.ratioSe * 100).toFixed(2)}%)`,
});

const telemetryRequests = (r: AbResult) => (r.requests?.telemetryExt ?? 0) + (r.requests?.telemetryUnauth ?? 0);

export const DISABLED_REQUESTS = figure<AbResult>({
  id: 'overhead.disabledRequests',
  group: 'Overhead',
  title: 'disabled: telemetry + feature-flag requests',
  target: holds('0', (r) => telemetryRequests(r) === 0 && r.requests?.featureFlags === 0),
  measured: (r) =>
    `${telemetryRequests(r)} telemetry, ${r.requests?.featureFlags} feature-flag (of ${r.requests?.thrift} Thrift)`,
});

interface OnOffReading {
  result: AbResult;
  format: string;
  queries: number;
  pairs: number;
}

export const ON_VS_OFF = figure<OnOffReading>({
  id: 'overhead.onVsOff',
  group: 'Overhead',
  title: ({ format, queries, pairs }) =>
    `telemetry on / off, CPU per query, ${format} (${queries} q/sample, ${pairs} pairs)`,
  // Uploads happened during the samples, or telemetry on was not what ran.
  target: ratioAtMost<OnOffReading>((r) => r.result.medianRatio, 1.005, false).and(
    guard((r) => (r.result.requests?.telemetryExt ?? 0) > 0),
  ),
  measured: ({ result }) =>
    `${result.medianRatio.toFixed(4)} (${result.medianA.toFixed(0)} vs ${result.medianB.toFixed(0)} µs/q, SE ${(result.ratioSe * 100).toFixed(2)}%, ${result.requests?.telemetryExt} uploads)`,
});

interface ProfileReading {
  share: ProfileShare;
  /** The A/B median ratio of the same format, beside it. */
  ratio: number;
}

export const PROFILE_SHARE = figure<ProfileReading>({
  id: 'overhead.profileShare',
  group: 'Overhead',
  title: ({ share, ratio }) =>
    `profiler: lib/ share of telemetry-on client CPU, ${share.format} (A/B median ${ratio.toFixed(3)})`,
  target: atMost((r) => r.share.libShare, 0.005, { label: percent }),
  measured: ({ share }) => {
    const top = share.topLibFunctions
      .slice(0, 3)
      .map((f) => `${f.name.replace(/ .*\//, ' ')} ${(f.share * 100).toFixed(2)}%`)
      .join(', ');
    return `${(share.libShare * 100).toFixed(2)}% (top: ${top})`;
  },
});

async function measureOverhead(recorder: FigureRecorder, emulator: EmulatorProcess): Promise<void> {
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
    disabled.requests = requestsBetween(before, after);
    recorder.results.disabledVsPlain = disabled;
    recorder.record(DISABLED_VS_PLAIN, disabled);
    recorder.record(DISABLED_REQUESTS, disabled);

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
        result.requests = requestsBetween(countsBefore, await emulator.requestCounts());
        await emulator.clearTelemetry();
        perFormat[format] = result;
        recorder.record(ON_VS_OFF, { result, format, queries, pairs });
      }
      recorder.results.onVsOff = perFormat;
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
  const columns = await pairedStatements(recorder, emulator);
  await uploadCost(recorder, emulator, columns);
  await pairedOpenTelemetry(recorder, emulator);
  await profileShares(recorder, emulator, ratioByFormat);
}

/** The profiler cross-check: lib/'s share of a warm telemetry-on client's CPU, per format. */
async function profileShares(
  recorder: FigureRecorder,
  emulator: EmulatorProcess,
  ratios: Record<string, number>,
): Promise<void> {
  progress('overhead: profiler cross-check (share of client CPU owned by lib/)');
  const spec = { endpoint: emulator.endpoint, warmup: QUICK ? 50 : 300, queries: QUICK ? 100 : 400, sqls: SQL };
  const shares = await runJsonChild<ProfileShare[]>('profileOn.ts', [JSON.stringify(spec)], []);
  recorder.results.profileShares = shares;
  for (const share of shares) {
    recorder.record(PROFILE_SHARE, { share, ratio: ratios[share.format] ?? NaN });
  }
}

export const overhead: Part = { name: 'overhead', emulator: true, run: measureOverhead };
