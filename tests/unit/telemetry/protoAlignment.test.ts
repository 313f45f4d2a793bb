import { expect } from 'chai';
import { EXPORT_ALLOW_LIST } from '../../../lib/telemetry/wire/exportAllowList';
import { serializeProtoLog, uploadBody } from '../../../lib/telemetry/wire/serializer';
import {
  AuthType,
  ConnectionParameters,
  ExecutionResultFormat,
  OPERATION_TYPES,
  StatementType,
  TelemetryLog,
  TelemetryLogKind,
} from '../../../lib/telemetry/types';
import {
  JsonNumber,
  parseJsonExact,
  PROTO_ENUMS,
  PROTO_MESSAGES,
  protoFieldAt,
  protoProblems,
} from '../../support/protoSchema';
import { DRIVER_CONFIG } from '../../support/serializerSamples';

const UA = 'NodejsDatabricksSqlConnector/2.1.0 (Node.js 20)';
const EVENT_ID = '9b2f6c1e-4a57-4c1e-9d8e-2b1f0c7a6d55';
const SESSION_ID = '01f0a1b2-c3d4-1e5f-8a9b-0c1d2e3f4a5b';
const STATEMENT_ID = '01f0a1b2-c3d4-1e5f-8a9b-ffffffffffff';

const LOG = 'entry.sql_driver_log';
const PARAMS = `${LOG}.driver_connection_params`;
const OP = `${LOG}.sql_operation`;

// Every member of the engine's own unions: the compiler fails here when one is added or removed,
// so a new value cannot reach the wire without passing through these tests.
const STATEMENT_TYPES = Object.keys({ QUERY: 0, SQL: 0, UPDATE: 0, METADATA: 0, VOLUME: 0 } satisfies Record<
  StatementType,
  0
>);
const EXECUTION_RESULTS = Object.keys({
  INLINE_ARROW: 0,
  INLINE_JSON: 0,
  EXTERNAL_LINKS: 0,
  COLUMNAR_INLINE: 0,
  FORMAT_UNSPECIFIED: 0,
} satisfies Record<ExecutionResultFormat, 0>);
const AUTH_TYPES = Object.keys({ pat: 0, 'oauth-m2m': 0, 'oauth-u2m': 0, other: 0 } satisfies Record<AuthType, 0>);
const MODES = Object.keys({ THRIFT: 0, SEA: 0 } satisfies Record<ConnectionParameters['mode'], 0>);
const AUTH_MECHS = Object.keys({ PAT: 0, OAUTH: 0, OTHER: 0 } satisfies Record<ConnectionParameters['authMech'], 0>);
const AUTH_FLOWS = Object.keys({
  TOKEN_PASSTHROUGH: 0,
  CLIENT_CREDENTIALS: 0,
  BROWSER_BASED_AUTHENTICATION: 0,
} satisfies Record<NonNullable<ConnectionParameters['authFlow']>, 0>);

const CONNECTION_PARAMS: ConnectionParameters = {
  httpPath: '/sql/1.0/warehouses/0123456789abcdef',
  hostUrl: 'https://adb-1234567890123456.7.azuredatabricks.net',
  hostPort: 443,
  mode: 'THRIFT',
  authMech: 'OAUTH',
  authFlow: 'CLIENT_CREDENTIALS',
  useProxy: true,
  enableArrow: true,
  enableDirectResults: false,
  enableCloudFetch: true,
  enableLz4Compression: true,
  socketTimeoutMs: 900_000,
  rowsFetchedPerBlock: 100_000,
  enableMetricViewMetadata: false,
};

type Statement = NonNullable<TelemetryLog['statement']>;

