import { DecodedInput, factsOf, LogFacts } from './telemetryInput';

/** One statement kind (operation type and statement type) and what its logs say. */
export interface KindSummary {
  /** `operation_type`, or `CONNECTION` for connection logs, `ERROR`/`OTHER` when a log names none. */
  operationType: string;
  /** `statement_type`, or `-`. */
  statementType: string;
  count: number;
  /** Logs that carried `operation_latency_ms`. */
  latencyCount: number;
  p50LatencyMs?: number;
  p95LatencyMs?: number;
  maxLatencyMs?: number;
  /** `execution_result` → count. */
  resultFormats: Record<string, number>;
  /** Logs with `is_compressed: true`. */
  compressed: number;
  /** Sums over logs with chunk details. */
  chunksPresent: number;
  chunksIterated: number;
  chunkDownloadMs: number;
  /** Status polls (`n_operation_status_calls`), summed. */
  pollCount: number;
  /** `error_info.error_name` → count. */
  errors: Record<string, number>;
}

export interface UploadStats {
  count: number;
  totalBytes: number;
  minBytes?: number;
  maxBytes?: number;
  meanBytes?: number;
  /** Endpoint path → uploads; `unknown` when the input does not say. */
  endpoints: Record<string, number>;
  /** Logs per upload: smallest and largest. */
  minLogs?: number;
  maxLogs?: number;
}

export interface TelemetrySummary {
  logs: number;
  sessions: number;
  statements: number;
  /** Logs per kind of log (connection, statement, error, other). */
  logKinds: Record<LogFacts['kind'], number>;
  kinds: KindSummary[];
  uploads: UploadStats;
  /** Error names over all logs → count. */
  errors: Record<string, number>;
}

/**
 * The `p`-th percentile (0..100) by nearest rank: always one of the values, so a latency shown
 * was really observed. `undefined` for no values.
 */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) {
    return undefined;
  }
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((Math.min(Math.max(p, 0), 100) / 100) * sorted.length);
  return sorted[Math.min(Math.max(rank, 1), sorted.length) - 1];
}

/** Order of operation types in the table: the connection first, then as a session goes. */
const KIND_ORDER = [
  'CONNECTION',
  'CREATE_SESSION',
  'EXECUTE_STATEMENT',
  'EXECUTE_STATEMENT_ASYNC',
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
  'CANCEL_STATEMENT',
  'CLOSE_STATEMENT',
  'DELETE_SESSION',
];

function kindRank(operationType: string): number {
  const index = KIND_ORDER.indexOf(operationType);
  return index === -1 ? KIND_ORDER.length : index;
}

/** The operation-type label of a log: its `operation_type`, or what kind of log it is. */
export function operationLabel(facts: LogFacts): string {
  if (facts.operationType) {
    return facts.operationType;
  }
  if (facts.kind === 'connection') {
    return 'CONNECTION';
  }
  return facts.kind === 'error' ? 'ERROR' : 'OTHER';
}

function increment(counts: Record<string, number>, key: string, by = 1): void {
  counts[key] = (counts[key] ?? 0) + by;
}

/** Summarizes decoded telemetry: per statement kind, per upload, overall. Pure: no I/O. */
export function summarize(input: Pick<DecodedInput, 'uploads' | 'logs'>): TelemetrySummary {
  const rows = new Map<string, KindSummary & { latencies: number[] }>();
  const sessions = new Set<string>();
  const statements = new Set<string>();
  const logKinds: Record<LogFacts['kind'], number> = { connection: 0, statement: 0, error: 0, other: 0 };
  const errors: Record<string, number> = {};

  for (const { log } of input.logs) {
    const facts = factsOf(log);
    logKinds[facts.kind] += 1;
    if (facts.sessionId) {
      sessions.add(facts.sessionId);
    }
    if (facts.statementId) {
      statements.add(facts.statementId);
    }
    const operationType = operationLabel(facts);
    const statementType = facts.statementType ?? '-';
    const key = `${operationType}\0${statementType}`;
    let row = rows.get(key);
    if (!row) {
      row = {
        operationType,
        statementType,
        count: 0,
        latencyCount: 0,
        resultFormats: {},
        compressed: 0,
        chunksPresent: 0,
        chunksIterated: 0,
        chunkDownloadMs: 0,
        pollCount: 0,
        errors: {},
        latencies: [],
      };
      rows.set(key, row);
    }
    row.count += 1;
    if (facts.latencyMs !== undefined) {
      row.latencies.push(facts.latencyMs);
    }
    if (facts.executionResult) {
      increment(row.resultFormats, facts.executionResult);
    }
    if (facts.isCompressed) {
      row.compressed += 1;
    }
    row.chunksPresent += facts.chunksPresent ?? 0;
    row.chunksIterated += facts.chunksIterated ?? 0;
    row.chunkDownloadMs += facts.chunkDownloadMs ?? 0;
    row.pollCount += facts.pollCount ?? 0;
    if (facts.errorName) {
      increment(row.errors, facts.errorName);
      increment(errors, facts.errorName);
    }
  }

  const kinds = [...rows.values()]
    .sort(
      (a, b) =>
        kindRank(a.operationType) - kindRank(b.operationType) ||
        a.operationType.localeCompare(b.operationType) ||
        a.statementType.localeCompare(b.statementType),
    )
    .map(({ latencies, ...row }) => {
      const summary: KindSummary = { ...row, latencyCount: latencies.length };
      if (latencies.length > 0) {
        summary.p50LatencyMs = percentile(latencies, 50);
        summary.p95LatencyMs = percentile(latencies, 95);
        summary.maxLatencyMs = Math.max(...latencies);
      }
      return summary;
    });

  return {
    logs: input.logs.length,
    sessions: sessions.size,
    statements: statements.size,
    logKinds,
    kinds,
    uploads: uploadStats(input.uploads),
    errors,
  };
}

function uploadStats(uploads: DecodedInput['uploads']): UploadStats {
  const stats: UploadStats = { count: uploads.length, totalBytes: 0, endpoints: {} };
  if (uploads.length === 0) {
    return stats;
  }
  const sizes = uploads.map((upload) => upload.bytes);
  const logCounts = uploads.map((upload) => upload.logCount);
  stats.totalBytes = sizes.reduce((sum, size) => sum + size, 0);
  stats.minBytes = Math.min(...sizes);
  stats.maxBytes = Math.max(...sizes);
  stats.meanBytes = Math.round(stats.totalBytes / uploads.length);
  stats.minLogs = Math.min(...logCounts);
  stats.maxLogs = Math.max(...logCounts);
  for (const upload of uploads) {
    increment(stats.endpoints, upload.path ?? 'unknown');
  }
  return stats;
}
