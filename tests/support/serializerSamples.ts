/**
 * Logs for comparing the serializer's two ways of running (generated code, and the walk used where
 * code generation from strings is forbidden): every kind, full and sparse, with hostile values.
 * `node tests/support/serializerSamples.ts` prints each one's entries (signed-in, unauthenticated)
 * as a JSON array.
 */
import { serializeProtoLog } from '../../lib/telemetry/wire/serializer';
import { DriverConfiguration, TelemetryLog } from '../../lib/telemetry/types';

const GUID = '01f0a1b2-c3d4-1e5f-8a9b-0c1d2e3f4a5b';
const HARD_TEXT = 'app "q" \\ \n \u0000 \u2028 é 😀 \ud800';

/** A plain system configuration (also the serializer unit tests' own). */
export const DRIVER_CONFIG: DriverConfiguration = {
  driverName: 'nodejs-sql-driver',
  driverVersion: '2.1.0',
  runtimeName: 'Node.js',
  runtimeVersion: 'v20.20.2',
  runtimeVendor: 'Node.js Foundation',
  osName: 'linux',
  osVersion: '6.1.0',
  osArch: 'x64',
  clientAppName: 'etl-job',
  localeName: 'en_US',
  charSetEncoding: 'UTF-8',
  processName: 'node',
};

const HARD_DRIVER_CONFIG = { ...DRIVER_CONFIG, clientAppName: HARD_TEXT, processName: '/home/alice/bin/node' };

const CONNECTION_PARAMS = {
  httpPath: '/sql/1.0/warehouses/abc123',
  hostUrl: 'https://adb-1234567890123456.7.azuredatabricks.net',
  hostPort: 443,
  mode: 'THRIFT',
  authMech: 'PAT',
  authFlow: 'TOKEN_PASSTHROUGH',
  useProxy: true,
  enableArrow: false,
  enableDirectResults: true,
  socketTimeoutMs: 900_000,
  rowsFetchedPerBlock: 100_000,
  enableMetricViewMetadata: false,
};

/** A CloudFetch statement's metrics with every field set (also the serializer unit tests' own). */
export const STATEMENT_METRICS: NonNullable<TelemetryLog['statement']> = {
  statementType: 'QUERY',
  operationType: 'EXECUTE_STATEMENT',
  executionResult: 'EXTERNAL_LINKS',
  isCompressed: true,
  pollCount: 3,
  pollLatencyMs: 450,
  retryCount: 1,
  resultReadyLatencyMs: 600,
  resultConsumptionLatencyMs: 900,
  chunksPresent: 4,
  chunksIterated: 4,
  chunkInitialLatencyMs: 80,
  chunkSlowestLatencyMs: 120,
  chunkSumLatencyMs: 400,
  bytesDownloaded: 1_000_000,
  errorName: '42P01',
  errorChunkIndex: 2,
};

const STATEMENT = { ...STATEMENT_METRICS, pollLatencyMs: 450.6 };

export const SERIALIZER_SAMPLES: unknown[] = [
  {
    kind: 'connection',
    eventId: GUID,
    timestamp: 1760000000100,
    workspaceId: '0001234567890123456',
    sessionId: GUID,
    authType: 'pat',
    driverConfig: HARD_DRIVER_CONFIG,
    connectionParams: CONNECTION_PARAMS,
    operationLatencyMs: 321,
  },
  {
    kind: 'statement',
    eventId: GUID,
    timestamp: 1,
    workspaceId: '42',
    sessionId: GUID,
    statementId: GUID,
    operationLatencyMs: 9,
    statement: STATEMENT,
  },
  { kind: 'statement', eventId: GUID, timestamp: 2, statement: { chunksIterated: 0, operationType: 'LIST_TABLES' } },
  {
    kind: 'error',
    eventId: GUID,
    timestamp: 3,
    errorName: 'Error: at /home/alice',
    unauthenticated: true,
    driverConfig: HARD_DRIVER_CONFIG,
  },
  { kind: 'error', timestamp: -1, errorName: 'AuthenticationError' },
  {
    kind: 'statement',
    eventId: 'DROP TABLE x',
    timestamp: NaN,
    workspaceId: '99999999999999999999',
    sessionId: {},
    statement: { ...STATEMENT, statementType: 'DROP', isCompressed: 'yes', pollCount: -1, chunksPresent: 2 ** 60 },
  },
  {
    kind: 'connection',
    driverConfig: { ...HARD_DRIVER_CONFIG, processName: 'x'.repeat(300), osName: '' },
    connectionParams: 'x',
  },
  {
    kind: 'connection',
    eventId: GUID,
    connectionParams: {
      ...CONNECTION_PARAMS,
      httpPath: '/sql/1.0/warehouses/abc?o=1',
      hostUrl: 'https://user@host',
      hostPort: 70000,
    },
  },
  { kind: 'error', eventId: GUID, workspaceId: 'abc', connectionParams: CONNECTION_PARAMS },
  { kind: 'statement' },
  { kind: 'metric', eventId: GUID },
  null,
];

/** The workspace id a workspace named in its responses, for logs without one (beyond 2^53). */
const NAMED_WORKSPACE_ID = '9876543210987654';

/**
 * Each sample's [signed-in, unauthenticated, signed-in with the named workspace id,
 * unauthenticated with it] entries, with `null` for an omitted log.
 */
export function serializeSamples(
  userAgent: string,
): Array<[string | null, string | null, string | null, string | null]> {
  return SERIALIZER_SAMPLES.map((log) => [
    serializeProtoLog(log as TelemetryLog, userAgent, false) ?? null,
    serializeProtoLog(log as TelemetryLog, userAgent, true) ?? null,
    serializeProtoLog(log as TelemetryLog, userAgent, false, NAMED_WORKSPACE_ID) ?? null,
    serializeProtoLog(log as TelemetryLog, userAgent, true, NAMED_WORKSPACE_ID) ?? null,
  ]);
}

if (require.main === module) {
  process.stdout.write(JSON.stringify(serializeSamples(process.argv[2] ?? '')));
}
