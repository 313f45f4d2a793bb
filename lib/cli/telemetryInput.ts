/**
 * Decoding of captured telemetry, shared by `inspect` and `demo`: upload bodies
 * (`{"uploadTime", "items", "protoLogs": ["<frontend log JSON>", ...]}`), the emulator's
 * recordings (what `GET /emulator/telemetry` answers: `{ requests, logs }`) and audit files
 * (one frontend log per line). Nothing here throws on bad input: every unusable part is
 * reported as a problem and skipped.
 */

type AnyRecord = Record<string, unknown>;

/** One upload request, as far as it could be decoded. */
export interface DecodedUpload {
  /** 1-based, in input order. */
  index: number;
  /** Where it came from: `line 3`, `request 2`, `file`... */
  source: string;
  /** `/telemetry-ext` or `/telemetry-unauth`, when known (emulator recordings). */
  path?: string;
  /** Size of the request body in bytes. */
  bytes: number;
  /** Frontend logs decoded from it. */
  logCount: number;
  /** `uploadTime` of the body (epoch ms), when present. */
  uploadTime?: number;
}

/** One frontend log, decoded. */
export interface DecodedLog {
  /** Where it came from: `line 3 protoLogs[1]`, `request 2 log 0`, `line 7`... */
  source: string;
  /** Index of the upload it was part of; absent for audit-file logs. */
  upload?: number;
  log: AnyRecord;
}

/** A part of the input that was skipped, and why. */
export interface InputProblem {
  source: string;
  reason: string;
}

export type InputFormat = 'upload bodies' | 'emulator recordings' | 'audit file' | 'mixed' | 'empty';

export interface DecodedInput {
  format: InputFormat;
  uploads: DecodedUpload[];
  logs: DecodedLog[];
  problems: InputProblem[];
}

/** A recorded upload, shaped like the emulator's `RecordedTelemetryRequest` (only what is read). */
export interface RecordedUploadLike {
  path?: unknown;
  headers?: unknown;
  body?: unknown;
  logs?: unknown;
  receivedAt?: unknown;
}

