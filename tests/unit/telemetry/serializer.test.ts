import { execFileSync } from 'child_process';
import path from 'path';
import { expect } from 'chai';
import { EXPORT_ALLOW_LIST, isExportAllowed } from '../../../lib/telemetry/wire/exportAllowList';
import { serializeProtoLog, uploadBody } from '../../../lib/telemetry/wire/serializer';
import { ConnectionParameters, TelemetryLog, TelemetryLogKind } from '../../../lib/telemetry/types';
import { DRIVER_CONFIG, serializeSamples, STATEMENT_METRICS } from '../../support/serializerSamples';

const UA = 'NodejsDatabricksSqlConnector/2.1.0 (Node.js 20)';
const EVENT_ID = '9b2f6c1e-4a57-4c1e-9d8e-2b1f0c7a6d55';
const SESSION_ID = '01f0a1b2-c3d4-1e5f-8a9b-0c1d2e3f4a5b';
const STATEMENT_ID = '01f0a1b2-c3d4-1e5f-8a9b-ffffffffffff';

const HTTP_PATH = '/sql/1.0/warehouses/abc123';
const HOST_URL = 'https://example.cloud.databricks.com';

const CONNECTION_PARAMS: ConnectionParameters = {
  httpPath: HTTP_PATH,
  hostUrl: HOST_URL,
  hostPort: 443,
  mode: 'THRIFT',
  authMech: 'OAUTH',
  authFlow: 'CLIENT_CREDENTIALS',
  useProxy: false,
  enableArrow: true,
  enableDirectResults: true,
  enableCloudFetch: true,
  enableLz4Compression: true,
  socketTimeoutMs: 900_000,
  rowsFetchedPerBlock: 100_000,
  enableMetricViewMetadata: false,
};

function connectionLog(overrides: Partial<TelemetryLog> = {}): TelemetryLog {
  return {
    kind: 'connection',
    eventId: EVENT_ID,
    timestamp: 1760000000100,
    workspaceId: '1234567890123456',
    sessionId: SESSION_ID,
    authType: 'oauth-m2m',
    driverConfig: { ...DRIVER_CONFIG },
    connectionParams: { ...CONNECTION_PARAMS },
    operationLatencyMs: 321,
    statement: { operationType: 'CREATE_SESSION', chunksIterated: 0, chunkSumLatencyMs: 0, bytesDownloaded: 0 },
    ...overrides,
  };
}

function statementLog(overrides: Partial<TelemetryLog> = {}): TelemetryLog {
  return {
    kind: 'statement',
    eventId: EVENT_ID,
    timestamp: 1760000000200,
    workspaceId: '1234567890123456',
    sessionId: SESSION_ID,
    statementId: STATEMENT_ID,
    operationLatencyMs: 1500,
    statement: { ...STATEMENT_METRICS },
    ...overrides,
  };
}

function errorLog(overrides: Partial<TelemetryLog> = {}): TelemetryLog {
  return {
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
    statement: {
      statementType: 'QUERY',
      operationType: 'CREATE_SESSION',
      errorChunkIndex: 1,
      chunksIterated: 0,
      chunkSumLatencyMs: 0,
      bytesDownloaded: 0,
    },
    ...overrides,
  };
}

/** The upload request body for `logs`, as the exporter builds it; unusable logs are left out. */
function buildUploadBody(
  logs: readonly TelemetryLog[],
  userAgent: string,
  nowMs: number,
  unauthenticated = false,
  workspaceId?: string,
): string {
  const entries = logs.map((log) => serializeProtoLog(log, userAgent, unauthenticated, workspaceId));
  return uploadBody(
    entries.filter((entry): entry is string => entry !== undefined),
    nowMs,
  );
}

/** The log's JSON text: the content of its protoLogs entry, which must itself be a JSON string. */
function serializeLog(
  log: TelemetryLog,
  userAgent: string,
  unauthenticated: boolean,
  workspaceId?: string,
): string | undefined {
  const entry = serializeProtoLog(log, userAgent, unauthenticated, workspaceId);
  if (entry === undefined) {
    return undefined;
  }
  const json: unknown = JSON.parse(entry);
  expect(json, 'protoLogs entry').to.be.a('string');
  return json as string;
}

function parse(json: string | undefined): any {
  expect(json, 'serialized log').to.be.a('string');
  return JSON.parse(json as string);
}

