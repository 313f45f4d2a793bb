import { OPERATION_TYPES as ALL_OPERATION_TYPES, TelemetryLog, TelemetryLogKind } from '../types';
import { isExportAllowed } from './exportAllowList';
import { isSafeErrorName, UNKNOWN_ERROR } from '../errorNames';
import { UPLOADED_STATEMENT_FIELDS } from '../statementFields';
import { bool, int, int32, oneOf, WireRead } from './values';

/**
 * How a field's value is written. `bare`: a number or boolean, written as returned. `quoted`: a
 * string from a closed alphabet (enum value, GUID, error name), written between quotes with no
 * escaping. `text`: any string, escaped.
 */
type ValueType = 'bare' | 'quoted' | 'text';

type Read = WireRead;

/** Where a field's value lives: `property` of the object `from` picks out of the log. */
type SourceName = 'log' | 'statement' | 'chunks' | 'driver' | 'params' | 'errorInfo';

type FieldNode = {
  key: string;
  type: ValueType;
  from: SourceName | 'userAgent';
  property: string;
  read: Read;
  /** When the log's own value is unusable, the plan's `workspaceId` argument is read instead. */
  orWorkspaceId?: true;
};

type WriterNode = FieldNode | { key: string; children: WriterNode[] };

/** Writes one log as its `protoLogs` entry, or `undefined` when nothing of it may be sent. */
type Plan = (log: TelemetryLog, userAgent: string, workspaceId: unknown) => string | undefined;

type AnyRecord = Record<string, unknown>;

const EMPTY: AnyRecord = Object.freeze({});
const INT64_MAX = '9223372036854775807';
const WORKSPACE_ID = /^\d{1,19}$/;
/** Session, statement and event ids are GUIDs: hex digits and dashes, nothing that can carry text. */
const GUID_LIKE = /^[0-9A-Fa-f][0-9A-Fa-f-]{0,63}$/;
/** A URL path of RFC 3986 path characters: nothing to escape, and no query or fragment. */
const HTTP_PATH = /^\/[A-Za-z0-9._~%!$&'()*+,;=:@/-]{0,255}$/;
const HOST_URL = /^https:\/\/[A-Za-z0-9][A-Za-z0-9.-]{0,252}$/;
const WIRE_KEY = /^[a-z_]+$/;
const PROPERTY = /^[A-Za-z]+$/;
const MAX_TEXT = 256;
const MAX_USER_AGENT = 512;

const STATEMENT_TYPES = new Set(['QUERY', 'SQL', 'UPDATE', 'METADATA', 'VOLUME']);
const OPERATION_TYPES: ReadonlySet<string> = new Set(ALL_OPERATION_TYPES);
const AUTH_TYPES = new Set(['pat', 'oauth-m2m', 'oauth-u2m', 'other']);
const MODES = new Set(['THRIFT', 'SEA']);
const AUTH_MECHS = new Set(['PAT', 'OAUTH', 'OTHER']);
const AUTH_FLOWS = new Set(['TOKEN_PASSTHROUGH', 'CLIENT_CREDENTIALS', 'BROWSER_BASED_AUTHENTICATION']);

// Value readers (more in values.ts): each checks the type and shape it expects, so a wrong or hostile value is omitted.

/** A GUID-shaped id, or undefined: hex digits and dashes only (also the OpenTelemetry bridge's check). */
export function guid(value: unknown): string | undefined {
  return typeof value === 'string' && GUID_LIKE.test(value) ? value : undefined;
}

/** `read` that remembers its last value written unchanged: a connection's logs share a workspace and session id. */
function lastValueKept(read: Read): Read {
  let last: unknown;
  return (value) => {
    if (value === last) {
      return value as string;
    }
    const written = read(value);
    if (written === value) {
      last = value;
    }
    return written;
  };
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_TEXT ? value : undefined;
}

/** The digits themselves, so ids beyond 2^53 keep every digit (a JS number would round them). */
function workspaceId(value: unknown): string | undefined {
  if (typeof value !== 'string' || !WORKSPACE_ID.test(value)) {
    return undefined;
  }
  const digits = value.replace(/^0+(?=\d)/, '');
  return digits.length === 19 && digits > INT64_MAX ? undefined : digits;
}

function httpPath(value: unknown): string | undefined {
  return typeof value === 'string' && HTTP_PATH.test(value) ? value : undefined;
}

function hostUrl(value: unknown): string | undefined {
  return typeof value === 'string' && HOST_URL.test(value) ? value : undefined;
}

/** A TCP port (the proto's int32). */
function port(value: unknown): string | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 && value <= 65535
    ? String(value)
    : undefined;
}

