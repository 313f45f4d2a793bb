/**
 * Outage memory: one simulated hour of 1,000 statements a second while the telemetry endpoint
 * answers 5xx (first half hour) and then hangs (second half). The real engine runs — emitter,
 * aggregator, the shared TelemetryClient from a TelemetryClientProvider, the host's circuit
 * breaker and the DatabricksTelemetryExporter — with only `httpRequest` replaced by a fake that
 * fails or hangs, under sinon fake timers (Date and timers; promises stay real). Run with
 * `--expose-gc`: retained heap is read after `global.gc()` once a simulated minute. Prints one
 * JSON line on stdout.
 */
import sinon from 'sinon';
import type { HttpRequest, HttpResponse } from '../../lib/telemetry/httpRequest';
import type ITelemetryContext from '../../lib/telemetry/contracts/ITelemetryContext';
import type TelemetryTarget from '../../lib/telemetry/contracts/TelemetryTarget';
import { engineContext, SESSION_ID, USER_AGENT } from '../support/engine';

const MINUTES = Number(process.env.BENCH_OUTAGE_MINUTES ?? 60);
const PER_SECOND = 1000;
/** Statements running at once: each one completes this many statements after its start. */
const CONCURRENT = 50;
const HANG_FROM_MINUTE = MINUTES / 2;

export interface OutageResult {
  minutes: number;
  statements: number;
  heapMB: number[];
  baselineMB: number;
  maxGrowthMB: number;
  endGrowthMB: number;
  attemptsPerMinute: number[];
  featureFlagRequests: number;
  clientDropped: number;
  exporterDropped: number;
  queued: number;
  delivered: number;
  unaccounted: number;
  batchSize: number;
  aggregatorDropped: number;
  cpuMicrosPerStatement: number;
  wallSeconds: number;
}

const gc = (global as { gc?: () => void }).gc;
if (!gc) {
  throw new Error('run with --expose-gc');
}

