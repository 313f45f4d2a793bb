import { PROTO_ENUMS } from './protoSchema';

/**
 * A validator of telemetry uploads written from the project's wire-format document, independent of the
 * serializer in lib/: allowed keys only, snake_case, enum values, types, `protoLogs` strings,
 * `items` an empty array, the extra rules of `/telemetry-unauth`, and the workspace's address
 * only on signed-in connection logs, naming the host the upload went to.
 */

const SNAKE = /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const INT64_MAX = 9223372036854775807n;

type Check = 'string' | 'boolean' | 'int' | 'int64' | 'uuid' | readonly string[] | Schema;
interface Schema {
  [key: string]: Check;
}

const STATEMENT_TYPES = ['QUERY', 'SQL', 'UPDATE', 'METADATA', 'VOLUME', 'NONE'] as const;
const EXECUTION_RESULTS = [
  'INLINE_ARROW',
  'INLINE_JSON',
  'EXTERNAL_LINKS',
  'COLUMNAR_INLINE',
  'FORMAT_UNSPECIFIED',
] as const;
// The proto's own list (protoSchema.ts), without its unset zero.
const OPERATION_TYPES = PROTO_ENUMS.OperationType.filter((value) => value !== 'TYPE_UNSPECIFIED');

const SYSTEM_CONFIGURATION: Schema = {
  driver_version: 'string',
  driver_name: 'string',
  runtime_name: 'string',
  runtime_version: 'string',
  runtime_vendor: 'string',
  os_name: 'string',
  os_version: 'string',
  os_arch: 'string',
  client_app_name: 'string',
  locale_name: 'string',
  char_set_encoding: 'string',
  process_name: 'string',
};

// The fields wire-format.md names; the proto has more, but these are the ones a Node driver knows.
const DRIVER_CONNECTION_PARAMS: Schema = {
  http_path: 'string',
  mode: ['THRIFT', 'SEA'],
  host_info: { host_url: 'string', port: 'int' },
  use_proxy: 'boolean',
  auth_mech: ['PAT', 'OAUTH', 'OTHER'],
  auth_flow: ['TOKEN_PASSTHROUGH', 'CLIENT_CREDENTIALS', 'BROWSER_BASED_AUTHENTICATION'],
  enable_arrow: 'boolean',
  enable_direct_results: 'boolean',
  socket_timeout: 'int',
  async_poll_interval_millis: 'int',
  rows_fetched_per_block: 'int',
  enable_metric_view_metadata: 'boolean',
};

const SQL_OPERATION: Schema = {
  statement_type: STATEMENT_TYPES,
  is_compressed: 'boolean',
  execution_result: EXECUTION_RESULTS,
  chunk_id: 'int',
  retry_count: 'int',
  chunk_details: {
    initial_chunk_latency_millis: 'int',
    slowest_chunk_latency_millis: 'int',
    total_chunks_present: 'int',
    total_chunks_iterated: 'int',
    sum_chunks_download_time_millis: 'int',
  },
  result_latency: { result_set_ready_latency_millis: 'int', result_set_consumption_latency_millis: 'int' },
  operation_detail: {
    n_operation_status_calls: 'int',
    operation_status_latency_millis: 'int',
    operation_type: OPERATION_TYPES,
    is_internal_call: 'boolean',
  },
};

const SQL_DRIVER_LOG: Schema = {
  session_id: 'uuid',
  sql_statement_id: 'uuid',
  system_configuration: SYSTEM_CONFIGURATION,
  driver_connection_params: DRIVER_CONNECTION_PARAMS,
  auth_type: ['pat', 'oauth-m2m', 'oauth-u2m', 'other'],
  sql_operation: SQL_OPERATION,
  error_info: { error_name: 'string', stack_trace: 'string' },
  operation_latency_ms: 'int',
};

const FRONTEND_LOG: Schema = {
  // An int64 as a JSON number: beyond 2^53 the decoded number is rounded, so validateUpload also
  // checks its digits in the text.
  workspace_id: 'int64',
  frontend_log_event_id: 'string',
  context: { client_context: { timestamp_millis: 'int', user_agent: 'string' } },
  entry: { sql_driver_log: SQL_DRIVER_LOG },
};

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkValue(value: unknown, check: Check, path: string, problems: string[]): void {
  if (check === 'string') {
    if (typeof value !== 'string') {
      problems.push(`${path}: expected a string, got ${typeof value}`);
    }
  } else if (check === 'uuid') {
    if (typeof value !== 'string' || !UUID.test(value)) {
      problems.push(`${path}: expected a canonical UUID`);
    }
  } else if (check === 'boolean') {
    if (typeof value !== 'boolean') {
      problems.push(`${path}: expected a boolean, got ${typeof value}`);
    }
  } else if (check === 'int') {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      problems.push(`${path}: expected a non-negative integer, got ${String(value)}`);
    }
  } else if (check === 'int64') {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
      problems.push(`${path}: expected a non-negative int64 number, got ${JSON.stringify(value)}`);
    }
  } else if (Array.isArray(check)) {
    if (typeof value !== 'string' || !check.includes(value)) {
      problems.push(`${path}: ${JSON.stringify(value)} is not one of ${check.join(', ')}`);
    }
  } else {
    checkObject(value, check as Schema, path, problems);
  }
}