function errorName(value: unknown): string | undefined {
  if (value === undefined) {
    return undefined;
  }
  return isSafeErrorName(value) ? value : UNKNOWN_ERROR;
}

/** Only the executable's base name: a full path can hold a user name. */
function processName(value: unknown): string | undefined {
  return typeof value === 'string'
    ? text(value.slice(Math.max(value.lastIndexOf('/'), value.lastIndexOf('\\')) + 1))
    : undefined;
}

function milliseconds(value: unknown): string | undefined {
  return typeof value === 'number' ? int(value / 1000) : undefined;
}

function userAgent(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_USER_AGENT ? value : undefined;
}

let lastText = '';
let lastTextEscaped = '';

/**
 * A string as JSON, escaped once more for its place inside the protoLogs string. One batch
 * shares one user agent, so the last result is kept.
 */
function escapedText(value: string): string {
  if (value !== lastText) {
    lastTextEscaped = JSON.stringify(JSON.stringify(value)).slice(1, -1);
    lastText = value;
  }
  return lastTextEscaped;
}

function record(value: unknown): AnyRecord {
  return typeof value === 'object' && value !== null ? (value as AnyRecord) : EMPTY;
}

const statement = (log: TelemetryLog): AnyRecord => record(log.statement);

/** Each source's object for one log: read once per log, whatever number of fields use it. */
const SOURCES: Record<SourceName, (log: TelemetryLog) => AnyRecord> = {
  log: (log) => log as unknown as AnyRecord,
  statement,
  /** Chunk details only for statements that had chunks: zeros for inline results would only add bytes. */
  chunks: (log) => {
    const s = statement(log);
    return s.chunksPresent !== undefined || (typeof s.chunksIterated === 'number' && s.chunksIterated > 0) ? s : EMPTY;
  },
  driver: (log) => record(log.driverConfig),
  params: (log) => record(log.connectionParams),
  /** An error log names its error itself; a statement log's error is in its statement. */
  errorInfo: (log) =>
    log.errorName === undefined || log.errorName === null ? statement(log) : (log as unknown as AnyRecord),
};

const SOURCE_NAMES = Object.keys(SOURCES) as SourceName[];

function field(key: string, type: ValueType, from: FieldNode['from'], property: string, read: Read): WriterNode {
  return { key, type, from, property, read };
}

function group(key: string, children: WriterNode[]): WriterNode {
  return { key, children };
}

const fromLog = (key: string, property: string, type: ValueType, read: Read) => field(key, type, 'log', property, read);
const fromStatement = (key: string, property: string, type: ValueType, read: Read) =>
  field(key, type, 'statement', property, read);
const fromChunks = (key: string, property: string, read: Read = int) => field(key, 'bare', 'chunks', property, read);
const fromDriver = (key: string, property: string, read: Read = text) => field(key, 'text', 'driver', property, read);
const fromParams = (key: string, property: string, type: ValueType, read: Read) =>
  field(key, type, 'params', property, read);

/**
 * Every field the serializer knows how to write, laid out as on the wire. Only those the allow-list
 * permits for a log's kind and scope are compiled into its plan; the rest are never even read.
 */
