/**
 * The hot path (`BENCH_ONLY=hot`), in this process: the CPU one statement costs inside the
 * telemetry engine — its events through the emitter and the aggregator (start, two CloudFetch
 * chunks, complete with the usual fields), then the serialization of the log the aggregator
 * produced. No HTTP, no queue: the aggregator's sink keeps the last log, which is serialized at once.
 * `node -r ts-node/register/transpile-only bench/parts/hot.ts` prints the raw result alone.
 */
import MetricsAggregator from '../../lib/telemetry/MetricsAggregator';
import TelemetryEventEmitter from '../../lib/telemetry/TelemetryEventEmitter';
import { TelemetryLog } from '../../lib/telemetry/types';
import { serializeProtoLog, uploadBody } from '../../lib/telemetry/wire/serializer';
import { aggregatedLogs, engineContext, SESSION_ID, statementIds, USER_AGENT } from '../support/engine';
import { progress } from '../support/progress';
import { figure, FigureRecorder } from '../support/figures';
import { QUICK } from '../support/mode';
import type { Part } from '../support/part';
import { cpuMicros, median } from '../support/stats';
import { atLeast, atMost } from '../support/target';

export interface HotPathResult {
  iterationsPerRound: number;
  rounds: number;
  /** Median CPU per statement, events + serialization, in µs. */
  statementMicros: number;
  statementMicrosRounds: number[];
  /** The same without serialization (emitter + aggregator only). */
  eventsOnlyMicros: number;
  /** serializeProtoLog() of distinct statement logs with chunk details, logs per second (median of rounds). */
  serializeLogsPerSecond: number;
  serializeRounds: number[];
  /** uploadBody() around 100 serialized logs, amortized per log, in µs. */
  uploadBodyMicrosPerLog: number;
  serializedBytes: number;
}

function buildPipeline(): {
  emitter: TelemetryEventEmitter;
  aggregator: MetricsAggregator;
  last: () => TelemetryLog | undefined;
} {
  const context = engineContext();
  const emitter = new TelemetryEventEmitter(context);
  let lastLog: TelemetryLog | undefined;
  const aggregator = new MetricsAggregator(context, emitter, {
    enqueue: (log) => {
      lastLog = log;
    },
  });
  return { emitter, aggregator, last: () => lastLog };
}

/** One statement's events, as the driver adapter emits them for a CloudFetch query. */
function statementEvents(emitter: TelemetryEventEmitter, statementId: string, now: number): void {
  emitter.emitStatementStart({
    statementId,
    sessionId: SESSION_ID,
    timestamp: now,
    statementType: 'QUERY',
    operationType: 'EXECUTE_STATEMENT',
  });
  emitter.emitCloudFetchChunk({
    statementId,
    chunkIndex: 0,
    latencyMs: 12,
    bytes: 65_536,
    compressed: true,
    timestamp: now + 20,
  });
  emitter.emitCloudFetchChunk({
    statementId,
    chunkIndex: 1,
    latencyMs: 9,
    bytes: 61_000,
    compressed: true,
    timestamp: now + 25,
  });
  emitter.emitStatementComplete({
    statementId,
    sessionId: SESSION_ID,
    timestamp: now + 40,
    latencyMs: 40,
    executionResult: 'EXTERNAL_LINKS',
    isCompressed: true,
    pollCount: 1,
    pollLatencyMs: 3,
    chunksPresent: 2,
    resultReadyLatencyMs: 8,
    resultConsumptionLatencyMs: 30,
    retryCount: 0,
  });
}

function measureStatements(iterations: number, serialize: boolean): { micros: number; bytes: number } {
  const { emitter, aggregator, last } = buildPipeline();
  const ids = statementIds(1024);
  let bytes = 0;
  const now = Date.now();
  const start = process.cpuUsage();
  for (let i = 0; i < iterations; i += 1) {
    statementEvents(emitter, ids[i & 1023], now + i);
    if (serialize) {
      const json = serializeProtoLog(last() as TelemetryLog, USER_AGENT, false);
      bytes += json === undefined ? 0 : json.length;
    }
  }
  const micros = cpuMicros(start) / iterations;
  aggregator.close();
  if (serialize && bytes === 0) {
    throw new Error('hot path: nothing was serialized');
  }
  return { micros, bytes: bytes / iterations };
}