function checkObject(value: unknown, schema: Schema, path: string, problems: string[]): void {
  if (!isPlainObject(value)) {
    problems.push(`${path}: expected an object`);
    return;
  }
  for (const [key, child] of Object.entries(value)) {
    const where = path ? `${path}.${key}` : key;
    if (!SNAKE.test(key)) {
      problems.push(`${where}: key is not snake_case`);
    }
    const check = schema[key];
    if (check === undefined) {
      problems.push(`${where}: key not allowed`);
      continue;
    }
    if (child === null || child === undefined) {
      problems.push(`${where}: null/undefined value`);
      continue;
    }
    checkValue(child, check, where, problems);
  }
}

/**
 * Problems with one decoded frontend log; `unauthenticated` adds the `/telemetry-unauth` rules;
 * `host`, the host (and port) the log was sent to, is the only one `host_info` may name.
 */
export function validateFrontendLog(
  log: unknown,
  unauthenticated = false,
  host?: { name: string; port: number },
): string[] {
  const problems: string[] = [];
  checkObject(log, FRONTEND_LOG, '', problems);
  if (!isPlainObject(log)) {
    return problems;
  }
  if (typeof log.frontend_log_event_id !== 'string' || log.frontend_log_event_id.length === 0) {
    problems.push('frontend_log_event_id: missing');
  }
  const entry = log.entry as { sql_driver_log?: Record<string, unknown> } | undefined;
  const driverLog = entry?.sql_driver_log;
  if (!isPlainObject(driverLog)) {
    problems.push('entry.sql_driver_log: missing');
    return problems;
  }
  const params = driverLog.driver_connection_params;
  if (isPlainObject(params) && ('http_path' in params || 'host_info' in params)) {
    // The workspace's address and path: only in connection logs, which statement logs join by session id.
    if ('sql_statement_id' in driverLog || 'error_info' in driverLog) {
      problems.push('driver_connection_params: http_path/host_info outside a connection log');
    }
    if (unauthenticated) {
      problems.push('unauth: http_path/host_info must not be sent');
    }
    const info = params.host_info;
    if (isPlainObject(info) && typeof info.host_url === 'string') {
      if (!/^https:\/\/[^/?#@:]+$/.test(info.host_url)) {
        problems.push(`host_info.host_url: ${JSON.stringify(info.host_url)} is not https://<host>`);
      }
      if (host && info.host_url !== `https://${host.name.toLowerCase()}`) {
        problems.push('host_info.host_url: not the host the log was sent to');
      }
      if (host && info.port !== undefined && info.port !== host.port) {
        problems.push('host_info.port: not the port the log was sent to');
      }
    }
    if (typeof params.http_path === 'string' && !/^\/[^?#\s]*$/.test(params.http_path)) {
      problems.push('http_path: expected a path without query or fragment');
    }
  }
  if (unauthenticated) {
    for (const key of ['session_id', 'sql_statement_id']) {
      if (key in driverLog) {
        problems.push(`unauth: ${key} must not be sent`);
      }
    }
    if ('workspace_id' in log) {
      problems.push('unauth: workspace_id must not be sent');
    }
    const system = driverLog.system_configuration;
    if (isPlainObject(system)) {
      for (const key of Object.keys(system)) {
        if (key !== 'driver_name' && key !== 'driver_version') {
          problems.push(`unauth: system_configuration.${key} must not be sent`);
        }
      }
    }
  }
  return problems;
}

/** Problems with one upload request (path, headers, body), each log included. */
export function validateUpload(request: { path: string; headers: Record<string, unknown>; body: unknown }): string[] {
  const problems: string[] = [];
  const unauthenticated = request.path === '/telemetry-unauth';
  const hostHeader = /^([^:]+)(?::(\d+))?$/.exec(String(request.headers.host ?? ''));
  const host = hostHeader ? { name: hostHeader[1], port: hostHeader[2] ? Number(hostHeader[2]) : 443 } : undefined;
  if (unauthenticated && request.headers.authorization !== undefined) {
    problems.push('unauth: Authorization header sent');
  }
  if (!String(request.headers['content-type'] ?? '').startsWith('application/json')) {
    problems.push('Content-Type is not application/json');
  }
  const body = request.body;
  if (!isPlainObject(body)) {
    return [...problems, 'body: not a JSON object'];
  }
  for (const key of Object.keys(body)) {
    if (!['uploadTime', 'items', 'protoLogs'].includes(key)) {
      problems.push(`body.${key}: key not allowed`);
    }
  }
  if (typeof body.uploadTime !== 'number' || !Number.isSafeInteger(body.uploadTime)) {
    problems.push('body.uploadTime: expected an integer');
  }
  if (!Array.isArray(body.items) || body.items.length !== 0) {
    problems.push('body.items: expected []');
  }
  if (!Array.isArray(body.protoLogs) || body.protoLogs.length === 0) {
    return [...problems, 'body.protoLogs: expected a non-empty array'];
  }
  body.protoLogs.forEach((entry: unknown, index: number) => {
    if (typeof entry !== 'string') {
      problems.push(`protoLogs[${index}]: not a string`);
      return;
    }
    let decoded: unknown;
    try {
      decoded = JSON.parse(entry);
    } catch {
      problems.push(`protoLogs[${index}]: not JSON`);
      return;
    }
    problems.push(
      ...validateFrontendLog(decoded, unauthenticated, host).map((problem) => `protoLogs[${index}] ${problem}`),
    );
    const workspaceId = /"workspace_id":([^,}]*)/.exec(entry);
    if (workspaceId && !(/^\d{1,19}$/.test(workspaceId[1]) && BigInt(workspaceId[1]) <= INT64_MAX)) {
      problems.push(`protoLogs[${index}] workspace_id: ${workspaceId[1]} is not an int64`);
    }
  });
  return problems;
}
