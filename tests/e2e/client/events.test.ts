import diagnosticsChannel from 'diagnostics_channel';
import { expect } from 'chai';
import { DBSQLClient } from '../../../lib';
import { Emulator, startEmulator } from '../../../lib/emulator';
import {
  connectClient,
  connectionLogs,
  errorLogTexts,
  rejectionOf,
  runQuery,
  Session,
  statementLogs,
  waitFor,
  waitForStatementLogs,
} from '../../support/harness';
import { validateUpload } from '../../support/wireFormat';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const DRIVER_PACKAGE_VERSION: string = require('@databricks/sql/package.json').version;

type Operation = Awaited<ReturnType<Session['getCatalogs']>>;

describe('client e2e: connection, statement and metadata events', () => {
  let emulator: Emulator;
  let client: DBSQLClient | undefined;

  before(async () => {
    emulator = await startEmulator();
  });

  afterEach(async () => {
    await client?.close();
    client = undefined;
  });

  after(async () => {
    await emulator.close();
  });

  async function openSession(config?: Record<string, unknown>): Promise<Session> {
    client = await connectClient(emulator, { config });
    return client.openSession();
  }

  it('exports a connection event: system configuration, connection params, auth_type pat, the session id', async () => {
    const session = await openSession();
    const logs = await waitFor(() => connectionLogs(emulator, session.id));
    expect(logs).to.have.length(1);
    const [log] = logs;
    expect(log.session_id).to.equal(session.id);
    expect(log.auth_type).to.equal('pat');
    expect(log.system_configuration).to.include({ driver_name: 'nodejs-sql-driver', runtime_name: 'Node.js' });
    // The driver actually loaded (2.x, or 1.x under tests/support/useDriverV1.js).
    expect(log.system_configuration?.driver_version).to.equal(DRIVER_PACKAGE_VERSION);
    expect(log.driver_connection_params).to.include({ mode: 'THRIFT', auth_mech: 'PAT' });
    expect(log.sql_statement_id).to.equal(undefined);
    const upload = emulator.telemetry.requests().find((request) => JSON.stringify(request.logs).includes(session.id));
    expect(upload?.path).to.equal('/telemetry-ext');
    expect(upload?.headers.authorization).to.equal(`Bearer ${emulator.token}`);
    await session.close();
  });

  it('exports a slow statement with its id, a latency covering the sleep and a poll count', async () => {
    const session = await openSession();
    const started = Date.now();
    const { rows, operation } = await runQuery(session, '/* emulator: sleep=600 format=arrow */ SELECT 1');
    const elapsed = Date.now() - started;
    expect(rows).to.deep.equal([{ 1: 1 }]);
    const [log, ...more] = await waitForStatementLogs(emulator, operation.id);
    expect(more, 'one log per statement').to.deep.equal([]);
    expect(log.session_id).to.equal(session.id);
    expect(log.sql_statement_id).to.equal(operation.id);
    expect(log.operation_latency_ms)
      .to.be.at.least(600)
      .and.at.most(elapsed + 50);
    expect(log.sql_operation?.statement_type).to.equal('QUERY');
    expect(log.sql_operation?.operation_detail?.operation_type).to.equal('EXECUTE_STATEMENT');
    expect(log.sql_operation?.operation_detail?.n_operation_status_calls).to.be.above(0);
    expect(log.error_info).to.equal(undefined);
    await session.close();
  });

  const formats = [
    { hint: 'format=columns', expected: 'COLUMNAR_INLINE', compressed: false },
    { hint: 'format=arrow lz4=off', expected: 'INLINE_ARROW', compressed: false },
    { hint: 'format=arrow lz4=on', expected: 'INLINE_ARROW', compressed: true },
    { hint: 'format=cloudfetch chunks=2 lz4=on', expected: 'EXTERNAL_LINKS', compressed: true },
    { hint: 'format=cloudfetch chunks=2 lz4=off', expected: 'EXTERNAL_LINKS', compressed: false },
  ];
  for (const { hint, expected, compressed } of formats) {
    it(`maps the real result format (${hint}) to ${expected}, is_compressed ${compressed}, without the app asking for metadata`, async () => {
      const session = await openSession();
      const operation = await session.executeStatement(`/* emulator: ${hint} */ SELECT * FROM range(20)`);
      // fetchChunk, not fetchAll: the app never asks for the result metadata itself.
      const rows: unknown[] = [];
      do {
        rows.push(...(await operation.fetchChunk({ maxRows: 100 })));
      } while (await operation.hasMoreRows());
      await operation.close();
      expect(rows).to.have.length(20);
      const [log] = await waitForStatementLogs(emulator, operation.id);
      expect(log?.sql_operation?.execution_result).to.equal(expected);
      expect(log?.sql_operation?.is_compressed).to.equal(compressed);
      await session.close();
    });
  }

  it('reports CloudFetch chunks: announced links, downloads and their latencies', async () => {
    const session = await openSession();
    const { rows, operation } = await runQuery(
      session,
      '/* emulator: format=cloudfetch chunks=3 */ SELECT * FROM range(30)',
    );
    expect(rows).to.have.length(30);
    const downloads = emulator.requestCounts().cloudFetch;
    expect(downloads).to.be.at.least(3);
    const [log] = await waitForStatementLogs(emulator, operation.id);
    const chunks = log?.sql_operation?.chunk_details;
    expect(chunks?.total_chunks_present).to.equal(3);
    expect(chunks?.total_chunks_iterated).to.equal(3);
    expect(chunks?.initial_chunk_latency_millis).to.be.a('number').and.at.least(0);
    expect(chunks?.slowest_chunk_latency_millis).to.be.at.least(chunks?.initial_chunk_latency_millis ?? Infinity);
    expect(chunks?.sum_chunks_download_time_millis).to.be.at.least(chunks?.slowest_chunk_latency_millis ?? Infinity);
    expect(log?.sql_operation?.result_latency?.result_set_ready_latency_millis).to.be.a('number');
    expect(log?.sql_operation?.result_latency?.result_set_consumption_latency_millis).to.be.a('number');
    await session.close();
  });

  it("never watches the process's HTTP requests: the driver reports its CloudFetch downloads itself", async () => {
    const watched = () => diagnosticsChannel.hasSubscribers('http.client.request.start');
    const session = await openSession();
    await runQuery(session, '/* emulator: format=columns */ SELECT 1');
    const { operation } = await runQuery(session, '/* emulator: format=cloudfetch chunks=2 */ SELECT * FROM range(20)');
    expect(watched(), 'after CloudFetch downloads').to.equal(false);
    const [log] = await waitForStatementLogs(emulator, operation.id);
    expect(log?.sql_operation?.chunk_details?.total_chunks_iterated).to.equal(2);
    await session.close();
  });

  it('reports only the chunks downloaded when the app stops early', async () => {
    const session = await openSession();
    const operation = await session.executeStatement(
      '/* emulator: format=cloudfetch chunks=4 */ SELECT * FROM range(40)',
    );
    const first = await operation.fetchChunk({ maxRows: 5 });
    expect(first.length).to.be.above(0);
    await operation.close();
    const [log] = await waitForStatementLogs(emulator, operation.id);
    const chunks = log?.sql_operation?.chunk_details;
    expect(chunks?.total_chunks_present).to.equal(4);
    expect(chunks?.total_chunks_iterated).to.be.at.least(1).and.below(4);
    await session.close();
  });

  it('exports invalid SQL as an error log named by its SQLSTATE, never the message', async () => {
    const session = await openSession();
    const error = await rejectionOf(runQuery(session, 'SELEC 1'));
    expect(error.message).to.contain('PARSE_SYNTAX_ERROR');
    const logs = await waitFor(() => errorLogTexts(emulator, session.id));
    expect(logs).to.have.length(1);
    expect(logs[0]).to.contain('"error_name":"42601"');
    expect(logs[0]).not.to.contain('PARSE_SYNTAX_ERROR');
    expect(logs[0]).not.to.contain('SELEC');
    await session.close();
  });

  it('exports a failing unknown table with 42P01 and no table name', async () => {
    const session = await openSession();
    await rejectionOf(runQuery(session, '/* emulator: direct=off */ SELECT * FROM main.default.secret_table'));
    const logs = await waitFor(() => errorLogTexts(emulator, session.id));
    expect(logs).to.have.length(1);
    expect(logs[0]).to.contain('"error_name":"42P01"');
    expect(logs[0]).not.to.contain('secret_table');
    await session.close();
  });

  it('exports every metadata call as a METADATA log with its LIST_* operation type', async () => {
    const session = await openSession();
    const calls: Array<[string, () => Promise<Operation>]> = [
      ['LIST_CATALOGS', () => session.getCatalogs()],
      ['LIST_SCHEMAS', () => session.getSchemas({ catalogName: 'main' })],
      ['LIST_TABLES', () => session.getTables({ catalogName: 'main', schemaName: 'default' })],
      ['LIST_TABLE_TYPES', () => session.getTableTypes()],
      ['LIST_COLUMNS', () => session.getColumns({ catalogName: 'main', schemaName: 'default', tableName: 'orders' })],
      [
        'LIST_FUNCTIONS',
        () => session.getFunctions({ catalogName: 'system', schemaName: 'builtin', functionName: 'upp%' }),
      ],
      ['LIST_TYPE_INFO', () => session.getTypeInfo()],
      [
        'LIST_PRIMARY_KEYS',
        () => session.getPrimaryKeys({ catalogName: 'main', schemaName: 'default', tableName: 'orders' }),
      ],
      [
        'LIST_CROSS_REFERENCES',
        () =>
          session.getCrossReference({
            parentCatalogName: 'main',
            parentSchemaName: 'default',
            parentTableName: 'customers',
            foreignCatalogName: 'main',
            foreignSchemaName: 'default',
            foreignTableName: 'orders',
          }),
      ],
    ];
    const ids: Array<[string, string]> = [];
    for (const [type, call] of calls) {
      const operation = await call();
      await operation.fetchAll();
      await operation.close();
      ids.push([type, operation.id]);
    }
    await waitFor(() => ids.every(([, id]) => statementLogs(emulator, id).length > 0));
    for (const [type, id] of ids) {
      const logs = statementLogs(emulator, id);
      expect(logs, type).to.have.length(1);
      expect(logs[0].sql_operation?.statement_type, type).to.equal('METADATA');
      expect(logs[0].sql_operation?.operation_detail?.operation_type, type).to.equal(type);
      expect(logs[0].session_id, type).to.equal(session.id);
    }
    await session.close();
  });

  it('reports a statement never closed when its session closes', async () => {
    const session = await openSession();
    const operation = await session.executeStatement('SELECT * FROM range(3)');
    expect(await operation.fetchAll()).to.have.length(3);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(statementLogs(emulator, operation.id), 'not before the session closes').to.deep.equal([]);
    await session.close();
    const logs = await waitForStatementLogs(emulator, operation.id);
    expect(logs).to.have.length(1);
    expect(logs[0].session_id).to.equal(session.id);
  });

  it('reports a statement never closed (session never closed either) when the client closes', async () => {
    const session = await openSession();
    const operation = await session.executeStatement('SELECT * FROM range(3)');
    expect(await operation.fetchAll()).to.have.length(3);
    await client?.close();
    client = undefined;
    const logs = statementLogs(emulator, operation.id);
    expect(logs, 'flushed by close()').to.have.length(1);
    expect(logs[0].session_id).to.equal(session.id);
  });

  it('uploads only logs that validate against the wire format, all from our exporter (none from the driver built-in telemetry)', () => {
    const requests = emulator.telemetry.requests();
    expect(requests.length).to.be.above(5);
    for (const request of requests) {
      expect(request.headers['user-agent']).to.equal(`NodejsDatabricksSqlConnector/${DRIVER_PACKAGE_VERSION}`);
    }
    for (const request of requests) {
      expect(validateUpload(request as unknown as Parameters<typeof validateUpload>[0])).to.deep.equal([]);
    }
  });
});
