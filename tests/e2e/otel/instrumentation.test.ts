import { expect } from 'chai';
import { DBSQLClient } from '@databricks/sql';
import type { ConnectionOptions, OpenSessionRequest } from '@databricks/sql/dist/contracts/IDBSQLClient';
import type IDBSQLLogger from '@databricks/sql/dist/contracts/IDBSQLLogger';
import type IDBSQLSession from '@databricks/sql/dist/contracts/IDBSQLSession';
import { context, trace } from '@opentelemetry/api';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import DatabricksSqlInstrumentation, {
  DatabricksSqlInstrumentationConfig,
} from '../../../lib/driver/DatabricksSqlInstrumentation';
import type { StatementResultInfo, StatementSpanInfo } from '../../../lib/telemetry/OpenTelemetryOutput';
import { Emulator, OAUTH_HOST, routeHostToEmulator, startEmulator } from '../../../lib/emulator';
import {
  OtelSdk,
  SPAN_KIND_CLIENT,
  STATUS_ERROR,
  STATUS_UNSET,
  SpanSummary,
  histogram,
  startOtelSdk,
  statementSpans,
} from '../../support/otelSdk';

/*
 * The instrumentation on driver 2.x in this process, with the real OpenTelemetry SDK: the
 * application uses the driver's own `DBSQLClient` (imported from `@databricks/sql`, never this
 * package's client) and registers `DatabricksSqlInstrumentation` as any other instrumentation.
 */

// eslint-disable-next-line @typescript-eslint/no-require-imports
const DRIVER_VERSION: string = require('@databricks/sql/package.json').version;
/** Our uploads' User-Agent: exactly this. The driver's built-in telemetry adds "(Node.js ...; OS ...)". */
const OUR_USER_AGENT = `NodejsDatabricksSqlConnector/${DRIVER_VERSION}`;
const WRAPPED_METHODS = ['connect', 'openSession', 'close', 'getTelemetryEmitter', 'getTelemetryAggregator'];

const quietLogger: IDBSQLLogger = { log: () => undefined };

type Operation = Awaited<ReturnType<IDBSQLSession['executeStatement']>>;

/** Rows of the statement, or its error's message; the operation is closed either way. */
async function run(session: IDBSQLSession, sql: string): Promise<{ rows?: unknown[]; error?: Error }> {
  let operation: Operation | undefined;
  try {
    operation = await session.executeStatement(sql);
    return { rows: await operation.fetchAll() };
  } catch (error) {
    return { error: error as Error };
  } finally {
    await operation?.close();
  }
}

async function waitFor<T>(check: () => T, timeoutMs = 3000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = check();
  while (!(Array.isArray(value) ? value.length > 0 : value) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    value = check();
  }
  return value;
}

/** Which of the driver client's methods are an instrumentation's wrappers. */
function wrappedMethods(): string[] {
  const prototype = DBSQLClient.prototype as unknown as Record<string, { __wrapped?: boolean } | undefined>;
  return WRAPPED_METHODS.filter((name) => prototype[name]?.__wrapped === true);
}

interface DriverLogShape {
  sql_statement_id?: string;
  system_configuration?: { driver_version?: string };
}

