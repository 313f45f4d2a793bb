/**
 * The tight overhead figures (part of `BENCH_ONLY=overhead`): statements with telemetry on and off
 * paired one by one in one process (children/pairedOnOff.ts), in a few processes; the same with the
 * workspace's feature flag off; and what uploading costs per statement log (children/uploadCost.ts).
 */
import type { PairedOutput, PairedSpec } from '../children/pairedOnOff';
import type { UploadCostResult, UploadCostSpec } from '../children/uploadCost';
import { DEFAULT_TELEMETRY_CONFIG } from '../../lib/telemetry/types';
import { EmulatorProcess, RequestCounts, requestsBetween } from '../support/emulatorProcess';
import { figure, FigureRecorder } from '../support/figures';
import { perProcessMedians, processCount, signed } from '../support/format';
import { runJsonChild } from '../support/jsonChild';
import { QUICK } from '../support/mode';
import { PairedResult, PairedSample, poolPairs } from '../support/pairing';
import { progress } from '../support/progress';
import { noTargetBeside, SQL } from '../support/statements';
import { holds, informational, ratioAtMost, withinSe } from '../support/target';

/** Processes the paired figures are spread over: one process's JIT and heap layout move its median. */
export const PAIRED_PROCESSES = QUICK ? 1 : 3;

/** `+d ± se µs of off µs: ratio (per process ...)`, the start of every paired row's measured text. */
export function pairedMeasured(result: PairedResult): string {
  return `${signed(result.medianDiffMicros)} ± ${result.diffSeMicros.toFixed(1)} µs of ${result.medianOffMicros.toFixed(0)} µs: ${result.ratio.toFixed(4)} (per process ${perProcessMedians(result)}`;
}

export const PAIRED_ON_OFF = figure<PairedResult>({
  id: 'overhead.pairedOnOff',
  group: 'Overhead',
  title: (r) =>
    `telemetry on - off per statement, ${r.format} (median of ${r.pairs} pairs in ${processCount(r.processes)}, ${r.clock} CPU)`,
  // Judged on the point estimate; the standard error is printed beside it.
  target: ratioAtMost((r) => r.ratio, 1.005),
  measured: (r) => `${pairedMeasured(r)})`,
});

/** Not a target: what the hook points alone cost, recording nothing (see bareHooks.ts). */
export const HOOKS_FLOOR = figure<PairedResult>({
  id: 'overhead.hooksFloor',
  group: 'Overhead',
  title: (r) =>
    `floor: forwarding hooks alone - plain driver, per statement, columns (median of ${r.pairs} pairs in ${processCount(r.processes)})`,
  target: informational((r) => noTargetBeside(r.medianOffMicros)),
  measured: (r) => `${pairedMeasured(r)})`,
});

interface FlagOffReading {
  result: PairedResult;
  requests: Partial<RequestCounts>;
  uploads: number;
}

export const FLAG_OFF = figure<FlagOffReading>({
  id: 'overhead.flagOff',
  group: 'Overhead',
  title: ({ result }) =>
    `flag off: telemetry on - off per statement, columns (median of ${result.pairs} pairs in ${processCount(result.processes)}, ${result.clock} CPU)`,
  target: withinSe<FlagOffReading>(
    (r) => r.result.medianDiffMicros,
    (r) => r.result.diffSeMicros,
    2,
  ).and(holds('no upload', (r) => r.uploads === 0)),
  measured: ({ result, uploads, requests }) =>
    `${pairedMeasured(result)}; ${uploads} uploads, ${requests.featureFlags} flag requests)`,
});

interface UploadReading {
  result: UploadCostResult;
  /** The plain side's median CPU per columns statement, from the paired figure. */
  columnsOffMicros: number;
  /** Its paired difference and standard error. */
  columns: PairedResult;
}

const sampling = ({ result }: UploadReading) =>
  `median of ${result.blocks} blocks of ${result.exportsPerBlock} exports of ${result.batchSize}`;
const share = (micros: number, { columnsOffMicros }: UploadReading) =>
  `${((micros / columnsOffMicros) * 100).toFixed(2)} % of a columns SELECT 1`;

