/**
 * The backend's telemetry proto as a field list, and a checker that holds a frontend log's JSON
 * against it. Written from the project's wire-format document: its section "The proto, field by
 * field" lists the backend's `sql_driver_telemetry.proto` (package `logging`) message by message,
 * and the section "One frontend log" the envelope around `sql_driver_log` (`workspace_id`,
 * `frontend_log_event_id`, `context.client_context`, `entry`). The document names the envelope's
 * fields but not its messages, nor the enums: those names are ours. Every enum starts with
 * `TYPE_UNSPECIFIED` (value 0), then the values the document lists, in its order.
 *
 * A field or enum value missing here is one the backend does not accept: add one only when the
 * proto has it.
 */

export type ScalarType = 'string' | 'bool' | 'int32' | 'int64';

export type ProtoType = { scalar: ScalarType } | { enum: string } | { message: string };

export interface ProtoField {
  type: ProtoType;
  repeated: boolean;
}

export type ProtoMessage = Readonly<Record<string, ProtoField>>;

const scalar = (type: ScalarType): ProtoField => ({ type: { scalar: type }, repeated: false });
const enumOf = (name: string): ProtoField => ({ type: { enum: name }, repeated: false });
const messageOf = (name: string): ProtoField => ({ type: { message: name }, repeated: false });
const repeated = (field: ProtoField): ProtoField => ({ ...field, repeated: true });

const STRING = scalar('string');
const BOOL = scalar('bool');
const INT32 = scalar('int32');
const INT64 = scalar('int64');

/** Fields of one type at once, for the long lists of `DriverConnectionParameters`. */
const all = (field: ProtoField, names: readonly string[]): Record<string, ProtoField> =>
  Object.fromEntries(names.map((name) => [name, field]));

const unspecifiedThen = (...values: string[]): readonly string[] => Object.freeze(['TYPE_UNSPECIFIED', ...values]);

export const PROTO_ENUMS: Readonly<Record<string, readonly string[]>> = Object.freeze({
  DriverMode: unspecifiedThen('THRIFT', 'SEA'),
  DriverAuthMech: unspecifiedThen('OTHER', 'PAT', 'OAUTH'),
  DriverAuthFlow: unspecifiedThen('TOKEN_PASSTHROUGH', 'CLIENT_CREDENTIALS', 'BROWSER_BASED_AUTHENTICATION'),
  DriverProxyAuth: unspecifiedThen('NONE', 'BASIC', 'SPNEGO'),
  StatementType: unspecifiedThen('QUERY', 'SQL', 'UPDATE', 'METADATA', 'VOLUME'),
  ExecutionResultFormat: unspecifiedThen('INLINE_ARROW', 'INLINE_JSON', 'EXTERNAL_LINKS', 'COLUMNAR_INLINE'),
  OperationType: unspecifiedThen(
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
  ),
  VolumeOperationType: unspecifiedThen('PUT', 'GET', 'DELETE', 'LIST', 'QUERY'),
});

/** The message one `protoLogs` entry holds. */
export const FRONTEND_LOG = 'FrontendLog';