function isRecord(value: unknown): value is AnyRecord {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Whether `value` looks like one frontend log (the JSON inside a `protoLogs` string). */
export function isFrontendLog(value: unknown): value is AnyRecord {
  return isRecord(value) && (isRecord(value.entry) || typeof value.frontend_log_event_id === 'string');
}

function isUploadBody(value: unknown): value is AnyRecord {
  return isRecord(value) && 'protoLogs' in value;
}

function isRecordings(value: unknown): value is AnyRecord {
  return isRecord(value) && Array.isArray(value.requests);
}

function describe(value: unknown): string {
  if (Array.isArray(value)) {
    return 'an array';
  }
  if (value === null) {
    return 'null';
  }
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

function shortError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.length > 120 ? `${message.slice(0, 117)}...` : message;
}

/** Collects decoded parts in input order. */
class Decoder {
  readonly uploads: DecodedUpload[] = [];

  readonly logs: DecodedLog[] = [];

  readonly problems: InputProblem[] = [];

  private readonly kinds = new Set<'upload bodies' | 'emulator recordings' | 'audit file'>();

  result(): DecodedInput {
    let format: InputFormat = 'empty';
    if (this.kinds.size === 1) {
      [format] = [...this.kinds];
    } else if (this.kinds.size > 1) {
      format = 'mixed';
    }
    return { format, uploads: this.uploads, logs: this.logs, problems: this.problems };
  }

  problem(source: string, reason: string): void {
    this.problems.push({ source, reason });
  }

  /** Any JSON value found at `source`; `bytes` is its size in the input. */
  value(value: unknown, source: string, bytes: number): void {
    if (isRecordings(value)) {
      this.recordings(value.requests as unknown[], source === 'file' ? '' : `${source} `);
    } else if (isUploadBody(value)) {
      this.kinds.add('upload bodies');
      this.upload(value, source, bytes);
    } else if (isFrontendLog(value)) {
      this.kinds.add('audit file');
      this.logs.push({ source, log: value });
    } else if (Array.isArray(value)) {
      value.forEach((element, i) => this.value(element, `${source}[${i}]`, byteLength(element)));
    } else {
      this.problem(source, `not an upload body, frontend log or emulator recording (got ${describe(value)})`);
    }
  }

  /** One upload body; its logs come from `protoLogs`, unless `acceptedLogs` (the emulator's) is given. */
  upload(body: AnyRecord, source: string, bytes: number, path?: string, acceptedLogs?: unknown[]): void {
    const protoLogs = body.protoLogs;
    if (!Array.isArray(protoLogs)) {
      this.problem(source, `"protoLogs" is ${describe(protoLogs)}, expected an array of strings`);
      return;
    }
    const index = this.uploads.length + 1;
    const upload: DecodedUpload = { index, source, bytes, logCount: 0 };
    if (path !== undefined) {
      upload.path = path;
    }
    if (typeof body.uploadTime === 'number') {
      upload.uploadTime = body.uploadTime;
    }
    this.uploads.push(upload);
    const entries = acceptedLogs ?? protoLogs;
    entries.forEach((entry, i) => {
      const logSource = `${source} ${acceptedLogs ? 'log' : 'protoLogs'}[${i}]`;
      const log = this.protoLog(entry, logSource);
      if (log) {
        this.logs.push({ source: logSource, upload: index, log });
        upload.logCount += 1;
      }
    });
  }

  /** One `protoLogs` element: a string holding a frontend log's JSON (an already parsed object is accepted too). */
  private protoLog(entry: unknown, source: string): AnyRecord | undefined {
    let value = entry;
    if (typeof entry === 'string') {
      try {
        value = JSON.parse(entry);
      } catch (error) {
        this.problem(source, `not JSON: ${shortError(error)}`);
        return undefined;
      }
    }
    if (!isFrontendLog(value)) {
      this.problem(source, `not a frontend log (got ${describe(value)} without "entry")`);
      return undefined;
    }
    return value;
  }

  /** The `requests` of the emulator's recordings (or `emulator.telemetry.requests()` in process). */
  recordings(requests: unknown[], prefix = ''): void {
    this.kinds.add('emulator recordings');
    requests.forEach((request, i) => {
      const source = `${prefix}request ${i + 1}`;
      if (!isRecord(request) || !isRecord(request.body)) {
        this.problem(source, 'not a recorded request with a "body"');
        return;
      }
      const path = typeof request.path === 'string' ? request.path : undefined;
      const accepted = Array.isArray(request.logs) ? (request.logs as unknown[]) : undefined;
      this.upload(request.body, source, recordedBytes(request), path, accepted);
    });
  }
}

function byteLength(value: unknown): number {
  try {
    return Buffer.byteLength(JSON.stringify(value) ?? '');
  } catch {
    return 0;
  }
}

/** The body size the collector received: its `Content-Length`, else the size of the body re-encoded. */
function recordedBytes(request: RecordedUploadLike): number {
  const headers = isRecord(request.headers) ? request.headers : {};
  const length = Number(headers['content-length']);
  return Number.isInteger(length) && length >= 0 ? length : byteLength(request.body);
}

/**
 * Decodes a file's text: either one JSON document (an upload body, an emulator recording, a
 * frontend log, or an array of them) or JSON lines (upload bodies or audit-file logs, in any mix).
 * Blank lines are ignored; any other line that does not decode is reported and skipped.
 */
export function decodeTelemetryText(text: string): DecodedInput {
  const decoder = new Decoder();
  const trimmed = text.replace(/^\uFEFF/, '').trim();
  if (trimmed === '') {
    return decoder.result();
  }
  let whole: unknown;
  let parsedWhole = false;
  try {
    whole = JSON.parse(trimmed);
    parsedWhole = true;
  } catch {
    // Not one document: JSON lines.
  }
  if (parsedWhole && !trimmed.includes('\n')) {
    decoder.value(whole, 'line 1', Buffer.byteLength(trimmed));
  } else if (parsedWhole) {
    decoder.value(whole, 'file', Buffer.byteLength(trimmed));
  } else {
    text.split(/\r?\n/).forEach((rawLine, i) => {
      const line = rawLine.trim();
      if (line === '') {
        return;
      }
      const source = `line ${i + 1}`;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch (error) {
        decoder.problem(source, `not JSON: ${shortError(error)}`);
        return;
      }
      decoder.value(value, source, Buffer.byteLength(line));
    });
  }
  return decoder.result();
}

/** Decodes recorded uploads held in memory (`emulator.telemetry.requests()`). */
export function decodeRecordedUploads(requests: readonly RecordedUploadLike[]): DecodedInput {
  const decoder = new Decoder();
  decoder.recordings([...requests]);
  return decoder.result();
}

/** The fields of one frontend log that the summaries and tables show, flattened. */
export interface LogFacts {
  /** `connection`: connection facts only; `statement`: a statement's log; `error`: carries `error_info`. */
  kind: 'connection' | 'statement' | 'error' | 'other';
  timestamp?: number;
  workspaceId?: string;
  sessionId?: string;
  statementId?: string;
  operationType?: string;
  statementType?: string;
  latencyMs?: number;
  executionResult?: string;
  isCompressed?: boolean;
  chunksPresent?: number;
  chunksIterated?: number;
  chunkDownloadMs?: number;
  pollCount?: number;
  retryCount?: number;
  errorName?: string;
  authType?: string;
  driver?: string;
}

function record(value: unknown): AnyRecord {
  return isRecord(value) ? value : {};
}

function num(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) {
    return value;
  }
  if (typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value)) {
    return Number(value);
  }
  return undefined;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Reads what a frontend log says, tolerating any missing or mistyped field. */