describe('e2e OTel: DatabricksSqlInstrumentation on the driver 2.x client, in process, with the real SDK', function () {
  this.timeout(20_000);

  let emulator: Emulator;
  let sdk: OtelSdk;
  let instrumentation: DatabricksSqlInstrumentation | undefined;
  const clients: { close(): Promise<unknown> }[] = [];
  const cleanups: (() => void)[] = [];

  before(async () => {
    emulator = await startEmulator();
  });

  beforeEach(() => {
    sdk = startOtelSdk();
    emulator.resetRequestCounts();
    emulator.telemetry.clear();
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close().catch(() => undefined)));
    instrumentation?.disable();
    instrumentation = undefined;
    cleanups
      .splice(0)
      .reverse()
      .forEach((cleanup) => cleanup());
    await sdk.shutdown();
    expect(wrappedMethods(), 'no wrapper left for the next test file').to.deep.equal([]);
  });

  after(async () => {
    await emulator.close();
  });

  /** The instrumentation, registered as an application registers one (global providers). */
  function instrument(config: DatabricksSqlInstrumentationConfig = {}): DatabricksSqlInstrumentation {
    instrumentation = new DatabricksSqlInstrumentation(config);
    registerInstrumentations({ instrumentations: [instrumentation] });
    return instrumentation;
  }

  /** The driver's own client, connected to the emulator (or to `host`, routed to it). */
  async function connect(options: Record<string, unknown> = {}): Promise<DBSQLClient> {
    const client = new DBSQLClient({ logger: quietLogger });
    clients.push(client);
    await client.connect({ ...emulator.connectOptions(), ...options } as ConnectionOptions);
    return client;
  }

  /** Connects under a host name that is not a loopback address (routed to the emulator), so the driver's built-in telemetry uploads too. */
  async function connectRouted(options: Record<string, unknown> = {}): Promise<DBSQLClient> {
    cleanups.push(routeHostToEmulator(emulator, OAUTH_HOST));
    return connect({ host: OAUTH_HOST, ...options });
  }

  function setEnv(name: string, value: string): void {
    const before = process.env[name];
    process.env[name] = value;
    cleanups.push(() => {
      if (before === undefined) {
        delete process.env[name];
      } else {
        process.env[name] = before;
      }
    });
  }

  /** Opens a session, runs `statements`, closes the session and the client. */
  async function workload(
    client: DBSQLClient,
    statements: string[],
    request: OpenSessionRequest = { initialCatalog: 'main', initialSchema: 'default' },
  ): Promise<{ sessionId: string; results: { rows?: unknown[]; error?: Error }[] }> {
    const session = await client.openSession(request);
    const results = [];
    for (const sql of statements) {
      results.push(await run(session, sql));
    }
    const sessionId = session.id;
    await session.close();
    await client.close();
    return { sessionId, results };
  }

  const server = () => ({ 'server.address': emulator.host, 'server.port': emulator.port });

  const byName = (spans: SpanSummary[], name: string) => spans.filter((span) => span.name === name);

  describe('spans and metrics', () => {
    it('reports connect, session open and each statement as CLIENT spans under the database conventions', async () => {
      instrument();
      const client = await connect();
      const { sessionId } = await workload(client, ['SELECT 1', 'SELECT * FROM range(7)']);

      const spans = sdk.spans();
      expect(spans.map((span) => span.name)).to.deep.equal([
        'CONNECT',
        'CREATE_SESSION',
        'EXECUTE_STATEMENT',
        'EXECUTE_STATEMENT',
      ]);
      for (const span of spans) {
        expect(span.kind, span.name).to.equal(SPAN_KIND_CLIENT);
        expect(span.status, span.name).to.equal(STATUS_UNSET);
        expect(span.scope, span.name).to.equal('dbsql-telemetry');
        expect(span.parentSpanId, span.name).to.equal(undefined);
      }
      expect(spans[0].attributes).to.deep.equal({
        'db.system.name': 'databricks',
        'db.operation.name': 'CONNECT',
        ...server(),
      });
      expect(spans[1].attributes).to.deep.equal({
        'db.system.name': 'databricks',
        'db.operation.name': 'CREATE_SESSION',
        ...server(),
      });
      const statements = statementSpans(spans);
      expect(statements.map((span) => span.attributes['db.response.returned_rows'])).to.deep.equal([1, 7]);
      for (const span of statements) {
        expect(span.attributes).to.include({
          'db.system.name': 'databricks',
          'db.operation.name': 'EXECUTE_STATEMENT',
          'db.namespace': 'main.default',
          'databricks.session.id': sessionId,
          ...server(),
        });
        expect(span.attributes['databricks.statement.id']).to.match(/^[0-9a-f-]{36}$/);
        expect(span.attributes, 'no text unless asked').not.to.have.property('db.query.text');
        expect(span.attributes).not.to.have.property('error.type');
        expect(span.events).to.deep.equal([]);
      }
      expect(new Set(statements.map((span) => span.attributes['databricks.statement.id'])).size).to.equal(2);

      const metrics = await sdk.metrics();
      const expectedAttributes = {
        'db.system.name': 'databricks',
        'db.operation.name': 'EXECUTE_STATEMENT',
        'db.namespace': 'main.default',
        ...server(),
      };
      const duration = histogram(metrics, 'db.client.operation.duration');
      expect(duration?.unit).to.equal('s');
      expect(duration?.scope).to.equal('dbsql-telemetry');
      expect(duration?.points).to.have.length(1);
      expect(duration?.points[0].attributes).to.deep.equal(expectedAttributes);
      expect(duration?.points[0].count).to.equal(2);
      // Seconds: a statement against the local emulator takes well under one.
      expect(duration?.points[0].sum).to.be.above(0).and.below(5);
      const rows = histogram(metrics, 'db.client.response.returned_rows');
      expect(rows?.unit).to.equal('{row}');
      expect(rows?.points).to.have.length(1);
      expect(rows?.points[0].attributes).to.deep.equal(expectedAttributes);
      expect(rows?.points[0]).to.include({ count: 2, sum: 8 });
    });

    it('names db.namespace after the session catalog (and schema), and leaves it out without one', async () => {
      instrument();
      const client = await connect();
      for (const request of [{ initialCatalog: 'samples' }, {}, { initialCatalog: 'main', initialSchema: 'sales' }]) {
        const session = await client.openSession(request);
        await run(session, 'SELECT 1');
        await session.close();
      }
      await client.close();
      const namespaces = statementSpans(sdk.spans()).map((span) => span.attributes['db.namespace']);
      expect(namespaces).to.deep.equal(['samples', undefined, 'main.sales']);
    });

    it('a failing statement: error.type and db.response.status_code from its SQLSTATE, an ERROR status, and error.type on the duration', async () => {
      instrument();
      const client = await connect();
      const { results } = await workload(client, ['SELECT * FROM missing_table', 'SELECT 2']);
      expect(results[0].error?.message).to.match(/TABLE_OR_VIEW_NOT_FOUND/);

      const [failed, succeeded] = statementSpans(sdk.spans());
      expect(failed.status).to.equal(STATUS_ERROR);
      expect(failed.attributes).to.include({
        'error.type': '42P01',
        'db.response.status_code': '42P01',
        'db.operation.name': 'EXECUTE_STATEMENT',
      });
      // Never the message: only the SQLSTATE.
      expect(JSON.stringify(failed)).not.to.include('missing_table');
      expect(succeeded.status).to.equal(STATUS_UNSET);
      expect(succeeded.attributes).not.to.have.property('error.type');

      const duration = histogram(await sdk.metrics(), 'db.client.operation.duration');
      const failedPoints = duration?.points.filter((point) => point.attributes['error.type'] === '42P01') ?? [];
      expect(failedPoints).to.have.length(1);
      expect(failedPoints[0].count).to.equal(1);
      expect(failedPoints[0].attributes['db.response.status_code']).to.equal('42P01');
      const okPoints = duration?.points.filter((point) => point.attributes['error.type'] === undefined) ?? [];
      expect(okPoints.map((point) => point.count)).to.deep.equal([1]);
    });

    it('CloudFetch downloads are span events of their statement', async () => {
      instrument();
      const client = await connect();
      const { results } = await workload(client, [
        '/* emulator: format=cloudfetch chunks=3 */ SELECT * FROM range(3000)',
      ]);
      expect(results[0].rows).to.have.length(3000);
      expect(emulator.requestCounts().cloudFetch).to.equal(3);

      const [span] = statementSpans(sdk.spans());
      expect(span.attributes).to.include({
        'db.response.returned_rows': 3000,
        'databricks.execution_result': 'EXTERNAL_LINKS',
        'databricks.chunks.present': 3,
        'databricks.chunks.iterated': 3,
      });
      expect(span.events.map((event) => event.name)).to.deep.equal(Array(3).fill('databricks.cloudfetch.chunk'));
      expect(span.events.map((event) => event.attributes['databricks.chunk.index']).sort()).to.deep.equal([0, 1, 2]);
      for (const event of span.events) {
        expect(event.attributes['databricks.chunk.bytes']).to.be.a('number').above(0);
        expect(event.attributes['databricks.chunk.download_ms']).to.be.a('number').at.least(0);
        expect(event.attributes['databricks.chunk.compressed']).to.be.a('boolean');
      }
      const rows = histogram(await sdk.metrics(), 'db.client.response.returned_rows');
      expect(rows?.points.map((point) => point.sum)).to.deep.equal([3000]);
    });

    it('a polled statement (direct results off) and metadata calls (LIST_*)', async () => {
      instrument();
      const client = await connect();
      const session = await client.openSession();
      const { rows } = await run(session, '/* emulator: direct=off */ SELECT * FROM range(5)');
      expect(rows).to.have.length(5);
      expect(emulator.requestCounts().thriftMethods.GetOperationStatus).to.be.at.least(1);
      for (const operation of [await session.getCatalogs(), await session.getSchemas({ catalogName: 'main' })]) {
        await operation.fetchAll();
        await operation.close();
      }
      await session.close();
      await client.close();

      const spans = statementSpans(sdk.spans());
      expect(spans.map((span) => span.name)).to.deep.equal(['EXECUTE_STATEMENT', 'LIST_CATALOGS', 'LIST_SCHEMAS']);
      expect(spans[0].attributes['databricks.poll.count']).to.be.at.least(1);
      expect(spans[0].attributes['db.response.returned_rows']).to.equal(5);
      expect(spans[1].attributes).to.include({ 'db.operation.name': 'LIST_CATALOGS', 'db.response.returned_rows': 3 });
      expect(spans[2].attributes).to.include({ 'db.operation.name': 'LIST_SCHEMAS', 'db.response.returned_rows': 2 });
      const duration = histogram(await sdk.metrics(), 'db.client.operation.duration');
      const counts = Object.fromEntries(
        (duration?.points ?? []).map((point) => [point.attributes['db.operation.name'], point.count]),
      );
      expect(counts).to.deep.equal({ EXECUTE_STATEMENT: 1, LIST_CATALOGS: 1, LIST_SCHEMAS: 1 });
    });
  });

  describe('uploads to Databricks', () => {
    const requestsWithUserAgent = (test: (userAgent: string) => boolean) =>
      emulator.telemetry.requests().filter((request) => test(String(request.headers['user-agent'])));

    const logsOf = (statementId: unknown) =>
      emulator.telemetry
        .logs()
        .map((log) => (log as { entry?: { sql_driver_log?: DriverLogShape } }).entry?.sql_driver_log ?? {})
        .filter((log) => log.sql_statement_id === statementId);

    it('are off by default: with the built-in telemetry off as configured, not one feature-flag or telemetry request', async () => {
      instrument();
      const client = await connectRouted({ telemetryEnabled: false });
      expect(client.getConfig().telemetryEnabled, "the driver's own setting").to.equal(false);
      await workload(client, ['SELECT 1', 'SELECT * FROM range(3)']);
      expect(statementSpans(sdk.spans())).to.have.length(2);
      const counts = emulator.requestCounts();
      expect(counts.featureFlags).to.equal(0);
      expect(counts.telemetryExt + counts.telemetryUnauth).to.equal(0);
    });

    it("leave the driver's built-in telemetry on as configured: only its own uploads, which still see every statement", async () => {
      instrument();
      const client = await connectRouted({ telemetryFlushIntervalMs: 50 });
      expect(client.getConfig().telemetryEnabled, "the driver's default").to.equal(true);
      await workload(client, ['SELECT 1', 'SELECT * FROM range(3)']);
      const spans = statementSpans(sdk.spans());
      expect(spans).to.have.length(2);
      for (const span of spans) {
        const logs = await waitFor(() => logsOf(span.attributes['databricks.statement.id']));
        expect(logs, 'the built-in got the statement through the tee').to.have.length.at.least(1);
      }
      expect(requestsWithUserAgent((userAgent) => userAgent.startsWith(`${OUR_USER_AGENT} (`))).not.to.deep.equal([]);
      expect(
        requestsWithUserAgent((userAgent) => userAgent === OUR_USER_AGENT),
        'none of ours',
      ).to.deep.equal([]);
    });

    it('with DATABRICKS_TELEMETRY_ENABLED=true, ours replace the built-in: each statement reported once', async () => {
      setEnv('DATABRICKS_TELEMETRY_ENABLED', 'true');
      instrument();
      const client = await connectRouted();
      expect(client.getConfig().telemetryEnabled, 'the built-in is turned off for the connection').to.equal(false);
      await workload(client, ['SELECT 1', 'SELECT * FROM range(3)', 'SELECT * FROM missing_table']);
      const spans = statementSpans(sdk.spans());
      expect(spans).to.have.length(3);
      for (const span of spans) {
        const logs = await waitFor(() => logsOf(span.attributes['databricks.statement.id']));
        expect(logs, `statement ${span.attributes['databricks.statement.id']}`).to.have.length(1);
      }
      const requests = emulator.telemetry.requests();
      expect(requests).not.to.deep.equal([]);
      expect(requests.map((request) => request.headers['user-agent'])).to.satisfy((agents: string[]) =>
        agents.every((agent) => agent === OUR_USER_AGENT),
      );
      const connectionLogs = emulator.telemetry
        .logs()
        .map((log) => (log as { entry?: { sql_driver_log?: DriverLogShape } }).entry?.sql_driver_log ?? {})
        .filter((log) => log.system_configuration !== undefined);
      expect(connectionLogs).to.have.length(1);
      expect(connectionLogs[0].system_configuration?.driver_version).to.equal(DRIVER_VERSION);
    });
  });

  describe('disable() and enable()', () => {
    it('disable() unwraps the client: a new connection reports nothing; enable() brings it back', async () => {
      const instance = instrument();
      expect(wrappedMethods()).to.deep.equal(WRAPPED_METHODS);

      instance.disable();
      expect(wrappedMethods()).to.deep.equal([]);
      for (const name of WRAPPED_METHODS) {
        const method = (DBSQLClient.prototype as unknown as Record<string, { __wrapped?: unknown }>)[name];
        expect(method.__wrapped, name).to.equal(undefined);
      }
      await workload(await connect(), ['SELECT 1']);
      expect(sdk.spans()).to.deep.equal([]);
      expect(await sdk.metrics()).to.deep.equal([]);

      instance.enable();
      expect(wrappedMethods()).to.deep.equal(WRAPPED_METHODS);
      await workload(await connect(), ['SELECT 1']);
      expect(sdk.spans().map((span) => span.name)).to.deep.equal(['CONNECT', 'CREATE_SESSION', 'EXECUTE_STATEMENT']);
      const duration = histogram(await sdk.metrics(), 'db.client.operation.duration');
      expect(duration?.points.map((point) => point.count)).to.deep.equal([1]);
    });

    it('disable() ends the spans of statements still open on connected clients', async () => {
      const instance = instrument();
      const client = await connect();
      const session = await client.openSession();
      const operation = await session.executeStatement('SELECT * FROM range(3)');
      expect(statementSpans(sdk.spans())).to.deep.equal([]);

      instance.disable();
      const ended = await waitFor(() => statementSpans(sdk.spans()));
      expect(ended.map((span) => span.name)).to.deep.equal(['EXECUTE_STATEMENT']);
      expect(ended[0].attributes['databricks.statement.id']).to.equal(operation.id);
      // The application's work goes on unobserved.
      expect(await operation.fetchAll()).to.have.length(3);
      await operation.close();
      await session.close();
      await client.close();
      expect(statementSpans(sdk.spans())).to.have.length(1);
    });
  });

  describe('context', () => {
    it("parents spans on the application's span active when it made the call", async () => {
      instrument();
      const parent = trace.getTracer('app').startSpan('handle-request');
      const { client, session } = await context.with(trace.setSpan(context.active(), parent), async () => {
        const connected = await connect();
        const opened = await connected.openSession();
        await run(opened, 'SELECT 1');
        return { client: connected, session: opened };
      });
      await run(session, 'SELECT 2');
      parent.end();
      await session.close();
      await client.close();

      const spans = sdk.spans();
      const { spanId, traceId } = parent.spanContext();
      const [connectSpan, sessionSpan, inside, outside] = spans.filter((span) => span.name !== 'handle-request');
      expect([connectSpan.name, sessionSpan.name, inside.name, outside.name]).to.deep.equal([
        'CONNECT',
        'CREATE_SESSION',
        'EXECUTE_STATEMENT',
        'EXECUTE_STATEMENT',
      ]);
      for (const child of [connectSpan, sessionSpan, inside]) {
        expect(child.parentSpanId, child.name).to.equal(spanId);
        expect(child.traceId, child.name).to.equal(traceId);
      }
      expect(outside.parentSpanId, 'sent outside the request').to.equal(undefined);
      expect(outside.traceId).not.to.equal(traceId);
    });
  });

  describe('configuration', () => {
    it('requestHook and responseHook enrich statement spans', async () => {
      const requests: StatementSpanInfo[] = [];
      const responses: StatementResultInfo[] = [];
      instrument({
        requestHook: (span, info) => {
          requests.push(info);
          span.setAttribute('app.request.operation', info.operation ?? 'none');
        },
        responseHook: (span, info) => {
          responses.push(info);
          span.setAttribute('app.response.rows', info.rowsReturned ?? -1);
          if (info.errorType !== undefined) {
            span.setAttribute('app.response.error', info.errorType);
          }
        },
      });
      const client = await connect();
      const { sessionId } = await workload(client, ['SELECT * FROM range(4)', 'SELECT * FROM missing_table']);

      const [ok, failed] = statementSpans(sdk.spans());
      expect(ok.attributes).to.include({ 'app.request.operation': 'EXECUTE_STATEMENT', 'app.response.rows': 4 });
      expect(ok.attributes).not.to.have.property('app.response.error');
      expect(failed.attributes).to.include({
        'app.request.operation': 'EXECUTE_STATEMENT',
        'app.response.error': '42P01',
      });
      expect(requests).to.deep.equal([
        { statementId: ok.attributes['databricks.statement.id'], sessionId, operation: 'EXECUTE_STATEMENT' },
        { statementId: failed.attributes['databricks.statement.id'], sessionId, operation: 'EXECUTE_STATEMENT' },
      ]);
      expect(responses.map((info) => info.statementId)).to.deep.equal([
        ok.attributes['databricks.statement.id'],
        failed.attributes['databricks.statement.id'],
      ]);
      expect(responses[0]).to.include({ rowsReturned: 4, errorType: undefined });
      expect(responses[1].errorType).to.equal('42P01');
    });

    it('queryText: true puts the statement text on its span without literals or comments (none by default)', async () => {
      instrument({ queryText: true });
      const client = await connect();
      await workload(client, [
        'SELECT * FROM range(12)',
        '/* emulator: direct=off */ SELECT 42',
        "SELECT * FROM missing_table WHERE name = 'a secret' AND id = 7",
      ]);
      const spans = statementSpans(sdk.spans());
      expect(spans.map((span) => span.attributes['db.query.text'])).to.deep.equal([
        'SELECT * FROM range(?)',
        'SELECT ?',
        'SELECT * FROM missing_table WHERE name = ? AND id = ?',
      ]);
      expect(JSON.stringify(spans)).not.to.include('secret');
      // Never on the metrics.
      const metrics = await sdk.metrics();
      for (const metric of metrics) {
        for (const point of metric.points) {
          expect(point.attributes).not.to.have.property('db.query.text');
        }
      }
    });
  });

  describe("this package's own DBSQLClient beside the instrumentation", () => {
    it('is not instrumented twice: one span per statement with telemetryOpenTelemetry, none without', async () => {
      instrument();
      // Loaded here only: the tests above use nothing of this package's client.
      const { default: OurClient } = await import('../../../lib/driver/DBSQLClient');

      const ours = new OurClient({ logger: quietLogger });
      clients.push(ours);
      await ours.connect({
        ...emulator.connectOptions(),
        telemetryEnabled: false,
        telemetryOpenTelemetry: true,
      });
      await workload(ours as unknown as DBSQLClient, ['SELECT 1', 'SELECT * FROM range(3)']);
      const spans = sdk.spans();
      expect(byName(spans, 'CONNECT')).to.have.length(1);
      expect(byName(spans, 'CREATE_SESSION')).to.have.length(1);
      const statements = statementSpans(spans);
      expect(statements).to.have.length(2);
      expect(new Set(statements.map((span) => span.attributes['databricks.statement.id'])).size).to.equal(2);
      const duration = histogram(await sdk.metrics(), 'db.client.operation.duration');
      expect(duration?.points.map((point) => point.count)).to.deep.equal([2]);

      // Without its own OpenTelemetry switch, the instrumentation does not report it either.
      const quiet = new OurClient({ logger: quietLogger });
      clients.push(quiet);
      await quiet.connect({ ...emulator.connectOptions(), telemetryEnabled: false });
      await workload(quiet as unknown as DBSQLClient, ['SELECT 1']);
      expect(sdk.spans()).to.have.length(spans.length);
    });
  });
});
