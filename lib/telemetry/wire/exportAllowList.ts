import { UPLOADED_STATEMENT_FIELDS } from '../statementFields';
import { TelemetryLogKind } from '../types';

/** One field that may leave the process, with where it may go. */
export interface ExportTag {
  /** JSON path inside one frontend log. */
  path: string;
  /** Log kinds the field may appear in. */
  kinds: readonly TelemetryLogKind[];
  /** May go on `/telemetry-unauth` (no credentials: nothing that identifies a session or fingerprints a client). */
  unauthenticated: boolean;
  description: string;
}

const ALL: readonly TelemetryLogKind[] = ['connection', 'statement', 'error'];
const CONNECT: readonly TelemetryLogKind[] = ['connection', 'error'];
const CONNECTION: readonly TelemetryLogKind[] = ['connection'];
const STATEMENT: readonly TelemetryLogKind[] = ['statement'];
const STATEMENT_OR_ERROR: readonly TelemetryLogKind[] = ['statement', 'error'];

function tag(
  path: string,
  kinds: readonly TelemetryLogKind[],
  unauthenticated: boolean,
  description: string,
): ExportTag {
  return Object.freeze({ path, kinds: Object.freeze([...kinds]), unauthenticated, description });
}

const LOG = 'entry.sql_driver_log';
const SYS = `${LOG}.system_configuration`;
const PARAMS = `${LOG}.driver_connection_params`;
const OP = `${LOG}.sql_operation`;

/**
 * The export allow-list: every field any log may carry to Databricks. A field not listed here
 * cannot leave the process (the serializer is compiled from this table), which is why there is
 * no `error_info.stack_trace` and no proxy host: anything that could hold SQL text, table names or
 * local paths, and any address but the workspace's own, are never exported. The workspace's
 * address and HTTP path (`host_info`, `http_path`) go only on signed-in connection logs, which
 * are uploaded to that same workspace: statement logs join them through the session id. Error
 * logs may carry the other connection fields because a failed connect is reported as an error log.
 */
export const EXPORT_ALLOW_LIST: readonly ExportTag[] = Object.freeze([
  tag('workspace_id', ALL, false, "Numeric workspace id, from the HTTP path or the workspace's responses."),
  tag('frontend_log_event_id', ALL, true, 'Random UUID of this log, for de-duplication.'),
  tag('context.client_context.timestamp_millis', ALL, true, 'When the logged event happened (epoch ms).'),
  tag('context.client_context.user_agent', ALL, true, "The driver connection's User-Agent."),
  tag(`${LOG}.session_id`, ALL, false, 'Session handle GUID.'),
  tag(`${LOG}.sql_statement_id`, STATEMENT_OR_ERROR, false, 'Operation handle GUID.'),
  tag(`${SYS}.driver_name`, CONNECT, true, 'Driver name.'),
  tag(`${SYS}.driver_version`, CONNECT, true, 'Driver version.'),
  tag(`${SYS}.runtime_name`, CONNECT, false, 'JavaScript runtime name.'),
  tag(`${SYS}.runtime_version`, CONNECT, false, 'JavaScript runtime version.'),
  tag(`${SYS}.runtime_vendor`, CONNECT, false, 'JavaScript runtime vendor.'),
  tag(`${SYS}.os_name`, CONNECT, false, 'Operating system name.'),
  tag(`${SYS}.os_version`, CONNECT, false, 'Operating system version.'),
  tag(`${SYS}.os_arch`, CONNECT, false, 'CPU architecture.'),
  tag(`${SYS}.client_app_name`, CONNECT, false, 'Application name the client declared.'),
  tag(`${SYS}.locale_name`, CONNECT, false, 'Process locale.'),
  tag(`${SYS}.char_set_encoding`, CONNECT, false, 'Default character encoding.'),
  tag(`${SYS}.process_name`, CONNECT, false, 'Executable base name (never its path).'),
  tag(`${PARAMS}.http_path`, CONNECTION, false, 'HTTP path of the warehouse or cluster, without its query string.'),
  tag(`${PARAMS}.mode`, CONNECT, false, 'Protocol: THRIFT or SEA.'),
  tag(
    `${PARAMS}.host_info.host_url`,
    CONNECTION,
    false,
    'https:// and the workspace host name (where the log is sent).',
  ),
  tag(`${PARAMS}.host_info.port`, CONNECTION, false, 'Workspace port.'),
  tag(`${PARAMS}.auth_mech`, CONNECT, false, 'Authentication mechanism: PAT, OAUTH or OTHER.'),
  tag(`${PARAMS}.auth_flow`, CONNECT, false, 'OAuth flow, when OAuth is used.'),
  tag(`${PARAMS}.use_proxy`, CONNECT, false, 'Whether a proxy is configured.'),
  tag(`${PARAMS}.enable_arrow`, CONNECT, false, 'Whether Arrow results are requested.'),
  tag(`${PARAMS}.enable_direct_results`, CONNECT, false, 'Whether direct results are requested.'),
  tag(`${PARAMS}.socket_timeout`, CONNECT, false, 'Socket timeout in seconds.'),
  tag(`${PARAMS}.rows_fetched_per_block`, CONNECT, false, 'Rows requested per fetch.'),
  tag(`${PARAMS}.enable_metric_view_metadata`, CONNECT, false, 'Whether metric-view metadata is enabled.'),
  tag(`${LOG}.auth_type`, CONNECT, true, 'pat, oauth-m2m, oauth-u2m or other (what failed, on auth errors).'),
  tag(`${OP}.statement_type`, STATEMENT_OR_ERROR, false, 'QUERY, SQL, UPDATE, METADATA or VOLUME.'),
  tag(`${OP}.chunk_id`, STATEMENT_OR_ERROR, false, 'Index of the chunk whose download failed.'),
  tag(`${OP}.chunk_details.initial_chunk_latency_millis`, STATEMENT, false, 'Download time of the first chunk.'),
  tag(`${OP}.chunk_details.slowest_chunk_latency_millis`, STATEMENT, false, 'Download time of the slowest chunk.'),
  tag(`${OP}.chunk_details.total_chunks_iterated`, STATEMENT, false, 'Chunks actually downloaded.'),
  tag(`${OP}.chunk_details.sum_chunks_download_time_millis`, STATEMENT, false, 'Total chunk download time.'),
  tag(`${OP}.operation_detail.operation_type`, ALL, true, 'Driver operation (CREATE_SESSION, EXECUTE_STATEMENT, ...).'),
  // What the adapter measures for a statement, from its one definition.
  ...UPLOADED_STATEMENT_FIELDS.map(([, field]) => tag(`${OP}.${field.wire}`, STATEMENT, false, field.description)),
  tag(`${LOG}.error_info.error_name`, STATEMENT_OR_ERROR, true, 'Error class name or SQLSTATE; never a message.'),
  tag(`${LOG}.operation_latency_ms`, ALL, true, 'Latency of the connect or statement.'),
]);

const SCOPE_INDEX: ReadonlyMap<string, ExportTag> = new Map(EXPORT_ALLOW_LIST.map((entry) => [entry.path, entry]));

/** Whether `path` may be exported in a log of `kind` on the given endpoint. */
export function isExportAllowed(path: string, kind: TelemetryLogKind, unauthenticated: boolean): boolean {
  const entry = SCOPE_INDEX.get(path);
  return entry !== undefined && entry.kinds.includes(kind) && (!unauthenticated || entry.unauthenticated);
}
