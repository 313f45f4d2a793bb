import type { MeasuredStatementFields } from './statementFields';

/**
 * Types shared by every part of the telemetry engine. The engine knows nothing of Thrift:
 * the driver adapter translates what it observes into these events.
 */

/** The five kinds of event the driver adapter emits. */
export enum TelemetryEventType {
  CONNECTION_OPEN = 'connection.open',
  STATEMENT_START = 'statement.start',
  STATEMENT_COMPLETE = 'statement.complete',
  CLOUDFETCH_CHUNK = 'cloudfetch.chunk',
  ERROR = 'error',
}

/** Wire enum `sql_operation.statement_type`. */
export type StatementType = 'QUERY' | 'SQL' | 'UPDATE' | 'METADATA' | 'VOLUME';

/** Wire enum `sql_operation.execution_result`. */
export type ExecutionResultFormat =
  'INLINE_ARROW' | 'INLINE_JSON' | 'EXTERNAL_LINKS' | 'COLUMNAR_INLINE' | 'FORMAT_UNSPECIFIED';

/** Wire enum `operation_detail.operation_type`: every value, in the proto's order. */
export const OPERATION_TYPES = [
  'CREATE_SESSION',
  'DELETE_SESSION',
  'EXECUTE_STATEMENT',
  'EXECUTE_STATEMENT_ASYNC',
  'CLOSE_STATEMENT',
  'CANCEL_STATEMENT',
  'LIST_TYPE_INFO',
  'LIST_CATALOGS',
  'LIST_SCHEMAS',
  'LIST_TABLES',
  'LIST_TABLE_TYPES',
  'LIST_COLUMNS',
  'LIST_FUNCTIONS',
  'LIST_PRIMARY_KEYS',
  'LIST_IMPORTED_KEYS',
  'LIST_EXPORTED_KEYS',
  'LIST_CROSS_REFERENCES',
] as const;

export type OperationType = (typeof OPERATION_TYPES)[number];

/** Wire value of `auth_type`. */
export type AuthType = 'pat' | 'oauth-m2m' | 'oauth-u2m' | 'other';

/** Everything the engine can be configured with; see `config.ts` for sources and validation. */
export interface TelemetryConfiguration {
  /** Master switch (the server feature flag must also be on). */
  enabled: boolean;
  /** Logs per upload; a full batch triggers a flush. */
  batchSize: number;
  /** Longest time a log waits before a flush. */
  flushIntervalMs: number;
  /** Retries after the first attempt of one upload (0 = no retry). */
  maxRetries: number;
  /** Exponential backoff base; the delay is full jitter in [0, min(max, base * 2^attempt)]. */
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** Upper bound honoured for a server's `Retry-After`. */
  retryAfterMaxMs: number;
  /** Per HTTP request (uploads and feature flags). */
  requestTimeoutMs: number;
  /** Failed HTTP attempts in a row that open the breaker. */
  circuitBreakerThreshold: number;
  /** How long the breaker stays open before one trial request. */
  circuitBreakerTimeoutMs: number;
  /** Successes in HALF_OPEN that close the breaker again. */
  circuitBreakerSuccessThreshold: number;
  /** Longest time `close()` spends flushing. */
  closeTimeoutMs: number;
  /** Logs held for export (including those waiting for the feature flag); beyond it logs are dropped and counted. */
  maxQueueSize: number;
  /** Statements aggregated at once; beyond it new statements are not tracked (counted). */
  maxPendingStatements: number;
  /** A statement with no event and no open operation for this long is reported and forgotten. */
  statementTtlMs: number;
  /** Upload signed-in logs to `/telemetry-ext` (false: everything goes to `/telemetry-unauth`). */
  authenticatedExport: boolean;
  /** Feature-flag cache lifetime when the server gives no `ttl_seconds`. */
  featureFlagTtlMs: number;
  /** How long a failed feature-flag look-up is remembered before it is tried again. */
  featureFlagFailureTtlMs: number;
  /** Append every sent log to this file as one JSON line (empty: off). */
  auditFile: string;
  /** Also report statements as spans and metrics to the application's OpenTelemetry providers. */
  openTelemetry: boolean;
  /** Put each statement's text, its literals replaced by `?`, on its OpenTelemetry span (`db.query.text`). */
  openTelemetryQueryText: boolean;
}

export const DEFAULT_TELEMETRY_CONFIG: Readonly<TelemetryConfiguration> = Object.freeze({
  enabled: false,
  batchSize: 100,
  flushIntervalMs: 5000,
  maxRetries: 3,
  backoffBaseMs: 100,
  backoffMaxMs: 1000,
  retryAfterMaxMs: 10000,
  requestTimeoutMs: 10000,
  circuitBreakerThreshold: 5,
  circuitBreakerTimeoutMs: 60000,
  circuitBreakerSuccessThreshold: 2,
  closeTimeoutMs: 2000,
  maxQueueSize: 1000,
  maxPendingStatements: 10000,
  statementTtlMs: 60 * 60 * 1000,
  authenticatedExport: true,
  featureFlagTtlMs: 15 * 60 * 1000,
  featureFlagFailureTtlMs: 60 * 1000,
  auditFile: '',
  openTelemetry: false,
  openTelemetryQueryText: false,
});

/** Static facts about the client process and driver, sent once per connection. */
export interface DriverConfiguration {
  driverName: string;
  driverVersion: string;
  runtimeName: string;
  runtimeVersion: string;
  runtimeVendor: string;
  osName: string;
  osVersion: string;
  osArch: string;
  clientAppName?: string;
  localeName: string;
  charSetEncoding: string;
  processName: string;
}