/** Distinct logs (ids, timestamps) as the aggregator makes them: serializing one log over and over flatters it. */
function sampleLogs(count: number): TelemetryLog[] {
  const now = Date.now();
  return aggregatedLogs(statementIds(count, 7), (emitter, statementId, i) =>
    statementEvents(emitter, statementId, now + i * 13),
  );
}

function measureSerialize(iterations: number): number {
  const logs = sampleLogs(1024);
  let length = 0;
  const start = process.cpuUsage();
  for (let i = 0; i < iterations; i += 1) {
    length += (serializeProtoLog(logs[i & 1023], USER_AGENT, false) as string).length;
  }
  const micros = cpuMicros(start);
  if (length === 0) {
    throw new Error('hot path: empty serialization');
  }
  return iterations / (micros / 1e6);
}

function measureUploadBody(batches: number): number {
  const batch = sampleLogs(100).map((log) => serializeProtoLog(log, USER_AGENT, false) as string);
  let length = 0;
  const start = process.cpuUsage();
  for (let i = 0; i < batches; i += 1) {
    length += uploadBody(batch, 1_700_000_000_000 + i).length;
  }
  const micros = cpuMicros(start);
  if (length === 0) {
    throw new Error('hot path: empty upload body');
  }
  return micros / (batches * 100);
}

export function runHotPath(iterations = 200_000, rounds = 7): HotPathResult {
  progress(`hot path: warm-up`);
  measureStatements(50_000, true);
  measureStatements(50_000, false);
  measureSerialize(50_000);
  const statementRounds: number[] = [];
  const eventsRounds: number[] = [];
  const serializeRounds: number[] = [];
  let bytes = 0;
  for (let round = 0; round < rounds; round += 1) {
    // Interleaved, so a noisy moment hits every figure alike.
    const full = measureStatements(iterations, true);
    statementRounds.push(full.micros);
    bytes = full.bytes;
    eventsRounds.push(measureStatements(iterations, false).micros);
    serializeRounds.push(measureSerialize(iterations));
  }
  const uploadBodyMicrosPerLog = median([measureUploadBody(2000), measureUploadBody(2000), measureUploadBody(2000)]);
  const result: HotPathResult = {
    iterationsPerRound: iterations,
    rounds,
    statementMicros: median(statementRounds),
    statementMicrosRounds: statementRounds,
    eventsOnlyMicros: median(eventsRounds),
    serializeLogsPerSecond: median(serializeRounds),
    serializeRounds,
    uploadBodyMicrosPerLog,
    serializedBytes: bytes,
  };
  progress(
    `hot path: ${result.statementMicros.toFixed(3)} µs/statement (events only ${result.eventsOnlyMicros.toFixed(3)}), ` +
      `${Math.round(result.serializeLogsPerSecond)} logs/s`,
  );
  return result;
}

export const STATEMENT_CPU = figure<HotPathResult>({
  id: 'hot.statementCpu',
  group: 'Hot path',
  title: 'CPU per statement: start, 2 chunks, complete, serialize',
  target: atMost((r) => r.statementMicros, 2, { unit: 'µs' }),
  measured: (r) =>
    `${r.statementMicros.toFixed(2)} µs (events ${r.eventsOnlyMicros.toFixed(2)} µs; ${r.rounds} x ${r.iterationsPerRound.toLocaleString('en-US')})`,
});

export const SERIALIZE_THROUGHPUT = figure<HotPathResult>({
  id: 'hot.serializeThroughput',
  group: 'Hot path',
  title: 'serializeProtoLog() throughput, statement logs',
  target: atLeast((r) => r.serializeLogsPerSecond, 200_000, { unit: 'logs/s' }),
  measured: (r) =>
    `${Math.round(r.serializeLogsPerSecond).toLocaleString('en-US')} logs/s (+${r.uploadBodyMicrosPerLog.toFixed(2)} µs/log for uploadBody)`,
});

export const hot: Part = {
  name: 'hot',
  emulator: false,
  async run(recorder: FigureRecorder) {
    progress('hot path: emitter + aggregator + serializer, in-process');
    const result = runHotPath(QUICK ? 50_000 : 200_000, QUICK ? 3 : 7);
    recorder.results.hotPath = result;
    recorder.record(STATEMENT_CPU, result);
    recorder.record(SERIALIZE_THROUGHPUT, result);
  },
};

if (require.main === module) {
  console.log(JSON.stringify(runHotPath(), null, 2));
}