const WIRE_LAYOUT: WriterNode[] = [
  {
    key: 'workspace_id',
    type: 'bare',
    from: 'log',
    property: 'workspaceId',
    read: lastValueKept(workspaceId),
    // The log's own id comes from the HTTP path; without one, the id the workspace named in its responses.
    orWorkspaceId: true,
  },
  fromLog('frontend_log_event_id', 'eventId', 'quoted', guid),
  group('context', [
    group('client_context', [
      fromLog('timestamp_millis', 'timestamp', 'bare', int),
      field('user_agent', 'text', 'userAgent', '', userAgent),
    ]),
  ]),
  group('entry', [
    group('sql_driver_log', [
      fromLog('session_id', 'sessionId', 'quoted', lastValueKept(guid)),
      fromLog('sql_statement_id', 'statementId', 'quoted', guid),
      group('system_configuration', [
        fromDriver('driver_version', 'driverVersion'),
        fromDriver('driver_name', 'driverName'),
        fromDriver('runtime_name', 'runtimeName'),
        fromDriver('runtime_version', 'runtimeVersion'),
        fromDriver('runtime_vendor', 'runtimeVendor'),
        fromDriver('os_name', 'osName'),
        fromDriver('os_version', 'osVersion'),
        fromDriver('os_arch', 'osArch'),
        fromDriver('client_app_name', 'clientAppName'),
        fromDriver('locale_name', 'localeName'),
        fromDriver('char_set_encoding', 'charSetEncoding'),
        fromDriver('process_name', 'processName', processName),
      ]),
      group('driver_connection_params', [
        fromParams('http_path', 'httpPath', 'quoted', httpPath),
        fromParams('mode', 'mode', 'quoted', oneOf(MODES)),
        group('host_info', [
          fromParams('host_url', 'hostUrl', 'quoted', hostUrl),
          fromParams('port', 'hostPort', 'bare', port),
        ]),
        fromParams('use_proxy', 'useProxy', 'bare', bool),
        fromParams('auth_mech', 'authMech', 'quoted', oneOf(AUTH_MECHS)),
        fromParams('auth_flow', 'authFlow', 'quoted', oneOf(AUTH_FLOWS)),
        fromParams('enable_arrow', 'enableArrow', 'bare', bool),
        fromParams('enable_direct_results', 'enableDirectResults', 'bare', bool),
        // The proto field is in seconds.
        fromParams('socket_timeout', 'socketTimeoutMs', 'bare', milliseconds),
        fromParams('rows_fetched_per_block', 'rowsFetchedPerBlock', 'bare', int),
        fromParams('enable_metric_view_metadata', 'enableMetricViewMetadata', 'bare', bool),
      ]),
      fromLog('auth_type', 'authType', 'quoted', oneOf(AUTH_TYPES)),
      // With the measured fields of statementFields.ts, placed below.
      group('sql_operation', [
        fromStatement('statement_type', 'statementType', 'quoted', oneOf(STATEMENT_TYPES)),
        fromStatement('chunk_id', 'errorChunkIndex', 'bare', int),
        group('chunk_details', [
          fromChunks('initial_chunk_latency_millis', 'chunkInitialLatencyMs'),
          fromChunks('slowest_chunk_latency_millis', 'chunkSlowestLatencyMs'),
          fromChunks('total_chunks_iterated', 'chunksIterated', int32),
          fromChunks('sum_chunks_download_time_millis', 'chunkSumLatencyMs'),
        ]),
        group('operation_detail', [fromStatement('operation_type', 'operationType', 'quoted', oneOf(OPERATION_TYPES))]),
      ]),
      group('error_info', [field('error_name', 'quoted', 'errorInfo', 'errorName', errorName)]),
      fromLog('operation_latency_ms', 'operationLatencyMs', 'bare', int),
    ]),
  ]),
];