/**
 * Connection settings the driver knows; never the token, the proxy or any other user-supplied
 * text. The workspace's own address and HTTP path are here because the connection log goes only
 * to that workspace, which groups its logs by them.
 */
export interface ConnectionParameters {
  /** The HTTP path without its query string or fragment, e.g. `/sql/1.0/warehouses/<id>`. */
  httpPath?: string;
  /** `https://<host>`: the workspace the connection (and its telemetry) goes to. */
  hostUrl?: string;
  /** The workspace port. */
  hostPort?: number;
  mode: 'THRIFT' | 'SEA';
  authMech: 'PAT' | 'OAUTH' | 'OTHER';
  authFlow?: 'TOKEN_PASSTHROUGH' | 'CLIENT_CREDENTIALS' | 'BROWSER_BASED_AUTHENTICATION';
  useProxy: boolean;
  enableArrow: boolean;
  enableDirectResults: boolean;
  enableCloudFetch: boolean;
  enableLz4Compression: boolean;
  socketTimeoutMs: number;
  rowsFetchedPerBlock: number;
  enableMetricViewMetadata: boolean;
}

interface EventBase {
  /** Epoch milliseconds when the event happened. */
  timestamp: number;
}

export interface ConnectionOpenEvent extends EventBase {
  eventType: TelemetryEventType.CONNECTION_OPEN;
  sessionId: string;
  /** Numeric workspace id from the HTTP path, when present. */
  workspaceId?: string;
  latencyMs: number;
  authType: AuthType;
  driverConfig: DriverConfiguration;
  connectionParams: ConnectionParameters;
}

export interface StatementStartEvent extends EventBase {
  eventType: TelemetryEventType.STATEMENT_START;
  statementId: string;
  sessionId: string;
  statementType: StatementType;
  operationType: OperationType;
  /** The statement's text, only for the OpenTelemetry output when the application opted in; never uploaded. */
  queryText?: string;
  /** The application's OpenTelemetry context when the statement was sent (opaque here), to parent its span. */
  parentContext?: unknown;
}

/** What the adapter observed over the statement's life; every field but the ids is optional. */
/** The statement's end, with what the adapter measured (see statementFields.ts). */
export interface StatementCompleteEvent extends EventBase, MeasuredStatementFields {
  eventType: TelemetryEventType.STATEMENT_COMPLETE;
  statementId: string;
  sessionId: string;
  /** From the application's execute call to the operation's close. */
  latencyMs: number;
}

export interface CloudFetchChunkEvent extends EventBase {
  eventType: TelemetryEventType.CLOUDFETCH_CHUNK;
  statementId: string;
  chunkIndex: number;
  latencyMs: number;
  bytes: number;
  compressed: boolean;
}

export interface ErrorEvent extends EventBase {
  eventType: TelemetryEventType.ERROR;
  statementId?: string;
  sessionId?: string;
  /** Error class name or SQLSTATE; never a message. */
  errorName: string;
  /** Terminal errors end the statement's log at once; retryable ones wait for its end. */
  isTerminal: boolean;
  /** Index of the chunk whose download failed. */
  chunkIndex?: number;
  /** HTTP retries the statement needed up to the error: a terminal error reports the statement before its end would. */
  retryCount?: number;
  /** The failure happened before authentication succeeded: export without credentials. */
  unauthenticated?: boolean;
}

export type TelemetryEvent =
  ConnectionOpenEvent | StatementStartEvent | StatementCompleteEvent | CloudFetchChunkEvent | ErrorEvent;

/** The per-statement state the aggregator keeps until the statement's log is sent. */
/** One statement as the aggregator holds it: what the adapter measured, and what it aggregates from chunk and error events. */
export interface StatementMetrics extends MeasuredStatementFields {
  statementId: string;
  sessionId?: string;
  statementType?: StatementType;
  operationType?: OperationType;
  startTime: number;
  /** Time of the most recent event, for TTL eviction. */
  lastEventTime: number;
  latencyMs?: number;
  chunksIterated: number;
  chunkInitialLatencyMs?: number;
  chunkSlowestLatencyMs?: number;
  chunkSumLatencyMs: number;
  bytesDownloaded: number;
  errorName?: string;
  errorChunkIndex?: number;
}

/** Kind of one frontend log. */
export type TelemetryLogKind = 'connection' | 'statement' | 'error';

/**
 * One frontend log as the engine holds it before serialization. The serializer
 * (`wire/`) turns it into the wire JSON through the export allow-list.
 */
export interface TelemetryLog {
  kind: TelemetryLogKind;
  /** `frontend_log_event_id`: a UUID, unique per log, stable across retries. */
  eventId: string;
  timestamp: number;
  workspaceId?: string;
  sessionId?: string;
  statementId?: string;
  authType?: AuthType;
  driverConfig?: DriverConfiguration;
  connectionParams?: ConnectionParameters;
  operationLatencyMs?: number;
  statement?: Omit<StatementMetrics, 'statementId' | 'sessionId' | 'startTime' | 'lastEventTime' | 'latencyMs'>;
  errorName?: string;
  /** Send on `/telemetry-unauth`, without ids or system configuration. */
  unauthenticated?: boolean;
}

/**
 * The telemetry settings as options beside the driver's own, in `new DBSQLClient(...)` and
 * `connect(...)`: `telemetryEnabled`, `telemetryBatchSize`, ... (a connection's option wins).
 */
export type TelemetryOptions = {
  [K in keyof TelemetryConfiguration as `telemetry${Capitalize<K>}`]?: TelemetryConfiguration[K];
};