export const PROTO_MESSAGES: Readonly<Record<string, ProtoMessage>> = Object.freeze({
  // The envelope.
  [FRONTEND_LOG]: {
    workspace_id: INT64,
    frontend_log_event_id: STRING,
    context: messageOf('FrontendLogContext'),
    entry: messageOf('FrontendLogEntry'),
  },
  FrontendLogContext: { client_context: messageOf('ClientContext') },
  ClientContext: { timestamp_millis: INT64, user_agent: STRING },
  FrontendLogEntry: { sql_driver_log: messageOf('OssSqlDriverTelemetryLog') },

  // sql_driver_telemetry.proto
  OssSqlDriverTelemetryLog: {
    session_id: STRING,
    sql_statement_id: STRING,
    system_configuration: messageOf('DriverSystemConfiguration'),
    driver_connection_params: messageOf('DriverConnectionParameters'),
    auth_type: STRING,
    vol_operation: messageOf('VolumeOperationEvent'),
    sql_operation: messageOf('SqlExecutionEvent'),
    error_info: messageOf('DriverErrorInfo'),
    operation_latency_ms: INT64,
  },
  DriverSystemConfiguration: all(STRING, [
    'driver_version',
    'runtime_name',
    'runtime_version',
    'runtime_vendor',
    'os_name',
    'os_version',
    'os_arch',
    'driver_name',
    'client_app_name',
    'locale_name',
    'char_set_encoding',
    'process_name',
  ]),
  DriverConnectionParameters: {
    ...all(STRING, [
      'http_path',
      'auth_scope',
      'discovery_url',
      'ssl_trust_store_type',
      'google_service_account',
      'google_credential_file_path',
      'azure_workspace_resource_id',
      'azure_tenant_id',
      'token_endpoint',
      'auth_endpoint',
      'jwt_key_file',
      'jwt_algorithm',
      'allowed_volume_ingestion_paths',
      'query_tags',
    ]),
    ...all(BOOL, [
      'use_proxy',
      'use_system_proxy',
      'use_cf_proxy',
      'discovery_mode_enabled',
      'use_empty_metadata',
      'support_many_parameters',
      'check_certificate_revocation',
      'accept_undetermined_certificate_revocation',
      'enable_sea_hybrid_results',
      'enable_complex_datatype_support',
      'allow_self_signed_support',
      'use_system_trust_store',
      'enable_token_cache',
      'enable_arrow',
      'enable_direct_results',
      'enable_jwt_assertion',
      'enable_metric_view_metadata',
      'auto_commit',
      'fetch_auto_commit_from_server',
      'enable_geospatial_support',
    ]),
    // socket_timeout is in seconds.
    ...all(INT64, [
      'http_connection_pool_size',
      'rows_fetched_per_block',
      'socket_timeout',
      'async_poll_interval_millis',
    ]),
    string_column_length: INT32,
    mode: enumOf('DriverMode'),
    auth_mech: enumOf('DriverAuthMech'),
    auth_flow: enumOf('DriverAuthFlow'),
    ...all(messageOf('HostDetails'), ['host_info', 'proxy_host_info', 'cf_proxy_host_info']),
    non_proxy_hosts: repeated(STRING),
  },
  HostDetails: { host_url: STRING, port: INT32, proxy_auth_type: enumOf('DriverProxyAuth') },
  SqlExecutionEvent: {
    statement_type: enumOf('StatementType'),
    is_compressed: BOOL,
    execution_result: enumOf('ExecutionResultFormat'),
    chunk_id: INT64,
    retry_count: INT64,
    chunk_details: messageOf('ChunkDetails'),
    result_latency: messageOf('ResultLatency'),
    operation_detail: messageOf('OperationDetail'),
    java_uses_patched_arrow: BOOL,
  },
  ChunkDetails: {
    initial_chunk_latency_millis: INT64,
    slowest_chunk_latency_millis: INT64,
    total_chunks_present: INT32,
    total_chunks_iterated: INT32,
    sum_chunks_download_time_millis: INT64,
  },
  ResultLatency: { result_set_ready_latency_millis: INT64, result_set_consumption_latency_millis: INT64 },
  OperationDetail: {
    n_operation_status_calls: INT32,
    operation_status_latency_millis: INT64,
    is_internal_call: BOOL,
    operation_type: enumOf('OperationType'),
  },
  DriverErrorInfo: { error_name: STRING, stack_trace: STRING },
  VolumeOperationEvent: {
    volume_operation_type: enumOf('VolumeOperationType'),
    volume_path: STRING,
    local_file: STRING,
  },
});

/** The field a dotted JSON path names, from `root`; undefined when some step is not a field. */
export function protoFieldAt(path: string, root: string = FRONTEND_LOG): ProtoField | undefined {
  let message: ProtoMessage | undefined = PROTO_MESSAGES[root];
  let field: ProtoField | undefined;
  for (const name of path.split('.')) {
    field = message && Object.prototype.hasOwnProperty.call(message, name) ? message[name] : undefined;
    if (!field) {
      return undefined;
    }
    message = 'message' in field.type ? PROTO_MESSAGES[field.type.message] : undefined;
  }
  return field;
}

/**
 * A JSON number with its exact text: JSON.parse would round an int64 beyond 2^53 and hide
 * whether it was written as `7`, `7.0` or `7e0`.
 */
export class JsonNumber {
  constructor(readonly text: string) {}
}

const NUMBER_MARK = '#number';
const STRING_OR_NUMBER = /"(?:[^"\\]|\\.)*"|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/g;