async function main(): Promise<void> {
  const clock = sinon.useFakeTimers({
    now: Date.UTC(2026, 0, 1),
    toFake: ['Date', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'],
  });
  const t0 = Date.now();
  const minuteOf = () => Math.floor((Date.now() - t0) / 60_000);

  // The fake endpoint: the feature flag answers 'enabled'; uploads fail with 503, then hang.
  const attemptsPerMinute: number[] = new Array(MINUTES + 1).fill(0);
  let featureFlagRequests = 0;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const httpModule = require('../../lib/telemetry/httpRequest') as {
    default: (c: ITelemetryContext, r: HttpRequest) => Promise<HttpResponse>;
  };
  httpModule.default = (_context, request) => {
    if (request.url.includes('/feature-flags/')) {
      featureFlagRequests += 1;
      const body = JSON.stringify({
        flags: [
          { name: 'databricks.partnerplatform.clientConfigsFeatureFlags.enableTelemetryForNodeJs', value: 'true' },
        ],
        ttl_seconds: 900,
      });
      return Promise.resolve({ status: 200, header: () => undefined, body });
    }
    attemptsPerMinute[Math.min(minuteOf(), MINUTES)] += 1;
    if (minuteOf() < HANG_FROM_MINUTE) {
      return Promise.resolve({
        status: 503,
        header: () => undefined,
        body: '{"error_code":"TEMPORARILY_UNAVAILABLE"}',
      });
    }
    // Hangs like a dead server: only httpRequest's own timeout (or an abort) ends it.
    return new Promise<HttpResponse>((_resolve, reject) => {
      const onAbort = () => {
        clearTimeout(timer);
        reject(Object.assign(new Error('aborted'), { name: 'AbortError' }));
      };
      const timer = setTimeout(() => {
        request.signal?.removeEventListener('abort', onAbort);
        reject(Object.assign(new Error('timed out'), { name: 'TimeoutError' }));
      }, request.timeoutMs);
      request.signal?.addEventListener('abort', onAbort, { once: true });
    });
  };

  // Loaded after the stub, and with the fake clock installed.
  /* eslint-disable @typescript-eslint/no-require-imports */
  const TelemetryClientProvider = (
    require('../../lib/telemetry/TelemetryClientProvider') as typeof import('../../lib/telemetry/TelemetryClientProvider')
  ).default;
  const TelemetryEventEmitter = (
    require('../../lib/telemetry/TelemetryEventEmitter') as typeof import('../../lib/telemetry/TelemetryEventEmitter')
  ).default;
  const MetricsAggregator = (
    require('../../lib/telemetry/MetricsAggregator') as typeof import('../../lib/telemetry/MetricsAggregator')
  ).default;
  /* eslint-enable @typescript-eslint/no-require-imports */

  // Default settings, as an application that only turned telemetry on would have.
  const context = engineContext();
  const config = context.getTelemetryConfig();
  const target: TelemetryTarget = {
    host: 'outage.cloud.databricks.com',
    port: 443,
    userAgent: USER_AGENT,
    orgId: '1234567890',
    driverVersion: '2.1.0',
    credentialKey: 'bench',
    getAuthHeaders: async () => ({ Authorization: 'Bearer bench' }),
  };
  const provider = new TelemetryClientProvider();
  let client: ReturnType<typeof provider.getOrCreateClient>;
  const emitter = new TelemetryEventEmitter(context);
  const aggregator = new MetricsAggregator(context, emitter, {
    enqueue: (log) => {
      client ??= provider.getOrCreateClient(context, target);
      client?.enqueue(log);
    },
  });
  // Reaches into the provider's exporter for its counters (stats are not part of its API).
  const exporterStats = () => {
    const holders = (
      provider as unknown as {
        clients: Map<string, { client: { exporter: { getStats(): { logsDropped: number; logsDelivered: number } } } }>;
      }
    ).clients;
    const holder = [...holders.values()][0];
    return holder ? holder.client.exporter.getStats() : { logsDropped: 0, logsDelivered: 0 };
  };

  let counter = 0;
  const id = (n: number) => {
    const hex = n.toString(16).padStart(12, '0');
    return `01ef0000-0000-4000-8000-${hex}`;
  };
  const heap: number[] = [];
  const cpuStart = process.cpuUsage();
  const wallStart = process.hrtime.bigint();

  for (let second = 0; second < MINUTES * 60; second += 1) {
    if (second % 60 === 0) {
      gc?.();
      heap.push(process.memoryUsage().heapUsed / 2 ** 20);
      if (second % 600 === 0) {
        process.stderr.write(`[outage] simulated minute ${second / 60}\n`);
      }
    }
    const now = Date.now();
    for (let j = 0; j < PER_SECOND; j += 1) {
      const started = counter;
      counter += 1;
      emitter.emitStatementStart({
        statementId: id(started),
        sessionId: SESSION_ID,
        timestamp: now,
        statementType: 'QUERY',
        operationType: 'EXECUTE_STATEMENT',
      });
      if (started % 4 === 0) {
        emitter.emitCloudFetchChunk({
          statementId: id(started),
          chunkIndex: 0,
          latencyMs: 12,
          bytes: 65_536,
          compressed: true,
        });
        emitter.emitCloudFetchChunk({
          statementId: id(started),
          chunkIndex: 1,
          latencyMs: 9,
          bytes: 61_000,
          compressed: true,
        });
      }
      const ending = started - CONCURRENT;
      if (ending >= 0) {
        emitter.emitStatementComplete({
          statementId: id(ending),
          sessionId: SESSION_ID,
          latencyMs: 40,
          executionResult: ending % 4 === 0 ? 'EXTERNAL_LINKS' : 'INLINE_ARROW',
          isCompressed: ending % 4 === 0,
          pollCount: 1,
          pollLatencyMs: 3,
          chunksPresent: ending % 4 === 0 ? 2 : undefined,
          resultReadyLatencyMs: 8,
          resultConsumptionLatencyMs: 30,
          retryCount: 0,
        });
      }
    }
    await clock.tickAsync(1000);
  }
  gc?.();
  heap.push(process.memoryUsage().heapUsed / 2 ** 20);
  const cpuMicros = (() => {
    const d = process.cpuUsage(cpuStart);
    return d.user + d.system;
  })();
  const wallSeconds = Number(process.hrtime.bigint() - wallStart) / 1e9;

  const completed = counter - CONCURRENT;
  const clientStats = client?.getStats() ?? { queued: 0, dropped: 0, exportedBatches: 0 };
  const exporter = exporterStats();
  // Baseline after the first two minutes: the queue has filled and the code is warm.
  const baseline = heap[Math.min(2, heap.length - 1)];
  const later = heap.slice(2);
  const result: OutageResult = {
    minutes: MINUTES,
    statements: completed,
    heapMB: heap.map((v) => Math.round(v * 100) / 100),
    baselineMB: baseline,
    maxGrowthMB: Math.max(...later) - baseline,
    endGrowthMB: heap[heap.length - 1] - baseline,
    attemptsPerMinute: attemptsPerMinute.slice(0, MINUTES),
    featureFlagRequests,
    clientDropped: clientStats.dropped,
    exporterDropped: exporter.logsDropped,
    queued: clientStats.queued,
    delivered: exporter.logsDelivered,
    unaccounted: completed - clientStats.dropped - exporter.logsDropped - clientStats.queued - exporter.logsDelivered,
    batchSize: config.batchSize,
    aggregatorDropped: aggregator.getStats().dropped,
    cpuMicrosPerStatement: cpuMicros / completed,
    wallSeconds,
  };
  clock.restore();
  aggregator.close();
  process.stdout.write(`${JSON.stringify(result)}\n`);
  // The hanging request and the client are abandoned on purpose: exiting is the point of this child.
  process.exit(0);
}

main().catch((error: unknown) => {
  process.stderr.write(`outage: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