/** Puts `leaf` at `path` (group keys, then the leaf's key) in `nodes`, making the groups it lacks. */
function place(nodes: WriterNode[], path: readonly string[], leaf: FieldNode): void {
  if (path.length === 1) {
    nodes.push(leaf);
    return;
  }
  let next = nodes.find(
    (node): node is { key: string; children: WriterNode[] } => node.key === path[0] && 'children' in node,
  );
  if (next === undefined) {
    next = { key: path[0], children: [] };
    nodes.push(next);
  }
  place(next.children, path.slice(1), leaf);
}

for (const [property, measured] of UPLOADED_STATEMENT_FIELDS) {
  const path = ['entry', 'sql_driver_log', 'sql_operation', ...measured.wire.split('.')];
  place(WIRE_LAYOUT, path, {
    key: path[path.length - 1],
    type: measured.type,
    from: measured.chunks ? 'chunks' : 'statement',
    property,
    read: measured.write,
  });
}

/** A leaf of the layout that the allow-list keeps for one plan. */
interface AllowedField extends FieldNode {
  /** `"key":` as it appears inside the protoLogs string (quotes escaped). */
  name: string;
}

interface AllowedGroup {
  name: string;
  members: AllowedMember[];
}

type AllowedMember = AllowedField | AllowedGroup;

/** The part of `nodes` the allow-list permits for `kind` and scope; groups left empty are dropped. */
function allowed(
  nodes: WriterNode[],
  prefix: string,
  kind: TelemetryLogKind,
  unauthenticated: boolean,
): AllowedMember[] {
  const members: AllowedMember[] = [];
  for (const node of nodes) {
    const path = prefix + node.key;
    const name = `\\"${node.key}\\":`;
    if ('read' in node) {
      if (isExportAllowed(path, kind, unauthenticated)) {
        members.push({ ...node, name });
      }
    } else {
      const children = allowed(node.children, `${path}.`, kind, unauthenticated);
      if (children.length > 0) {
        members.push({ name, members: children });
      }
    }
  }
  return members;
}

/** A field's value as it appears inside the protoLogs string. */
function escapedValue(type: ValueType, value: string): string {
  if (type === 'bare') {
    return value;
  }
  return type === 'quoted' ? `\\"${value}\\"` : escapedText(value);
}

/**
 * Straight-line code for one plan: each source object read once, then one statement per allowed
 * field with its own property load and its own call to its reader, which V8 optimizes far better
 * than a walk over the layout (several times faster). The source holds only names from the layout,
 * each checked against a strict pattern, and indexes into `reads`: never data.
 */
function generate(members: AllowedMember[]): Plan {
  const reads: Read[] = [];
  const used = new Set<SourceName>();
  let variables = 0;
  const writeObject = (list: AllowedMember[], target: string): string => {
    let code = '';
    for (const member of list) {
      if (!WIRE_KEY.test(member.name.slice(2, -3))) {
        throw new Error('serializer: invalid wire key');
      }
      // The separator, the key and an opening quote in one constant: fewer, longer pieces make
      // the string cheaper to build and to flatten.
      const quote = 'members' in member || member.type !== 'quoted' ? '' : '\\"';
      const open = (first: string) => JSON.stringify(`${first}${member.name}${quote}`);
      const write = (value: string) => `${target} += (${target} === '' ? ${open('{')} : ${open(',')}) + ${value};`;
      if ('members' in member) {
        const inner = `o${(variables += 1)}`;
        code += `{ let ${inner} = ''; ${writeObject(member.members, inner)} if (${inner} !== '') ${write(`${inner} + '}'`)} }\n`;
        continue;
      }
      let argument = 'ua';
      if (member.from !== 'userAgent') {
        if (!PROPERTY.test(member.property)) {
          throw new Error('serializer: invalid property name');
        }
        used.add(member.from);
        argument = `from_${member.from}.${member.property}`;
      }
      const value = member.type === 'bare' ? 'v' : member.type === 'quoted' ? `v + '\\\\"'` : 'escapedText(v)';
      const read = `reads[${reads.push(member.read) - 1}]`;
      const fallback = member.orWorkspaceId ? ` if (v === undefined) v = ${read}(ws);` : '';
      code += `v = ${read}(${argument});${fallback} if (v !== undefined) ${write(value)}\n`;
    }
    return code;
  };
  const body = writeObject(members, 'o0');
  const sources = SOURCE_NAMES.filter((source) => used.has(source))
    .map((source) => `const from_${source} = sources.${source}(log);\n`)
    .join('');
  const factory = new Function(
    'reads',
    'sources',
    'escapedText',
    `return function plan(log, ua, ws) {\n${sources}let v; let o0 = '';\n${body}return o0 === '' ? undefined : '"' + o0 + '}"';\n};`,
  );
  return factory(reads, SOURCES, escapedText) as Plan;
}