export function factsOf(log: unknown): LogFacts {
  const root = record(log);
  const driverLog = record(record(root.entry).sql_driver_log);
  const operation = record(driverLog.sql_operation);
  const chunks = record(operation.chunk_details);
  const detail = record(operation.operation_detail);
  const system = record(driverLog.system_configuration);
  const errorName = str(record(driverLog.error_info).error_name);
  const statementId = str(driverLog.sql_statement_id);

  let kind: LogFacts['kind'] = 'other';
  if (errorName !== undefined) {
    kind = 'error';
  } else if (statementId !== undefined || Object.keys(operation).length > 0) {
    kind = 'statement';
  } else if (isRecord(driverLog.system_configuration) || isRecord(driverLog.driver_connection_params)) {
    kind = 'connection';
  }

  const facts: LogFacts = { kind };
  const set = <K extends keyof LogFacts>(key: K, value: LogFacts[K] | undefined): void => {
    if (value !== undefined) {
      facts[key] = value;
    }
  };
  set('timestamp', num(record(record(root.context).client_context).timestamp_millis));
  set(
    'workspaceId',
    root.workspace_id === undefined || root.workspace_id === null ? undefined : String(root.workspace_id),
  );
  set('sessionId', str(driverLog.session_id));
  set('statementId', statementId);
  set('operationType', str(detail.operation_type));
  set('statementType', str(operation.statement_type));
  set('latencyMs', num(driverLog.operation_latency_ms));
  set('executionResult', str(operation.execution_result));
  set('isCompressed', typeof operation.is_compressed === 'boolean' ? operation.is_compressed : undefined);
  set('chunksPresent', num(chunks.total_chunks_present));
  set('chunksIterated', num(chunks.total_chunks_iterated));
  set('chunkDownloadMs', num(chunks.sum_chunks_download_time_millis));
  set('pollCount', num(detail.n_operation_status_calls));
  set('retryCount', num(operation.retry_count));
  set('errorName', errorName);
  set('authType', str(driverLog.auth_type));
  const driverName = str(system.driver_name);
  set('driver', driverName && `${driverName} ${str(system.driver_version) ?? ''}`.trim());
  return facts;
}
