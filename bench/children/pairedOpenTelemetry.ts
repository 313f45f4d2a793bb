/**
 * The per-statement cost of the OpenTelemetry output, measured as pairedOnOff.ts measures
 * telemetry's: one process, two warm clients whose statements run one by one, alternately (ABBA),
 * each charged with the CPU of the process's main thread while it ran; the median of the
 * per-pair differences is the output's steady cost per statement.
 *
 * The process registers a real SDK as an application would: a BasicTracerProvider with a
 * BatchSpanProcessor (its defaults: batches of 512, every 5 s) over an exporter that counts the
 * spans and drops them, and a MeterProvider with a PeriodicExportingMetricReader (its defaults)
 * over an exporter that drops what it is given. What the batch processor does per span is
 * counted; what an exporter does with a batch, off the statement path, is not.
 *
 * Two phases, in this order:
 * 1. `output`: our DBSQLClient with only the OpenTelemetry output on (`telemetryEnabled: false,
 *    telemetryOpenTelemetry: true`) against the plain `@databricks/sql` client.
 * 2. `instrumentation`: `DatabricksSqlInstrumentation` registered, the driver's own client (now
 *    instrumented) against our DBSQLClient with telemetry off. The instrumentation patches the
 *    driver's client class for the rest of the process, so the plain side of phase 1 could not
 *    run after it; our client is left alone by it (it carries OWN_TELEMETRY, which `observes()`
 *    checks before doing anything, and it overrides the two per-statement hooks the
 *    instrumentation wraps, `getTelemetryEmitter` and `getTelemetryAggregator`), so only its
 *    connect, openSession and close pass through a wrapper, never a statement.
 *
 * Each phase checks that it measured what it says: every statement of the measured side, and
 * none of the other's, gave one statement span and one `db.client.operation.duration`
 * measurement. Argument: JSON `PairedOpenTelemetrySpec`. Prints one JSON line
 * (`PairedOpenTelemetryOutput`).
 */
import * as api from '@opentelemetry/api';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  InMemorySpanExporter,
  ReadableSpan,
} from '@opentelemetry/sdk-trace-base';
import {
  AggregationTemporality,
  DataPointType,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
  ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import type IDBSQLClient from '@databricks/sql/dist/contracts/IDBSQLClient';
import DatabricksSqlInstrumentation from '../../lib/driver/DatabricksSqlInstrumentation';
import { DURATION_METRIC } from '../../lib/telemetry/OpenTelemetryOutput';
import { connect, connectOptions, createClient } from '../support/clients';
import type { EmulatorEndpoint } from '../support/emulatorProcess';
import type { PairedSample } from '../support/pairing';
import { pairUp, warm } from '../support/pairedRuns';
import { mainThreadClock } from '../support/clock';

export interface PairedOpenTelemetrySpec {
  endpoint: EmulatorEndpoint;
  /**
   * [SQL, statements]: run on both clients of the output phase before anything is measured (see
   * pairedOnOff.ts: V8 keeps optimizing for thousands of statements).
   */
  jitWarmup: [string, number];
  /**
   * Statements per client at the start of the instrumentation phase. The driver's code and ours
   * are warm by then; what is new is the instrumentation's wrappers, and the prototype patch.
   */
  instrumentationJitWarmup: number;
  /** Statements per side before measuring, per format and phase. */
  warmup: number;
  /** Format name to [SQL, pairs], in each phase. */
  formats: Record<string, [string, number]>;
}

export interface OpenTelemetryPhase {
  /** A: the side with OpenTelemetry on; B: the plain side. */
  samples: PairedSample[];
  /** Statements the A side ran in the phase, warm-ups included. */
  statements: number;
  /** Statement spans exported in the phase (the connect and session spans left out). */
  statementSpans: number;
  /** Other spans exported in the phase: CONNECT and CREATE_SESSION. */
  otherSpans: number;
  /** `db.client.operation.duration` measurements recorded in the phase. */
  durations: number;
}

export interface PairedOpenTelemetryOutput {
  /** A: our client, the OpenTelemetry output alone; B: the plain driver. */
  output: OpenTelemetryPhase;
  /** A: the driver's own client under DatabricksSqlInstrumentation; B: our client, telemetry off. */
  instrumentation: OpenTelemetryPhase;
}

type ExportCallback = Parameters<InMemorySpanExporter['export']>[1];

/** The spans the SDK exported: counted, then dropped. */
class CountingSpanExporter extends InMemorySpanExporter {
  statementSpans = 0;

  otherSpans = 0;

  export(spans: ReadableSpan[], resultCallback: ExportCallback): void {
    for (const span of spans) {
      if (span.name === 'CONNECT' || span.name === 'CREATE_SESSION') {
        this.otherSpans += 1;
      } else {
        this.statementSpans += 1;
      }
    }
    super.export([], resultCallback);
  }
}

/** What the periodic reader exports: dropped. */
class DroppingMetricExporter extends InMemoryMetricExporter {
  export(metrics: ResourceMetrics, resultCallback: ExportCallback): void {
    super.export(metrics, resultCallback);
    this.reset();
  }
}

interface Sdk {
  tracerProvider: BasicTracerProvider;
  spans: CountingSpanExporter;
  meterProvider: MeterProvider;
  reader: PeriodicExportingMetricReader;
}

function registerSdk(): Sdk {
  const spans = new CountingSpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(spans)] });
  const reader = new PeriodicExportingMetricReader({
    exporter: new DroppingMetricExporter(AggregationTemporality.CUMULATIVE),
  });
  const meterProvider = new MeterProvider({ readers: [reader] });
  api.trace.setGlobalTracerProvider(tracerProvider);
  api.metrics.setGlobalMeterProvider(meterProvider);
  return { tracerProvider, spans, meterProvider, reader };
}