/** JSON.parse, with every number kept as a `JsonNumber`. */
export function parseJsonExact(text: string): unknown {
  const marked = text.replace(STRING_OR_NUMBER, (token) =>
    token.startsWith('"') ? token : `{"${NUMBER_MARK}":"${token}"}`,
  );
  return JSON.parse(marked, (_key, value: unknown) =>
    typeof value === 'object' && value !== null && typeof (value as Record<string, unknown>)[NUMBER_MARK] === 'string'
      ? new JsonNumber((value as Record<string, string>)[NUMBER_MARK])
      : value,
  );
}

const INTEGER = /^-?(?:0|[1-9]\d*)$/;
const RANGES: Record<'int32' | 'int64', [bigint, bigint]> = {
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
};

function shown(value: unknown): string {
  if (value instanceof JsonNumber) {
    return `number ${value.text}`;
  }
  return value === null ? 'null' : Array.isArray(value) ? 'array' : `${typeof value} ${JSON.stringify(value)}`;
}

function numberText(value: unknown): string | undefined {
  if (value instanceof JsonNumber) {
    return value.text;
  }
  return typeof value === 'number' ? JSON.stringify(value) : undefined;
}

/**
 * Proto3 JSON for integers: int32 as a JSON number; int64 as a JSON number or a decimal string
 * (both are accepted, since a JSON number may not hold 64 bits in every parser). Digits only,
 * within the type's range.
 */
function integerProblem(value: unknown, type: 'int32' | 'int64'): string | undefined {
  const text = numberText(value) ?? (type === 'int64' && typeof value === 'string' ? value : undefined);
  if (text === undefined || !INTEGER.test(text)) {
    return `expected ${type}, got ${shown(value)}`;
  }
  const [min, max] = RANGES[type];
  const big = BigInt(text);
  return big < min || big > max ? `${text} is out of the ${type} range` : undefined;
}

function valueProblems(value: unknown, type: ProtoType, path: string, problems: string[]): void {
  if ('message' in type) {
    messageProblems(value, type.message, path, problems);
  } else if ('enum' in type) {
    const values = PROTO_ENUMS[type.enum] ?? [];
    if (typeof value !== 'string' || !values.includes(value)) {
      problems.push(`${path}: ${shown(value)} is not a value of enum ${type.enum} (${values.join(', ')})`);
    }
  } else if (type.scalar === 'string' || type.scalar === 'bool') {
    if (typeof value !== (type.scalar === 'bool' ? 'boolean' : 'string')) {
      problems.push(`${path}: expected ${type.scalar}, got ${shown(value)}`);
    }
  } else {
    const problem = integerProblem(value, type.scalar);
    if (problem) {
      problems.push(`${path}: ${problem}`);
    }
  }
}

function messageProblems(value: unknown, name: string, path: string, problems: string[]): void {
  const message = PROTO_MESSAGES[name];
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof JsonNumber || !message) {
    problems.push(`${path || '(root)'}: expected message ${name}, got ${shown(value)}`);
    return;
  }
  for (const [key, child] of Object.entries(value)) {
    const where = path ? `${path}.${key}` : key;
    const field = Object.prototype.hasOwnProperty.call(message, key) ? message[key] : undefined;
    if (!field) {
      problems.push(`${where}: message ${name} has no field ${key}`);
    } else if (child === null) {
      // The serializer omits what it does not know; a null would only reset the field.
      problems.push(`${where}: null`);
    } else if (field.repeated) {
      if (Array.isArray(child)) {
        child.forEach((item, index) => valueProblems(item, field.type, `${where}[${index}]`, problems));
      } else {
        problems.push(`${where}: expected a repeated field (array), got ${shown(child)}`);
      }
    } else {
      valueProblems(child, field.type, where, problems);
    }
  }
}

/**
 * Every way `value` (a parsed JSON log, numbers preferably as `JsonNumber`) departs from the
 * message `root`: an unknown field, a JSON type that does not fit the field's proto type, an
 * integer out of range or an enum value the proto lacks. Empty when it fits.
 */
export function protoProblems(value: unknown, root: string = FRONTEND_LOG): string[] {
  const problems: string[] = [];
  messageProblems(value, root, '', problems);
  return problems;
}
