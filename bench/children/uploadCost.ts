/**
 * Upload cost: the client CPU of exporting statement logs to the emulator, per log. The paired
 * figure leaves uploads out (one statement in a hundred carries one) and the profiler's lib/ share
 * leaves out Node's HTTP and TLS code, so this completes telemetry's cost per statement.
 *
 * Two sides, in blocks of exports that alternate in one process, so the machine's drift cancels:
 * - telemetry: the real DatabricksTelemetryExporter and httpRequest, serializing every time;
 * - transport: a bare `https.request` of the same body, built once, through a keep-alive agent
 *   made the way httpRequest makes its own. It is what Node charges any uploader of these bytes,
 *   the floor under the first side.
 * Each export is awaited before the next, and a block is charged with the CPU from its start to
 * the start of the next block, so work left after a response (freeing the socket) is counted.
 * Argument: JSON `UploadCostSpec`. Prints one JSON line (`UploadCostResult`).
 */
import https from 'https';
import tls from 'tls';
import { readFileSync } from 'fs';
import CircuitBreaker from '../../lib/telemetry/CircuitBreaker';
import DatabricksTelemetryExporter from '../../lib/telemetry/DatabricksTelemetryExporter';
import type TelemetryEventEmitter from '../../lib/telemetry/TelemetryEventEmitter';
import type ITelemetryContext from '../../lib/telemetry/contracts/ITelemetryContext';
import type TelemetryTarget from '../../lib/telemetry/contracts/TelemetryTarget';
import { serializeProtoLog, uploadBody } from '../../lib/telemetry/wire/serializer';
import type { EmulatorEndpoint } from '../support/emulatorProcess';
import { aggregatedLogs, engineContext, SESSION_ID, statementIds, USER_AGENT } from '../support/engine';
import { cpuNow, median, medianSe } from '../support/stats';

export interface UploadCostSpec {
  endpoint: EmulatorEndpoint;
  /** Logs per export: the default batch size. */
  batchSize: number;
  /** Exports per side before anything is measured. */
  warmup: number;
  /** Pairs of blocks, one block per side. */
  blocks: number;
  exportsPerBlock: number;
}

export interface UploadCostResult {
  batchSize: number;
  blocks: number;
  exportsPerBlock: number;
  /** Median over blocks of the CPU per log: the exporter, and the bare transport of the same body. */
  microsPerLog: number;
  transportMicrosPerLog: number;
  /** Median over block pairs of exporter - transport, per log, and its standard error. */
  exporterOverTransportMicrosPerLog: number;
  exporterOverTransportSe: number;
  /** One log's `protoLogs` entry, and the whole request body, in bytes. */
  bytesPerLog: number;
  bodyBytes: number;
  logsDelivered: number;
}

/** A columns `SELECT 1`'s events, as the driver adapter emits them. */
function columnsStatement(emitter: TelemetryEventEmitter, statementId: string, now: number): void {
  emitter.emitStatementStart({
    statementId,
    sessionId: SESSION_ID,
    timestamp: now,
    statementType: 'QUERY',
    operationType: 'EXECUTE_STATEMENT',
  });
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

/** POSTs `body` and reads the whole response; rejects unless the server answers 2xx. */
function post(agent: https.Agent, url: string, headers: Record<string, string>, body: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method: 'POST', agent, headers }, (res) => {
      res.on('data', () => undefined);
      res.on('end', () =>
        (res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300
          ? resolve()
          : reject(new Error(`HTTP ${res.statusCode}`)),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2]) as UploadCostSpec;
  const { endpoint } = spec;
  const ca = readFileSync(endpoint.caPath);
  // The connection's agent as the driver makes it (kept alive, the emulator's CA): uploads derive theirs from it.
  const connectionAgent = new https.Agent({ keepAlive: true, ca });
  const base = engineContext();
  const context: ITelemetryContext = {
    ...base,
    getConnectionProvider: async () => ({ getAgent: async () => connectionAgent }),
  };
  const target: TelemetryTarget = {
    host: endpoint.host,
    port: endpoint.port,
    userAgent: USER_AGENT,
    driverVersion: '2.1.0',
    credentialKey: 'bench',
    getAuthHeaders: async () => ({ Authorization: `Bearer ${endpoint.token}` }),
  };
  const exporter = new DatabricksTelemetryExporter(
    context,
    target,
    new CircuitBreaker(context, `${endpoint.host}:${endpoint.port}`),
  );
  const now = Date.now();
  const logs = aggregatedLogs(statementIds(spec.batchSize, 3), (emitter, statementId) =>
    columnsStatement(emitter, statementId, now),
  );

  const transportAgent = new https.Agent({ keepAlive: true, secureContext: tls.createSecureContext({ ca }) });
  const url = `https://${endpoint.host}:${endpoint.port}/telemetry-ext`;
  const headers = {
    Authorization: `Bearer ${endpoint.token}`,
    'Content-Type': 'application/json',
    Accept: 'application/json',
    'User-Agent': USER_AGENT,
  };
  const entries = logs.map((log) => serializeProtoLog(log, USER_AGENT, false) as string);
  const body = uploadBody(entries, now);

  const sides = {
    telemetry: () => exporter.export(logs),
    transport: () => post(transportAgent, url, headers, body),
  };
  type Side = keyof typeof sides;
  // Telemetry's sockets never hold the process (httpRequest unrefs them), and nothing else here does.
  const keepAlive = setInterval(() => undefined, 1000);
  for (let i = 0; i < spec.warmup; i += 1) {
    await sides.telemetry();
    await sides.transport();
  }
  const starts: Array<{ side: Side; cpu: number }> = [];
  for (let block = 0; block < spec.blocks; block += 1) {
    const order: Side[] = block % 2 === 0 ? ['telemetry', 'transport'] : ['transport', 'telemetry'];
    for (const side of order) {
      starts.push({ side, cpu: cpuNow() });
      for (let i = 0; i < spec.exportsPerBlock; i += 1) {
        await sides[side]();
      }
    }
  }
  const end = cpuNow();
  const logsPerBlock = spec.exportsPerBlock * spec.batchSize;
  const perLog = (side: Side) =>
    starts.flatMap((start, i) =>
      start.side === side ? [((starts[i + 1]?.cpu ?? end) - start.cpu) / logsPerBlock] : [],
    );
  const telemetry = perLog('telemetry');
  const transport = perLog('transport');
  const differences = telemetry.map((micros, i) => micros - transport[i]);

  const stats = exporter.getStats();
  const expected = (spec.warmup + spec.blocks * spec.exportsPerBlock) * spec.batchSize;
  if (stats.logsDelivered !== expected) {
    throw new Error(`upload cost: ${stats.logsDelivered} of ${expected} logs delivered`);
  }
  const result: UploadCostResult = {
    batchSize: spec.batchSize,
    blocks: spec.blocks,
    exportsPerBlock: spec.exportsPerBlock,
    microsPerLog: median(telemetry),
    transportMicrosPerLog: median(transport),
    exporterOverTransportMicrosPerLog: median(differences),
    exporterOverTransportSe: medianSe(differences),
    bytesPerLog: entries[0].length,
    bodyBytes: Buffer.byteLength(body),
    logsDelivered: stats.logsDelivered,
  };
  exporter.shutdown();
  connectionAgent.destroy();
  transportAgent.destroy();
  clearInterval(keepAlive);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`upload cost: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exitCode = 1;
});