export const UPLOAD_EXPORTER = figure<UploadReading>({
  id: 'overhead.uploadExporter',
  group: 'Overhead',
  title: (r) => `upload: client CPU per statement log, the exporter to the emulator (${sampling(r)})`,
  target: informational('none (the A/B counts it)'),
  measured: (r) =>
    `${r.result.microsPerLog.toFixed(2)} µs per log of ${r.result.bytesPerLog} bytes: ${share(r.result.microsPerLog, r)}; ` +
    `${signed(r.result.exporterOverTransportMicrosPerLog)} ± ${r.result.exporterOverTransportSe.toFixed(2)} µs over the transport below (serializing, deadlines, response)`,
});

export const UPLOAD_FLOOR = figure<UploadReading>({
  id: 'overhead.uploadFloor',
  group: 'Overhead',
  title: (r) =>
    `upload floor: Node's https.request of the same ${(r.result.bodyBytes / 1024).toFixed(0)} KB body, built once, per log (${sampling(r)})`,
  target: informational((r) => noTargetBeside(r.columnsOffMicros)),
  measured: (r) =>
    `${r.result.transportMicrosPerLog.toFixed(2)} µs per log: ${share(r.result.transportMicrosPerLog, r)}`,
});

/** One log per statement: the paired difference plus one log's upload is all telemetry costs a statement. */
export const WHOLE_COST = figure<UploadReading>({
  id: 'overhead.wholeCost',
  group: 'Overhead',
  title: "whole cost per columns SELECT 1: paired on - off + one log's upload",
  target: informational('none (the A/B and paired rows carry the targets)'),
  measured: (r) => {
    const whole = r.columns.medianDiffMicros + r.result.microsPerLog;
    return `${signed(whole)} ± ${r.columns.diffSeMicros.toFixed(1)} µs: ${share(whole, r)}, of which the upload floor ${share(r.result.transportMicrosPerLog, r)}`;
  },
});

/**
 * The tight figure: on and off statements paired one by one, in each of a few processes (see
 * pairedOnOff.ts). Returns the columns figure.
 */
export async function pairedStatements(recorder: FigureRecorder, emulator: EmulatorProcess): Promise<PairedResult> {
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
  recorder.results.pairedStatements = telemetry;
  recorder.results.pairedFloor = floor;
  for (const result of telemetry) {
    recorder.record(PAIRED_ON_OFF, result);
  }
  recorder.record(HOOKS_FLOOR, floor);
  await pairedFlagOff(recorder, emulator, { ...spec, formats: { columns: spec.formats.columns }, floor: undefined });
  return telemetry.find((result) => result.format === 'columns')!;
}

/**
 * With the workspace's feature flag off, telemetry on should cost what telemetry off costs: the
 * connection idles once the flag answers, which happens during the warm-up.
 */
async function pairedFlagOff(recorder: FigureRecorder, emulator: EmulatorProcess, spec: PairedSpec): Promise<void> {
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
  const requests = requestsBetween(before, await emulator.requestCounts());
  const result = poolPairs(outputs.map((output) => output.telemetry[0]));
  recorder.results.pairedFlagOff = { ...result, requests };
  const uploads = (requests.telemetryExt ?? 0) + (requests.telemetryUnauth ?? 0);
  recorder.record(FLAG_OFF, { result, requests, uploads });
}

/**
 * Not a target: what uploading costs per statement, the part of telemetry's cost the paired figure
 * leaves out, beside what Node's own HTTPS costs to send the same bytes (the floor for any
 * uploader at this batch size).
 */
export async function uploadCost(
  recorder: FigureRecorder,
  emulator: EmulatorProcess,
  columns: PairedResult,
): Promise<void> {
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
  recorder.results.uploadCost = result;
  const reading: UploadReading = { result, columnsOffMicros: columns.medianOffMicros, columns };
  for (const definition of [UPLOAD_EXPORTER, UPLOAD_FLOOR, WHOLE_COST]) {
    recorder.record(definition, reading);
  }
}