/** The same output by walking the members: for hosts that forbid code generation from strings. */
function interpret(members: AllowedMember[]): Plan {
  const writeObject = (list: AllowedMember[], log: TelemetryLog, ua: string, ws: unknown): string => {
    let out = '';
    for (const member of list) {
      if ('members' in member) {
        const inner = writeObject(member.members, log, ua, ws);
        if (inner !== '') {
          out += `${out === '' ? '{' : ','}${member.name}${inner}}`;
        }
      } else {
        let value = member.read(member.from === 'userAgent' ? ua : SOURCES[member.from](log)[member.property]);
        if (value === undefined && member.orWorkspaceId) {
          value = member.read(ws);
        }
        if (value !== undefined) {
          out += (out === '' ? '{' : ',') + member.name + escapedValue(member.type, value);
        }
      }
    }
    return out;
  };
  return (log, ua, ws) => {
    const out = writeObject(members, log, ua, ws);
    return out === '' ? undefined : `"${out}}"`;
  };
}

function compile(kind: TelemetryLogKind, unauthenticated: boolean): Plan | undefined {
  const members = allowed(WIRE_LAYOUT, '', kind, unauthenticated);
  if (members.length === 0) {
    return undefined;
  }
  try {
    return generate(members);
  } catch (error) {
    // Only a host that forbids code generation (--disallow-code-generation-from-strings) falls
    // back; any other error is a bug in the layout and must fail loudly in the tests.
    if (!(error instanceof EvalError)) {
      throw error;
    }
    return interpret(members);
  }
}

const KINDS: readonly TelemetryLogKind[] = ['connection', 'statement', 'error'];

/** Per kind: [signed-in plan, unauthenticated plan]. Compiled once at load. */
const PLANS: ReadonlyMap<unknown, [Plan | undefined, Plan | undefined]> = new Map(
  KINDS.map((kind) => [kind, [compile(kind, false), compile(kind, true)]]),
);

/**
 * One frontend log as its entry in the upload's `protoLogs` array: a JSON string whose content is
 * the log's JSON, written escaped in one pass. It holds only what the allow-list permits for the
 * log's kind on the chosen endpoint (`unauthenticated` also applies to logs not marked so, when
 * the exporter sends everything without credentials). `workspaceId` (digits) is the workspace's
 * id as its own responses named it: written as `workspace_id` on signed-in logs that carry no
 * usable id of their own, never on unauthenticated ones. `undefined` when the log is unusable (not
 * an object, unknown kind, or a getter that throws): the caller drops it.
 */
export function serializeProtoLog(
  log: TelemetryLog,
  userAgentValue: string,
  unauthenticated: boolean,
  workspaceId?: string,
): string | undefined {
  try {
    const plans = PLANS.get(log.kind);
    const plan = plans && plans[unauthenticated || log.unauthenticated === true ? 1 : 0];
    return plan ? plan(log, userAgentValue, workspaceId) : undefined;
  } catch {
    return undefined;
  }
}

/** The upload request body around entries from `serializeProtoLog`. */
export function uploadBody(protoLogs: readonly string[], nowMs: number): string {
  return `{"uploadTime":${int(nowMs) ?? '0'},"items":[],"protoLogs":[${protoLogs.join(',')}]}`;
}