/** Every leaf path of a parsed JSON object. */
function leafPaths(value: any, prefix = ''): string[] {
  return Object.entries(value).flatMap(([key, child]) =>
    typeof child === 'object' && child !== null ? leafPaths(child, `${prefix}${key}.`) : [`${prefix}${key}`],
  );
}

function allowedPaths(kind: TelemetryLogKind, unauthenticated: boolean): string[] {
  return EXPORT_ALLOW_LIST.filter((tag) => isExportAllowed(tag.path, kind, unauthenticated))
    .map((tag) => tag.path)
    .sort();
}

const FULL_LOGS: Record<TelemetryLogKind, (overrides?: Partial<TelemetryLog>) => TelemetryLog> = {
  connection: connectionLog,
  statement: statementLog,
  error: errorLog,
};

describe('serializer', () => {
  describe('serializeProtoLog', () => {
    it('TelemetryFrontendLog_Serialization_MatchesJdbcFormat (statement log)', () => {
      expect(parse(serializeLog(statementLog(), UA, false))).to.deep.equal({
        workspace_id: 1234567890123456,
        frontend_log_event_id: EVENT_ID,
        context: { client_context: { timestamp_millis: 1760000000200, user_agent: UA } },
        entry: {
          sql_driver_log: {
            session_id: SESSION_ID,
            sql_statement_id: STATEMENT_ID,
            sql_operation: {
              statement_type: 'QUERY',
              is_compressed: true,
              execution_result: 'EXTERNAL_LINKS',
              chunk_id: 2,
              retry_count: 1,
              chunk_details: {
                initial_chunk_latency_millis: 80,
                slowest_chunk_latency_millis: 120,
                total_chunks_present: 4,
                total_chunks_iterated: 4,
                sum_chunks_download_time_millis: 400,
              },
              result_latency: { result_set_ready_latency_millis: 600, result_set_consumption_latency_millis: 900 },
              operation_detail: {
                n_operation_status_calls: 3,
                operation_status_latency_millis: 450,
                operation_type: 'EXECUTE_STATEMENT',
              },
            },
            error_info: { error_name: '42P01' },
            operation_latency_ms: 1500,
          },
        },
      });
    });

    it('TelemetryFrontendLog_Serialization_MatchesJdbcFormat (connection log)', () => {
      expect(parse(serializeLog(connectionLog(), UA, false))).to.deep.equal({
        workspace_id: 1234567890123456,
        frontend_log_event_id: EVENT_ID,
        context: { client_context: { timestamp_millis: 1760000000100, user_agent: UA } },
        entry: {
          sql_driver_log: {
            session_id: SESSION_ID,
            system_configuration: {
              driver_version: '2.1.0',
              driver_name: 'nodejs-sql-driver',
              runtime_name: 'Node.js',
              runtime_version: 'v20.20.2',
              runtime_vendor: 'Node.js Foundation',
              os_name: 'linux',
              os_version: '6.1.0',
              os_arch: 'x64',
              client_app_name: 'etl-job',
              locale_name: 'en_US',
              char_set_encoding: 'UTF-8',
              process_name: 'node',
            },
            driver_connection_params: {
              http_path: HTTP_PATH,
              mode: 'THRIFT',
              host_info: { host_url: HOST_URL, port: 443 },
              use_proxy: false,
              auth_mech: 'OAUTH',
              auth_flow: 'CLIENT_CREDENTIALS',
              enable_arrow: true,
              enable_direct_results: true,
              socket_timeout: 900,
              rows_fetched_per_block: 100000,
              enable_metric_view_metadata: false,
            },
            auth_type: 'oauth-m2m',
            sql_operation: { operation_detail: { operation_type: 'CREATE_SESSION' } },
            operation_latency_ms: 321,
          },
        },
      });
    });

    it('TelemetryEvent_Serialization_OmitsNullFields', () => {
      const json = serializeLog(
        {
          kind: 'statement',
          eventId: EVENT_ID,
          timestamp: 5,
          statement: { chunksIterated: 0, chunkSumLatencyMs: 0, bytesDownloaded: 0 },
        },
        UA,
        false,
      );
      expect(json).not.to.match(/null|undefined|\{\}/);
      expect(parse(json)).to.deep.equal({
        frontend_log_event_id: EVENT_ID,
        context: { client_context: { timestamp_millis: 5, user_agent: UA } },
      });
    });

    it('sends chunk details only for statements that had chunks', () => {
      const inline = statementLog();
      inline.statement = { statementType: 'QUERY', chunksIterated: 0, chunkSumLatencyMs: 0, bytesDownloaded: 10 };
      expect(parse(serializeLog(inline, UA, false)).entry.sql_driver_log.sql_operation).to.deep.equal({
        statement_type: 'QUERY',
      });

      const iteratedOnly = statementLog();
      iteratedOnly.statement = { chunksIterated: 2, chunkSumLatencyMs: 30, bytesDownloaded: 10 };
      expect(
        parse(serializeLog(iteratedOnly, UA, false)).entry.sql_driver_log.sql_operation.chunk_details,
      ).to.deep.equal({
        total_chunks_iterated: 2,
        sum_chunks_download_time_millis: 30,
      });
    });

    it('emits bare enum names and rounds numbers to integers', () => {
      const log = statementLog({ operationLatencyMs: 12.6, timestamp: 1760000000200.4 });
      const parsed = parse(serializeLog(log, UA, false));
      expect(parsed.entry.sql_driver_log.sql_operation.statement_type).to.equal('QUERY');
      expect(parsed.entry.sql_driver_log.operation_latency_ms).to.equal(13);
      expect(parsed.context.client_context.timestamp_millis).to.equal(1760000000200);
    });

    describe('the export allow-list', () => {
      for (const kind of ['connection', 'statement', 'error'] as const) {
        it(`a fully populated ${kind} log emits exactly the allowed paths (signed in)`, () => {
          expect(leafPaths(parse(serializeLog(FULL_LOGS[kind](), UA, false))).sort()).to.deep.equal(
            allowedPaths(kind, false),
          );
        });

        it(`a fully populated ${kind} log emits exactly the allowed paths (unauthenticated)`, () => {
          expect(leafPaths(parse(serializeLog(FULL_LOGS[kind](), UA, true))).sort()).to.deep.equal(
            allowedPaths(kind, true),
          );
        });
      }

      it('a log stuffed with sensitive extras exports none of them', () => {
        const secrets = {
          sqlText: 'SELECT ssn FROM payroll WHERE name = "alice"',
          query: 'SELECT ssn FROM payroll',
          token: 'dapi0123456789abcdef',
          Authorization: 'Bearer dapi0123456789abcdef',
          host: 'secret-workspace.cloud.databricks.com',
          hostUrl: 'https://secret-workspace.cloud.databricks.com',
          httpPath: '/sql/1.0/warehouses/abc123secret',
          http_path: '/sql/1.0/warehouses/abc123secret',
          host_info: { host_url: 'secret-workspace.cloud.databricks.com' },
          message: 'Table payroll_secret not found',
          errorMessage: 'Table payroll_secret not found',
          stack: 'Error: boom\n    at /home/alice/app.js:1:1',
          stack_trace: 'at /home/alice/app.js',
          stackTrace: 'at /home/alice/app.js',
          userName: 'alice@example.com',
          password: 'hunter2',
        };
        const stuff = <T extends object>(value: T): T => Object.assign(value, secrets);
        const forbidden = /ssn|payroll|dapi|Bearer|secret|warehouses|alice|hunter2|host_info|http_path|stack|message/i;
        // The connection parameters' own address fields are legitimate there (tested below): left out here.
        const withoutAddress = (value: object): any => {
          const copy: any = { ...value };
          delete copy.httpPath;
          delete copy.hostUrl;
          delete copy.hostPort;
          return copy;
        };

        for (const kind of ['connection', 'statement', 'error'] as const) {
          const log = stuff(FULL_LOGS[kind]()) as TelemetryLog;
          log.statement = stuff({ ...log.statement! });
          log.driverConfig = stuff({ ...DRIVER_CONFIG });
          log.connectionParams = Object.assign(withoutAddress(CONNECTION_PARAMS), withoutAddress(secrets));
          (log as any).entry = { sql_driver_log: { sql_text: secrets.sqlText } };
          (log as any).sql_driver_log = { error_info: { stack_trace: secrets.stack } };
          for (const unauthenticated of [false, true]) {
            const json = serializeLog(log, UA, unauthenticated) as string;
            expect(json, `${kind} ${unauthenticated}`).to.be.a('string');
            expect(json, `${kind} ${unauthenticated}`).not.to.match(forbidden);
          }
        }
      });

      it('typed fields holding hostile values are dropped, not passed through', () => {
        const sql = 'DROP TABLE payroll';
        const log = statementLog({
          sessionId: sql,
          statementId: `${STATEMENT_ID}; ${sql}`,
          eventId: sql,
          workspaceId: `123 ${sql}`,
          authType: sql as any,
          errorName: `${sql} failed for user alice`,
        });
        log.statement = {
          ...log.statement!,
          statementType: sql as any,
          executionResult: 'ROWS' as any,
          operationType: {} as any,
          isCompressed: 'yes' as any,
          pollCount: '3' as any,
          retryCount: -1,
          resultReadyLatencyMs: NaN,
          resultConsumptionLatencyMs: Infinity,
          chunksPresent: 2 ** 60,
        };
        const json = serializeLog(log, UA, false) as string;
        expect(json).not.to.match(/DROP|payroll|alice|ROWS|yes/);
        const parsed = JSON.parse(json);
        expect(parsed).not.to.have.property('workspace_id');
        expect(parsed).not.to.have.property('frontend_log_event_id');
        expect(parsed.entry.sql_driver_log).not.to.have.any.keys('session_id', 'sql_statement_id', 'auth_type');
        expect(parsed.entry.sql_driver_log.error_info).to.deep.equal({ error_name: 'UnknownError' });
        const operation = parsed.entry.sql_driver_log.sql_operation;
        expect(operation).not.to.have.any.keys(
          'statement_type',
          'execution_result',
          'is_compressed',
          'retry_count',
          'result_latency',
        );
        expect(operation.operation_detail).to.deep.equal({ operation_status_latency_millis: 450 });
        expect(operation.chunk_details).not.to.have.property('total_chunks_present');
      });

      it('keeps only the base name of a process path and drops huge strings', () => {
        const log = connectionLog();
        log.driverConfig = {
          ...DRIVER_CONFIG,
          processName: '/home/alice/.nvm/versions/node/v20/bin/node',
          clientAppName: 'x'.repeat(100_000),
          osVersion: '',
        };
        const system = parse(serializeLog(log, UA, false)).entry.sql_driver_log.system_configuration;
        expect(system.process_name).to.equal('node');
        expect(system).not.to.have.any.keys('client_app_name', 'os_version');

        log.driverConfig = { ...DRIVER_CONFIG, processName: 'C:\\Users\\alice\\node.exe' };
        expect(parse(serializeLog(log, UA, false)).entry.sql_driver_log.system_configuration.process_name).to.equal(
          'node.exe',
        );
      });

      it('escapes strings that need it', () => {
        const log = connectionLog();
        const hard = 'app "quoted" \\ \n \u0000\u001f \u2028\u2029 é 😀 \ud800 </script>';
        log.driverConfig = { ...DRIVER_CONFIG, clientAppName: hard, osName: '\\"' };
        const system = parse(serializeLog(log, 'UA "x"', false)).entry.sql_driver_log.system_configuration;
        expect(system.client_app_name).to.equal(hard);
        expect(system.os_name).to.equal('\\"');
        expect(parse(serializeLog(log, 'UA "x"', false)).context.client_context.user_agent).to.equal('UA "x"');
      });

      it('omits a missing or oversized user agent', () => {
        expect(parse(serializeLog(statementLog(), '', false)).context.client_context).not.to.have.property(
          'user_agent',
        );
        expect(parse(serializeLog(statementLog(), 'u'.repeat(513), false)).context.client_context).not.to.have.property(
          'user_agent',
        );
        expect(
          parse(serializeLog(statementLog(), undefined as any, false)).context.client_context,
        ).not.to.have.property('user_agent');
      });
    });

    describe('unauthenticated logs', () => {
      it('carry no ids, no workspace, and only driver name and version', () => {
        expect(parse(serializeLog(errorLog({ unauthenticated: true }), UA, false))).to.deep.equal({
          frontend_log_event_id: EVENT_ID,
          context: { client_context: { timestamp_millis: 1760000000300, user_agent: UA } },
          entry: {
            sql_driver_log: {
              system_configuration: { driver_version: '2.1.0', driver_name: 'nodejs-sql-driver' },
              auth_type: 'pat',
              sql_operation: { operation_detail: { operation_type: 'CREATE_SESSION' } },
              error_info: { error_name: 'AuthenticationError' },
              operation_latency_ms: 42,
            },
          },
        });
      });

      it('the unauthenticated scope applies when the caller asks for it, whatever the log says', () => {
        const parsed = parse(serializeLog(statementLog({ unauthenticated: false }), UA, true));
        expect(JSON.stringify(parsed)).not.to.match(/session_id|sql_statement_id|workspace_id|1234567890123456/);
      });
    });

    describe('workspace_id', () => {
      const cases: Array<[string, string | undefined]> = [
        ['1234567890123456', '1234567890123456'],
        ['9007199254740993', '9007199254740993'],
        ['9223372036854775807', '9223372036854775807'],
        ['9223372036854775808', undefined],
        ['00042', '42'],
        ['0', '0'],
        ['12345678901234567890', undefined],
        ['-1', undefined],
        ['1e5', undefined],
        ['', undefined],
      ];
      for (const [input, digits] of cases) {
        it(`${JSON.stringify(input)} → ${digits ?? 'omitted'}`, () => {
          const json = serializeLog(statementLog({ workspaceId: input }), UA, false) as string;
          if (digits === undefined) {
            expect(JSON.parse(json)).not.to.have.property('workspace_id');
          } else {
            // Exact digits in the JSON text: a JS number would have rounded 9007199254740993.
            expect(json.startsWith(`{"workspace_id":${digits},`)).to.be.true;
          }
        });
      }

      it('a number instead of a digit string is omitted', () => {
        expect(parse(serializeLog(statementLog({ workspaceId: 12 as any }), UA, false))).not.to.have.property(
          'workspace_id',
        );
      });
    });

    describe('the workspace address (http_path, host_info)', () => {
      const PARAMS = 'driver_connection_params';

      it('goes on signed-in connection logs only: never on statement or error logs, never unauthenticated', () => {
        const signedIn = parse(serializeLog(connectionLog(), UA, false)).entry.sql_driver_log[PARAMS];
        expect(signedIn.http_path).to.equal(HTTP_PATH);
        expect(signedIn.host_info).to.deep.equal({ host_url: HOST_URL, port: 443 });

        const withParams = { connectionParams: { ...CONNECTION_PARAMS } };
        const texts = [
          serializeLog(connectionLog(), UA, true),
          serializeLog(connectionLog({ unauthenticated: true }), UA, false),
          serializeLog(errorLog(withParams), UA, false),
          serializeLog(errorLog(withParams), UA, true),
          serializeLog(statementLog(withParams), UA, false),
          serializeLog(statementLog(withParams), UA, true),
        ];
        for (const [index, text] of texts.entries()) {
          expect(text, String(index)).to.be.a('string');
          expect(text, String(index)).not.to.match(/http_path|host_info|host_url|example\.cloud|warehouses/);
        }
        // The error log still carries the other connection fields.
        expect(parse(texts[2]).entry.sql_driver_log[PARAMS]).to.include({ mode: 'THRIFT', auth_mech: 'OAUTH' });
      });

      it('writes the path and host as given when they are well formed', () => {
        const paths = [
          '/sql/1.0/warehouses/abc123',
          '/sql/protocolv1/o/1234567890123456/0123-456789-abcdef',
          '/a%20b/~x_y-z.1',
          '/',
        ];
        for (const httpPath of paths) {
          const log = connectionLog({ connectionParams: { ...CONNECTION_PARAMS, httpPath } });
          expect(parse(serializeLog(log, UA, false)).entry.sql_driver_log[PARAMS].http_path).to.equal(httpPath);
        }
        for (const [hostUrl, port] of [
          ['https://adb-1234567890123456.7.azuredatabricks.net', 443],
          ['https://127.0.0.1', 8443],
          ['https://LOCALHOST', 1],
        ] as const) {
          const log = connectionLog({ connectionParams: { ...CONNECTION_PARAMS, hostUrl, hostPort: port } });
          expect(parse(serializeLog(log, UA, false)).entry.sql_driver_log[PARAMS].host_info).to.deep.equal({
            host_url: hostUrl,
            port,
          });
        }
      });

      it('drops a path, host or port that is not well formed', () => {
        const badPaths = [
          '/sql/1.0/warehouses/abc?o=1&secret=x',
          '/sql/1.0/warehouses/abc#frag',
          'sql/1.0/warehouses/abc',
          '/path with space',
          '/quote"d',
          '/back\\slash',
          '/line\nbreak',
          '/é',
          `/${'a'.repeat(256)}`,
          '',
          42,
          null,
        ];
        for (const httpPath of badPaths) {
          const log = connectionLog({ connectionParams: { ...CONNECTION_PARAMS, httpPath: httpPath as any } });
          expect(
            parse(serializeLog(log, UA, false)).entry.sql_driver_log[PARAMS],
            JSON.stringify(httpPath),
          ).not.to.have.property('http_path');
        }
        const badHosts = [
          'http://example.com',
          'https://',
          'https://user:pw@example.com',
          'https://example.com/path',
          'https://example.com:443',
          'example.com',
          'https://-x',
          7,
        ];
        for (const hostUrl of badHosts) {
          const log = connectionLog({ connectionParams: { ...CONNECTION_PARAMS, hostUrl: hostUrl as any } });
          expect(
            parse(serializeLog(log, UA, false)).entry.sql_driver_log[PARAMS].host_info,
            JSON.stringify(hostUrl),
          ).to.deep.equal({ port: 443 });
        }
        for (const hostPort of [0, -1, 65536, 1.5, NaN, '443', undefined]) {
          const log = connectionLog({ connectionParams: { ...CONNECTION_PARAMS, hostPort: hostPort as any } });
          expect(
            parse(serializeLog(log, UA, false)).entry.sql_driver_log[PARAMS].host_info,
            String(hostPort),
          ).to.deep.equal({ host_url: HOST_URL });
        }
        const neither = connectionLog({
          connectionParams: { ...CONNECTION_PARAMS, hostUrl: undefined, hostPort: undefined },
        });
        expect(parse(serializeLog(neither, UA, false)).entry.sql_driver_log[PARAMS]).not.to.have.property('host_info');
      });
    });

    describe('workspace_id named by the workspace (the fallback argument)', () => {
      const FROM_HEADER = '9876543210987654';

      for (const kind of ['connection', 'statement', 'error'] as const) {
        it(`fills a signed-in ${kind} log that has no id of its own, keeping every digit`, () => {
          const json = serializeLog(FULL_LOGS[kind]({ workspaceId: undefined }), UA, false, FROM_HEADER) as string;
          // Beyond 2^53: exact digits in the text, where a JS number would have rounded them.
          expect(json.startsWith(`{"workspace_id":${FROM_HEADER},`)).to.be.true;
          expect(serializeLog(FULL_LOGS[kind]({ workspaceId: undefined }), UA, false) as string).not.to.include(
            'workspace_id',
          );
        });
      }

      it("never overrides the log's own id (from the HTTP path)", () => {
        const json = serializeLog(statementLog({ workspaceId: '42' }), UA, false, FROM_HEADER) as string;
        expect(json.startsWith('{"workspace_id":42,')).to.be.true;
        expect(json).not.to.include(FROM_HEADER);
      });

      it("replaces a log's own id that is unusable", () => {
        const json = serializeLog(
          statementLog({ workspaceId: '99999999999999999999' }),
          UA,
          false,
          FROM_HEADER,
        ) as string;
        expect(json.startsWith(`{"workspace_id":${FROM_HEADER},`)).to.be.true;
      });

      it('is never written on an unauthenticated log', () => {
        const texts = [
          serializeLog(statementLog({ workspaceId: undefined }), UA, true, FROM_HEADER),
          serializeLog(connectionLog({ workspaceId: undefined }), UA, true, FROM_HEADER),
          serializeLog(errorLog({ workspaceId: undefined, unauthenticated: true }), UA, false, FROM_HEADER),
        ];
        for (const text of texts) {
          expect(text).to.be.a('string');
          expect(text).not.to.match(new RegExp(`workspace_id|${FROM_HEADER}`));
        }
      });

      it("is checked like the log's own id: a malformed one is omitted", () => {
        for (const fallback of ['abc', '12 34', '-1', '9223372036854775808', '', 12 as any, {} as any]) {
          const json = serializeLog(statementLog({ workspaceId: undefined }), UA, false, fallback) as string;
          expect(JSON.parse(json), String(fallback)).not.to.have.property('workspace_id');
        }
        const padded = serializeLog(statementLog({ workspaceId: undefined }), UA, false, '00042') as string;
        expect(padded.startsWith('{"workspace_id":42,')).to.be.true;
      });

      it('reaches the upload body intact', () => {
        const body = buildUploadBody(
          [statementLog({ workspaceId: undefined }), connectionLog({ workspaceId: undefined })],
          UA,
          1,
          false,
          FROM_HEADER,
        );
        const protoLogs: string[] = JSON.parse(body).protoLogs;
        expect(protoLogs.every((protoLog) => protoLog.startsWith(`{"workspace_id":${FROM_HEADER},`))).to.be.true;
      });
    });

    describe('unusable logs', () => {
      const throwing = Object.defineProperty(statementLog(), 'statement', {
        get: () => {
          throw new Error('getter');
        },
      });
      const inputs: Array<[string, unknown]> = [
        ['undefined', undefined],
        ['null', null],
        ['a string', 'log'],
        ['an unknown kind', { ...statementLog(), kind: 'metric' }],
        ['a prototype key as kind', { ...statementLog(), kind: '__proto__' }],
        ['a throwing getter', throwing],
        ['null sub-objects', { ...connectionLog(), statement: null, driverConfig: null, connectionParams: 'x' }],
      ];
      for (const [label, input] of inputs) {
        it(`${label}: never throws`, () => {
          expect(() => serializeLog(input as TelemetryLog, UA, false)).not.to.throw();
        });
      }

      it('returns undefined for what it cannot serialize, and degrades sub-objects', () => {
        expect(serializeLog(undefined as any, UA, false)).to.be.undefined;
        expect(serializeLog({ ...statementLog(), kind: 'metric' as any }, UA, false)).to.be.undefined;
        expect(serializeLog(throwing, UA, false)).to.be.undefined;
        const degraded = parse(
          serializeLog(
            { ...connectionLog(), statement: null as any, driverConfig: null as any, connectionParams: 'x' as any },
            UA,
            false,
          ),
        );
        expect(degraded.entry.sql_driver_log).to.have.keys('session_id', 'auth_type', 'operation_latency_ms');
      });
    });
  });

  describe('where code generation from strings is forbidden', () => {
    it('writes the same bytes as the generated code, in a process run with --disallow-code-generation-from-strings', function () {
      this.timeout(20000);
      const ua = 'NodejsDatabricksSqlConnector/2.1.0 "x"';
      const script = path.resolve(__dirname, '../../support/serializerSamples.ts');
      const forbidden = execFileSync(
        process.execPath,
        ['--disallow-code-generation-from-strings', '-r', 'ts-node/register/transpile-only', script, ua],
        { encoding: 'utf8' },
      );
      const generated = serializeSamples(ua);
      expect(generated.flat().filter((entry) => entry !== null)).to.have.length.greaterThan(10);
      expect(JSON.parse(forbidden)).to.deep.equal(generated);
    });
  });

  describe('upload body', () => {
    it('TelemetryRequest_Serialization_ProducesValidJson', () => {
      const body = JSON.parse(buildUploadBody([statementLog(), connectionLog()], UA, 1760000000500));
      expect(body).to.have.keys('uploadTime', 'items', 'protoLogs');
      expect(body.uploadTime).to.equal(1760000000500);
      expect(body.items).to.deep.equal([]);
    });

    it('TelemetryRequest_ProtoLogs_ContainsSerializedStrings', () => {
      const logs = [statementLog(), connectionLog(), errorLog()];
      const body = JSON.parse(buildUploadBody(logs, UA, 1));
      expect(body.protoLogs).to.have.length(3);
      body.protoLogs.forEach((protoLog: unknown, index: number) => {
        expect(protoLog).to.be.a('string');
        expect(protoLog).to.equal(serializeLog(logs[index], UA, false));
      });
    });

    it('keeps the exact workspace id digits through the double encoding', () => {
      const body = buildUploadBody([statementLog({ workspaceId: '9223372036854775807' })], UA, 1);
      const protoLog: string = JSON.parse(body).protoLogs[0];
      expect(protoLog).to.contain('"workspace_id":9223372036854775807,');
    });

    it('leaves unusable logs out and applies the unauthenticated scope to all', () => {
      const body = JSON.parse(buildUploadBody([statementLog(), undefined as any, connectionLog()], UA, 1, true));
      expect(body.protoLogs).to.have.length(2);
      expect(body.protoLogs.join()).not.to.match(/session_id|workspace_id/);
    });

    it('an empty batch and an invalid upload time still make valid JSON', () => {
      expect(JSON.parse(buildUploadBody([], UA, 7))).to.deep.equal({ uploadTime: 7, items: [], protoLogs: [] });
      expect(JSON.parse(uploadBody(['"{}"'], NaN))).to.deep.equal({ uploadTime: 0, items: [], protoLogs: ['{}'] });
    });
  });
});

