/**
 * Upload cost: the client CPU of exporting statement logs to the emulator, per log. The paired
 * figure leaves uploads out (one statement in a hundred carries one) and the profiler's lib/ share
 * leaves out Node's HTTP and TLS code, so this completes telemetry's cost per statement. The real
 * DatabricksTelemetryExporter and httpRequest run; each export is awaited before the next, so
 * the process does nothing else while it is charged. Argument: JSON `UploadCostSpec`. Prints one
 * JSON line (`UploadCostResult`).
 */
import https from 'https';
import { readFileSync } from 'fs';
import CircuitBreaker from '../../lib/telemetry/CircuitBreaker';
import DatabricksTelemetryExporter from '../../lib/telemetry/DatabricksTelemetryExporter';
import type TelemetryEventEmitter from '../../lib/telemetry/TelemetryEventEmitter';
import type ITelemetryContext from '../../lib/telemetry/contracts/ITelemetryContext';
import type TelemetryTarget from '../../lib/telemetry/contracts/TelemetryTarget';
import { serializeProtoLog } from '../../lib/telemetry/wire/serializer';
import type { EmulatorEndpoint } from '../support/emulatorProcess';
import { aggregatedLogs, engineContext, SESSION_ID, statementIds, USER_AGENT } from '../support/engine';
import { cpuMicros, median } from '../support/stats';

export interface UploadCostSpec {
  endpoint: EmulatorEndpoint;
  /** Logs per export: the default batch size. */
  batchSize: number;
  warmup: number;
  rounds: number;
  exportsPerRound: number;
}

export interface UploadCostResult {
  batchSize: number;
  /** Median over rounds of the CPU per export, and per log. */
  microsPerExport: number;
  microsPerLog: number;
  roundsMicrosPerLog: number[];
  /** One log's `protoLogs` entry, in bytes. */
  bytesPerLog: number;
  logsDelivered: number;
}

/** A columns `SELECT 1`'s events, as the driver adapter emits them. */
function columnsStatement(emitter: TelemetryEventEmitter, statementId: string, now: number): void {
  emitter.emitStatementStart({ statementId, sessionId: SESSION_ID, timestamp: now, statementType: 'QUERY', operationType: 'EXECUTE_STATEMENT' });
  emitter.emitStatementComplete({
    statementId,
    sessionId: SESSION_ID,
    timestamp: now + 3,
    latencyMs: 3,
    executionResult: 'COLUMNAR_INLINE',
    isCompressed: false,
    pollCount: 0,
    pollLatencyMs: 0,
    retryCount: 0,
  });
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2]) as UploadCostSpec;
  const { endpoint } = spec;
  // The connection's agent as the driver makes it (kept alive, the emulator's CA): uploads derive theirs from it.
  const agent = new https.Agent({ keepAlive: true, ca: readFileSync(endpoint.caPath) });
  const base = engineContext();
  const context: ITelemetryContext = { ...base, getConnectionProvider: async () => ({ getAgent: async () => agent }) };
  const target: TelemetryTarget = {
    host: endpoint.host,
    port: endpoint.port,
    userAgent: USER_AGENT,
    driverVersion: '2.1.0',
    credentialKey: 'bench',
    getAuthHeaders: async () => ({ Authorization: `Bearer ${endpoint.token}` }),
  };
  const exporter = new DatabricksTelemetryExporter(context, target, new CircuitBreaker(context, `${endpoint.host}:${endpoint.port}`));
  const now = Date.now();
  const logs = aggregatedLogs(statementIds(spec.batchSize, 3), (emitter, statementId) => columnsStatement(emitter, statementId, now));
  // Telemetry's sockets never hold the process (httpRequest unrefs them), and nothing else here does.
  const keepAlive = setInterval(() => undefined, 1000);
  for (let i = 0; i < spec.warmup; i += 1) await exporter.export(logs);
  const rounds: number[] = [];
  for (let round = 0; round < spec.rounds; round += 1) {
    const start = process.cpuUsage();
    for (let i = 0; i < spec.exportsPerRound; i += 1) await exporter.export(logs);
    rounds.push(cpuMicros(start) / spec.exportsPerRound);
  }
  const stats = exporter.getStats();
  const expected = (spec.warmup + spec.rounds * spec.exportsPerRound) * spec.batchSize;
  if (stats.logsDelivered !== expected) {
    throw new Error(`upload cost: ${stats.logsDelivered} of ${expected} logs delivered`);
  }
  const microsPerExport = median(rounds);
  const result: UploadCostResult = {
    batchSize: spec.batchSize,
    microsPerExport,
    microsPerLog: microsPerExport / spec.batchSize,
    roundsMicrosPerLog: rounds.map((micros) => micros / spec.batchSize),
    bytesPerLog: (serializeProtoLog(logs[0], USER_AGENT, false) as string).length,
    logsDelivered: stats.logsDelivered,
  };
  exporter.shutdown();
  agent.destroy();
  clearInterval(keepAlive);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`upload cost: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exitCode = 1;
});