/** Every property of a statement set, chunks included. */
const STATEMENT: Statement = {
  statementType: 'QUERY',
  operationType: 'EXECUTE_STATEMENT',
  executionResult: 'EXTERNAL_LINKS',
  isCompressed: true,
  pollCount: 3,
  pollLatencyMs: 450.6,
  retryCount: 2,
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

const NO_CHUNKS = { chunksIterated: 0, chunkSumLatencyMs: 0, bytesDownloaded: 0 };

/** Logs of each kind with every property the serializer reads for that kind. */
const FULL_LOGS: Record<TelemetryLogKind, (overrides?: Partial<TelemetryLog>) => TelemetryLog> = {
  connection: (overrides = {}) => ({
    kind: 'connection',
    eventId: EVENT_ID,
    timestamp: 1760000000100,
    workspaceId: '1234567890123456',
    sessionId: SESSION_ID,
    authType: 'oauth-m2m',
    driverConfig: { ...DRIVER_CONFIG },
    connectionParams: { ...CONNECTION_PARAMS },
    operationLatencyMs: 321,
    statement: { operationType: 'CREATE_SESSION', ...NO_CHUNKS },
    ...overrides,
  }),
  statement: (overrides = {}) => ({
    kind: 'statement',
    eventId: EVENT_ID,
    timestamp: 1760000000200,
    workspaceId: '1234567890123456',
    sessionId: SESSION_ID,
    statementId: STATEMENT_ID,
    operationLatencyMs: 1500,
    statement: { ...STATEMENT },
    ...overrides,
  }),
  error: (overrides = {}) => ({
    kind: 'error',
    eventId: EVENT_ID,
    timestamp: 1760000000300,
    workspaceId: '1234567890123456',
    sessionId: SESSION_ID,
    statementId: STATEMENT_ID,
    errorName: 'AuthenticationError',
    authType: 'pat',
    driverConfig: { ...DRIVER_CONFIG },
    connectionParams: { ...CONNECTION_PARAMS },
    operationLatencyMs: 42,
    statement: { statementType: 'QUERY', operationType: 'EXECUTE_STATEMENT', errorChunkIndex: 1, ...NO_CHUNKS },
    ...overrides,
  }),
};

const KINDS = Object.keys(FULL_LOGS) as TelemetryLogKind[];
const SCOPES = [
  { unauthenticated: false, endpoint: '/telemetry-ext' },
  { unauthenticated: true, endpoint: '/telemetry-unauth' },
];

/**
 * The log as the backend receives it: through the upload body, then its `protoLogs` string
 * parsed with numbers kept exact. Undefined when the serializer leaves the log out.
 */
function emitted(
  log: TelemetryLog,
  unauthenticated: boolean,
  workspaceId?: string,
): Record<string, unknown> | undefined {
  const entry = serializeProtoLog(log, UA, unauthenticated, workspaceId);
  if (entry === undefined) {
    return undefined;
  }
  const body = JSON.parse(uploadBody([entry], 1760000000500));
  expect(Object.keys(body), 'upload body').to.deep.equal(['uploadTime', 'items', 'protoLogs']);
  expect(body.protoLogs, 'protoLogs').to.have.length(1);
  expect(body.protoLogs[0], 'protoLogs entry').to.be.a('string');
  return parseJsonExact(body.protoLogs[0]) as Record<string, unknown>;
}

function emittedOrFail(log: TelemetryLog, unauthenticated: boolean, workspaceId?: string): Record<string, unknown> {
  const json = emitted(log, unauthenticated, workspaceId);
  expect(json, `${log.kind} log (unauthenticated: ${unauthenticated}) was not serialized`).to.be.an('object');
  return json as Record<string, unknown>;
}

function valueAt(json: unknown, path: string): unknown {
  return path
    .split('.')
    .reduce<unknown>(
      (node, key) => (node && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined),
      json,
    );
}

/** Allow-list paths that do not name a proto field written as one JSON value (scalar or enum). */
function allowListProblems(paths: readonly string[]): string[] {
  return paths.flatMap((path) => {
    const field = protoFieldAt(path);
    if (!field) {
      return [`${path}: not a field of the proto`];
    }
    if ('message' in field.type || field.repeated) {
      return [`${path}: a ${field.repeated ? 'repeated field' : 'message'} in the proto, not one value`];
    }
    return [];
  });
}

/** The log the wire-format document shows, written by hand: what the checker must accept. */
const DOCUMENTED_LOG = `{
  "workspace_id": 1234567890123456,
  "frontend_log_event_id": "${EVENT_ID}",
  "context": {"client_context": {"timestamp_millis": 1760000000100, "user_agent": "NodejsDatabricksSqlConnector/1.2.3"}},
  "entry": {"sql_driver_log": {
    "session_id": "${SESSION_ID}",
    "driver_connection_params": {"http_path": "/sql/1.0/warehouses/abc",
      "host_info": {"host_url": "https://example.cloud.databricks.com", "port": 443},
      "mode": "THRIFT", "auth_mech": "PAT", "socket_timeout": "900", "non_proxy_hosts": ["localhost"]},
    "auth_type": "pat",
    "sql_operation": {"statement_type": "QUERY", "execution_result": "INLINE_ARROW", "chunk_id": 0,
      "operation_detail": {"n_operation_status_calls": 2, "operation_type": "EXECUTE_STATEMENT", "is_internal_call": false}},
    "error_info": {"error_name": "42P01"},
    "operation_latency_ms": 9223372036854775807
  }}
}`;

describe('proto alignment: what the serializer writes is in the backend proto', () => {
  describe('the transcribed proto', () => {
    it('refers only to messages and enums it defines, and every enum starts with TYPE_UNSPECIFIED', () => {
      const dangling = Object.entries(PROTO_MESSAGES).flatMap(([name, fields]) =>
        Object.entries(fields)
          .filter(([, field]) =>
            'message' in field.type
              ? !PROTO_MESSAGES[field.type.message]
              : 'enum' in field.type && !PROTO_ENUMS[field.type.enum],
          )
          .map(([key]) => `${name}.${key}`),
      );
      expect(dangling).to.deep.equal([]);
      for (const [name, values] of Object.entries(PROTO_ENUMS)) {
        expect(values[0], name).to.equal('TYPE_UNSPECIFIED');
      }
      // Field numbers run to 47, one of them reserved.
      expect(Object.keys(PROTO_MESSAGES.DriverConnectionParameters)).to.have.length(46);
    });
  });

  describe('the checker', () => {
    it('accepts the documented log, int64 as a number or a decimal string', () => {
      expect(protoProblems(parseJsonExact(DOCUMENTED_LOG))).to.deep.equal([]);
    });

    it('reports a field the proto does not have, at the root and nested', () => {
      const log = parseJsonExact(DOCUMENTED_LOG) as any;
      log.workspace = 1;
      log.entry.sql_driver_log.sql_operation.operation_detail.is_internal = true;
      log.entry.sql_driver_log.error_info.error_message = 'x';
      expect(protoProblems(log)).to.deep.equal([
        'entry.sql_driver_log.sql_operation.operation_detail.is_internal: message OperationDetail has no field is_internal',
        'entry.sql_driver_log.error_info.error_message: message DriverErrorInfo has no field error_message',
        'workspace: message FrontendLog has no field workspace',
      ]);
    });

    it('reports a JSON type that does not fit the field: string, bool, int32, int64, message, repeated, null', () => {
      const driverLog = (changes: Record<string, unknown>) => ({ entry: { sql_driver_log: changes } });
      const cases: Array<[unknown, string]> = [
        [
          driverLog({ session_id: new JsonNumber('7') }),
          'entry.sql_driver_log.session_id: expected string, got number 7',
        ],
        [
          driverLog({ sql_operation: { is_compressed: 'true' } }),
          'entry.sql_driver_log.sql_operation.is_compressed: expected bool, got string "true"',
        ],
        [
          driverLog({ sql_operation: { chunk_details: { total_chunks_present: '4' } } }),
          'entry.sql_driver_log.sql_operation.chunk_details.total_chunks_present: expected int32, got string "4"',
        ],
        [
          driverLog({
            sql_operation: { operation_detail: { n_operation_status_calls: new JsonNumber('2147483648') } },
          }),
          'entry.sql_driver_log.sql_operation.operation_detail.n_operation_status_calls: 2147483648 is out of the int32 range',
        ],
        [
          driverLog({ operation_latency_ms: new JsonNumber('1.5') }),
          'entry.sql_driver_log.operation_latency_ms: expected int64, got number 1.5',
        ],
        [
          driverLog({ operation_latency_ms: new JsonNumber('1e3') }),
          'entry.sql_driver_log.operation_latency_ms: expected int64, got number 1e3',
        ],
        [
          { workspace_id: new JsonNumber('9223372036854775808') },
          'workspace_id: 9223372036854775808 is out of the int64 range',
        ],
        [{ workspace_id: '12a' }, 'workspace_id: expected int64, got string "12a"'],
        [{ workspace_id: true }, 'workspace_id: expected int64, got boolean true'],
        [
          driverLog({ error_info: 'Error' }),
          'entry.sql_driver_log.error_info: expected message DriverErrorInfo, got string "Error"',
        ],
        [
          driverLog({ driver_connection_params: { non_proxy_hosts: 'localhost' } }),
          'entry.sql_driver_log.driver_connection_params.non_proxy_hosts: expected a repeated field (array), got string "localhost"',
        ],
        [driverLog({ auth_type: null }), 'entry.sql_driver_log.auth_type: null'],
        [[], '(root): expected message FrontendLog, got array'],
      ];
      for (const [log, problem] of cases) {
        expect(protoProblems(log)).to.deep.equal([problem]);
      }
      // A plain JS number is checked as well (JSON.parse output).
      expect(protoProblems({ workspace_id: 1.5 })).to.deep.equal(['workspace_id: expected int64, got number 1.5']);
    });

    it('reports an enum value the proto does not have, and an enum sent as a number', () => {
      const log = parseJsonExact(DOCUMENTED_LOG) as any;
      log.entry.sql_driver_log.sql_operation.statement_type = 'DDL';
      log.entry.sql_driver_log.driver_connection_params.mode = new JsonNumber('1');
      const problems = protoProblems(log);
      expect(problems).to.have.length(2);
      expect(problems[0]).to.match(
        /^entry\.sql_driver_log\.driver_connection_params\.mode: number 1 is not a value of enum DriverMode/,
      );
      expect(problems[1]).to.match(
        /^entry\.sql_driver_log\.sql_operation\.statement_type: string "DDL" is not a value of enum StatementType/,
      );
    });

    it('keeps every digit of a number, and parses numbers inside strings as text', () => {
      const parsed = parseJsonExact('{"a":9223372036854775807,"b":"x 12 \\" 3","c":[-1,2.5e-3]}') as any;
      expect(parsed.a).to.deep.equal(new JsonNumber('9223372036854775807'));
      expect(parsed.b).to.equal('x 12 " 3');
      expect(parsed.c).to.deep.equal([new JsonNumber('-1'), new JsonNumber('2.5e-3')]);
    });

    it('reports an allow-list path the proto does not have, or one that names a message', () => {
      expect(allowListProblems([`${PARAMS}.host_info.host_url`, `${PARAMS}.http_path`, 'workspace_id'])).to.deep.equal(
        [],
      );
      const wrong = [
        `${PARAMS}.host_info.hostname`,
        `${OP}.chunk_details`,
        `${LOG}.error_info.error_message`,
        `${PARAMS}.non_proxy_hosts`,
      ];
      expect(allowListProblems(wrong)).to.deep.equal([
        `${PARAMS}.host_info.hostname: not a field of the proto`,
        `${OP}.chunk_details: a message in the proto, not one value`,
        `${LOG}.error_info.error_message: not a field of the proto`,
        `${PARAMS}.non_proxy_hosts: a repeated field in the proto, not one value`,
      ]);
    });
  });

  describe('the export allow-list', () => {
    it('names only proto fields, each written as one value', () => {
      expect(allowListProblems(EXPORT_ALLOW_LIST.map((tag) => tag.path))).to.deep.equal([]);
    });
  });

  describe("the serializer's output", () => {
    it('the logs below exercise every allow-list field, for each kind and endpoint that may carry it', () => {
      const missing: string[] = [];
      for (const tag of EXPORT_ALLOW_LIST) {
        for (const kind of tag.kinds) {
          for (const { unauthenticated, endpoint } of SCOPES.filter(
            (scope) => tag.unauthenticated || !scope.unauthenticated,
          )) {
            if (valueAt(emitted(FULL_LOGS[kind](), unauthenticated), tag.path) === undefined) {
              missing.push(`${tag.path} (${kind}, ${endpoint})`);
            }
          }
        }
      }
      // A field listed here is one the full logs above do not set: add its property there.
      expect(missing).to.deep.equal([]);
    });

    for (const kind of KINDS) {
      for (const { unauthenticated, endpoint } of SCOPES) {
        it(`${kind === 'error' ? 'an' : 'a'} ${kind} log on ${endpoint}: every key, JSON type and enum value is in the proto`, () => {
          expect(protoProblems(emittedOrFail(FULL_LOGS[kind](), unauthenticated))).to.deep.equal([]);
          // The same plan is chosen by the log's own flag.
          if (unauthenticated) {
            expect(protoProblems(emittedOrFail(FULL_LOGS[kind]({ unauthenticated: true }), false))).to.deep.equal([]);
          }
        });

        it(`${kind === 'error' ? 'an' : 'a'} ${kind} log on ${endpoint} with the workspace id its responses named: in the proto`, () => {
          const json = emittedOrFail(
            FULL_LOGS[kind]({ workspaceId: undefined }),
            unauthenticated,
            '9223372036854775807',
          );
          expect(valueAt(json, 'workspace_id'), 'workspace_id').to.deep.equal(
            unauthenticated ? undefined : new JsonNumber('9223372036854775807'),
          );
          expect(protoProblems(json)).to.deep.equal([]);
        });
      }
    }

    /** Logs with one property set to each value the engine's types allow, by the wire path it lands on. */
    const SWEEPS: Array<{ path: string; values: readonly string[]; logs: (value: string) => TelemetryLog[] }> = [
      {
        path: `${OP}.statement_type`,
        values: STATEMENT_TYPES,
        logs: (value) => [
          FULL_LOGS.statement({ statement: { ...STATEMENT, statementType: value as StatementType } }),
          FULL_LOGS.error({ statement: { statementType: value as StatementType, ...NO_CHUNKS } }),
        ],
      },
      {
        path: `${OP}.execution_result`,
        values: EXECUTION_RESULTS,
        logs: (value) => [
          FULL_LOGS.statement({ statement: { ...STATEMENT, executionResult: value as ExecutionResultFormat } }),
        ],
      },
      {
        path: `${OP}.operation_detail.operation_type`,
        values: OPERATION_TYPES,
        logs: (value) =>
          KINDS.map((kind) => FULL_LOGS[kind]()).map(
            (log) => ({ ...log, statement: { ...log.statement, operationType: value } }) as TelemetryLog,
          ),
      },
      {
        path: `${LOG}.auth_type`,
        values: AUTH_TYPES,
        logs: (value) => [
          FULL_LOGS.connection({ authType: value as AuthType }),
          FULL_LOGS.error({ authType: value as AuthType }),
        ],
      },
      ...(
        [
          ['mode', MODES],
          ['auth_mech', AUTH_MECHS],
          ['auth_flow', AUTH_FLOWS],
        ] as const
      ).map(([key, values]) => ({
        path: `${PARAMS}.${key}`,
        values,
        logs: (value: string) => {
          const property = { mode: 'mode', auth_mech: 'authMech', auth_flow: 'authFlow' }[key];
          const connectionParams = { ...CONNECTION_PARAMS, [property]: value };
          return [FULL_LOGS.connection({ connectionParams }), FULL_LOGS.error({ connectionParams })];
        },
      })),
    ];

    for (const { path, values, logs } of SWEEPS) {
      it(`every ${path.split('.').pop()} the engine can produce is a value the proto accepts there`, () => {
        const problems = new Set<string>();
        const written = new Set<unknown>();
        for (const value of values) {
          for (const log of logs(value)) {
            for (const { unauthenticated } of SCOPES) {
              const json = emitted(log, unauthenticated);
              if (valueAt(json, path) !== undefined) {
                written.add(valueAt(json, path));
                protoProblems(json).forEach((problem) => problems.add(problem));
              }
            }
          }
        }
        // The sweep must reach the wire, or it would prove nothing.
        expect(written.size, `values written at ${path}`).to.be.above(0);
        expect([...problems]).to.deep.equal([]);
      });
    }

    it("integers at the largest value the serializer writes still fit their fields' proto types", () => {
      const MAX = Number.MAX_SAFE_INTEGER;
      const numbers = (value: number): Statement => ({
        ...STATEMENT,
        pollCount: value,
        pollLatencyMs: value,
        retryCount: value,
        resultReadyLatencyMs: value,
        resultConsumptionLatencyMs: value,
        chunksPresent: value,
        chunksIterated: value,
        chunkInitialLatencyMs: value,
        chunkSlowestLatencyMs: value,
        chunkSumLatencyMs: value,
        errorChunkIndex: value,
      });
      const largest = (kind: TelemetryLogKind) =>
        FULL_LOGS[kind]({
          workspaceId: '9223372036854775807',
          timestamp: MAX,
          operationLatencyMs: MAX,
          connectionParams: { ...CONNECTION_PARAMS, hostPort: 65535, socketTimeoutMs: MAX, rowsFetchedPerBlock: MAX },
          statement: numbers(MAX),
        });
      const problems = KINDS.flatMap((kind) => protoProblems(emittedOrFail(largest(kind), false)));
      expect([...new Set(problems)]).to.deep.equal([]);
    });
  });
});