describe('export allow-list', () => {
  it('every row has a path, kinds and a one-line description; no path twice', () => {
    const paths = EXPORT_ALLOW_LIST.map((tag) => tag.path);
    expect(new Set(paths).size).to.equal(paths.length);
    for (const tag of EXPORT_ALLOW_LIST) {
      expect(tag.path).to.match(/^[a-z_.]+$/);
      expect(tag.kinds.length, tag.path).to.be.greaterThan(0);
      expect(tag.description, tag.path).to.match(/^[^\n]{5,100}$/);
    }
  });

  it('TelemetryTagRegistry_GetDatabricksExportTags_ConnectionOpen_ReturnsCorrectTags', () => {
    const connection = allowedPaths('connection', false);
    expect(connection).to.include.members([
      'workspace_id',
      'entry.sql_driver_log.session_id',
      'entry.sql_driver_log.system_configuration.driver_version',
      'entry.sql_driver_log.driver_connection_params.mode',
      'entry.sql_driver_log.auth_type',
    ]);
    expect(connection).not.to.include('entry.sql_driver_log.sql_statement_id');
  });

  it('TelemetryTagRegistry_ShouldExportToDatabricks_SensitiveTag_ReturnsFalse', () => {
    for (const path of [
      'db.statement',
      'sql_text',
      'entry.sql_driver_log.sql_text',
      'entry.sql_driver_log.error_info.stack_trace',
    ]) {
      for (const kind of ['connection', 'statement', 'error'] as const) {
        expect(isExportAllowed(path, kind, false), `${path} ${kind}`).to.be.false;
      }
    }
  });

  it('TelemetryTagRegistry_ShouldExportToDatabricks_SafeTag_ReturnsTrue', () => {
    expect(isExportAllowed('entry.sql_driver_log.sql_statement_id', 'statement', false)).to.be.true;
    expect(isExportAllowed('entry.sql_driver_log.sql_operation.chunk_details.total_chunks_present', 'statement', false))
      .to.be.true;
  });

  it('respects kinds and the unauthenticated scope', () => {
    expect(
      isExportAllowed('entry.sql_driver_log.sql_operation.chunk_details.total_chunks_present', 'connection', false),
    ).to.be.false;
    expect(isExportAllowed('entry.sql_driver_log.sql_statement_id', 'statement', true)).to.be.false;
    expect(isExportAllowed('workspace_id', 'connection', true)).to.be.false;
    expect(isExportAllowed('entry.sql_driver_log.error_info.error_name', 'error', true)).to.be.true;
    expect(allowedPaths('connection', true).filter((path) => path.includes('system_configuration'))).to.deep.equal([
      'entry.sql_driver_log.system_configuration.driver_name',
      'entry.sql_driver_log.system_configuration.driver_version',
    ]);
  });

  it('ConnectionOpenEvent_GetDatabricksExportTags_ExcludesServerAddress: only the workspace address, on signed-in connection logs', () => {
    const addressFields = [
      'entry.sql_driver_log.driver_connection_params.http_path',
      'entry.sql_driver_log.driver_connection_params.host_info.host_url',
      'entry.sql_driver_log.driver_connection_params.host_info.port',
    ];
    for (const tag of EXPORT_ALLOW_LIST) {
      if (addressFields.includes(tag.path)) {
        expect(tag.kinds, tag.path).to.deep.equal(['connection']);
        expect(tag.unauthenticated, tag.path).to.equal(false);
      } else {
        expect(tag.path).not.to.match(/host|http_path|server|address|url|stack|message|sql_text|token/);
      }
    }
    expect(EXPORT_ALLOW_LIST.filter((tag) => addressFields.includes(tag.path))).to.have.length(3);
  });

  it('is frozen', () => {
    expect(Object.isFrozen(EXPORT_ALLOW_LIST)).to.be.true;
    expect(Object.isFrozen(EXPORT_ALLOW_LIST[0])).to.be.true;
    expect(Object.isFrozen(EXPORT_ALLOW_LIST[0].kinds)).to.be.true;
  });
});