/** `db.client.operation.duration` measurements recorded so far (cumulative, every scope). */
async function durationsRecorded(reader: PeriodicExportingMetricReader): Promise<number> {
  const { resourceMetrics } = await reader.collect();
  let total = 0;
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) {
      if (metric.descriptor.name === DURATION_METRIC && metric.dataPointType === DataPointType.HISTOGRAM) {
        total += metric.dataPoints.reduce((sum, point) => sum + point.value.count, 0);
      }
    }
  }
  return total;
}

/**
 * Warms both clients, pairs their statements per format, closes them, and counts what the SDK
 * received meanwhile.
 */
async function phase(
  sdk: Sdk,
  spec: PairedOpenTelemetrySpec,
  clock: PairedSample['clock'],
  cpu: () => number,
  clients: [IDBSQLClient, IDBSQLClient],
  jitWarmup: number,
): Promise<OpenTelemetryPhase> {
  const spansBefore = { statement: sdk.spans.statementSpans, other: sdk.spans.otherSpans };
  const durationsBefore = await durationsRecorded(sdk.reader);
  const [a, b] = await Promise.all(clients.map((client) => client.openSession()));
  let statements = jitWarmup;
  await warm([a, b], spec.jitWarmup[0], jitWarmup);
  const samples: PairedSample[] = [];
  for (const [format, [sql, pairs]] of Object.entries(spec.formats)) {
    await warm([a, b], sql, spec.warmup);
    samples.push({ format, clock, ...(await pairUp(cpu, [a, b], sql, pairs)) });
    statements += spec.warmup + pairs;
  }
  await a.close();
  await b.close();
  await Promise.all(clients.map((client) => client.close()));
  await sdk.tracerProvider.forceFlush();
  return {
    samples,
    statements,
    statementSpans: sdk.spans.statementSpans - spansBefore.statement,
    otherSpans: sdk.spans.otherSpans - spansBefore.other,
    durations: (await durationsRecorded(sdk.reader)) - durationsBefore,
  };
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2]) as PairedOpenTelemetrySpec;
  const [clock, cpu] = mainThreadClock();
  const sdk = registerSdk();

  // 1. Our client with only the OpenTelemetry output on, against the plain driver.
  const ours = createClient('off');
  await ours.connect({
    ...connectOptions('off', spec.endpoint),
    telemetryOpenTelemetry: true,
  } as unknown as Parameters<IDBSQLClient['connect']>[0]);
  const plain = await connect('plain', spec.endpoint);
  const output = await phase(sdk, spec, clock, cpu, [ours, plain], spec.jitWarmup[1]);

  // 2. The driver's own client under the instrumentation, against our client with telemetry off.
  registerInstrumentations({ instrumentations: [new DatabricksSqlInstrumentation()] });
  const instrumented = await connect('plain', spec.endpoint);
  const off = await connect('off', spec.endpoint);
  const instrumentation = await phase(sdk, spec, clock, cpu, [instrumented, off], spec.instrumentationJitWarmup);

  await sdk.tracerProvider.shutdown();
  await sdk.meterProvider.shutdown();
  const result: PairedOpenTelemetryOutput = { output, instrumentation };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`pairedOpenTelemetry: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exitCode = 1;
});
