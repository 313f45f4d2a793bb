/**
 * Not a target (part of `BENCH_ONLY=overhead`): what the OpenTelemetry output costs per statement,
 * paired like the paired rows (children/pairedOpenTelemetry.ts), with a real SDK registered (batch
 * span processor, periodic metric reader, exporters that drop). Our client with only the output on
 * against the plain driver, and the driver's own client under DatabricksSqlInstrumentation against
 * our client with telemetry off (which the instrumentation leaves alone).
 */
import type {
  OpenTelemetryPhase,
  PairedOpenTelemetryOutput,
  PairedOpenTelemetrySpec,
} from '../children/pairedOpenTelemetry';
import type { EmulatorProcess } from '../support/emulatorProcess';
import { figure, FigureRecorder } from '../support/figures';
import { processCount } from '../support/format';
import { runJsonChild } from '../support/jsonChild';
import { QUICK } from '../support/mode';
import { PairedResult, poolPairs } from '../support/pairing';
import { progress } from '../support/progress';
import { noTargetBeside, SQL } from '../support/statements';
import { guard, informational } from '../support/target';
import { PAIRED_PROCESSES, pairedMeasured } from './paired';

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

interface OpenTelemetryReading {
  result: PairedResult;
  side: OpenTelemetryPairs;
  /** 'OpenTelemetry output on - plain'... */
  name: string;
  /** The two clients compared. */
  subjects: string;
}

export const OPEN_TELEMETRY_COST = figure<OpenTelemetryReading>({
  id: 'overhead.openTelemetry',
  group: 'Overhead',
  title: ({ result, name, subjects }) =>
    `${name} per statement, ${result.format} (${subjects}; median of ${result.pairs} pairs in ${processCount(result.processes)}, ${result.clock} CPU)`,
  // No target, but a run that did not trace what it says fails.
  target: informational<OpenTelemetryReading>((r) => noTargetBeside(r.result.medianOffMicros)).and(
    guard((r) => r.side.traced),
  ),
  measured: ({ result, side }) => {
    const traced = `${side.statementSpans} statement spans and ${side.durations} durations for ${side.statements} statements`;
    return `${pairedMeasured(result)}; ${side.traced ? traced : `check failed, not what it says: ${traced}`})`;
  },
});

export async function pairedOpenTelemetry(recorder: FigureRecorder, emulator: EmulatorProcess): Promise<void> {
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
  recorder.results.pairedOpenTelemetry = { output, instrumentation };
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
    for (const result of side.results) {
      recorder.record(OPEN_TELEMETRY_COST, { result, side, name, subjects });
    }
  }
}
