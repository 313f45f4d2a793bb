import { expect } from 'chai';
import * as api from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import {
  AggregationTemporality,
  DataPointType,
  HistogramMetricData,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { LogLevel } from '@databricks/sql/dist/contracts/IDBSQLLogger';
import OpenTelemetryBridge, { DatabaseTarget } from '../../../lib/telemetry/OpenTelemetryBridge';
import OpenTelemetryOutput, {
  DURATION_METRIC,
  INSTRUMENTATION_SCOPE,
  OpenTelemetryOutputOptions,
  RETURNED_ROWS_METRIC,
  StatementResultInfo,
  StatementSpanInfo,
} from '../../../lib/telemetry/OpenTelemetryOutput';
import TelemetryEventEmitter from '../../../lib/telemetry/TelemetryEventEmitter';
import { TelemetryConfiguration, TelemetryEventType } from '../../../lib/telemetry/types';
import ClientContextStub from '../.stubs/ClientContextStub';

const SESSION = '01f0a1b2-c3d4-1e5f-8a9b-0c1d2e3f4a5b';
const OTHER_SESSION = '01f0a1b2-c3d4-1e5f-8a9b-0c1d2e3f4a5c';
const STATEMENT = '01f0a1b2-c3d4-1e5f-8a9b-ffffffffffff';
const OTHER = '01f0a1b2-c3d4-1e5f-8a9b-eeeeeeeeeeee';
const T0 = 1760000000000;
const TARGET: DatabaseTarget = { address: 'adb-1234.5.azuredatabricks.net', port: 443 };

/** What every statement span and measurement carries for TARGET. */
const BASE = {
  'db.system.name': 'databricks',
  'server.address': TARGET.address,
  'server.port': TARGET.port,
};

function ms([seconds, nanos]: api.HrTime): number {
  return seconds * 1000 + Math.round(nanos / 1e6);
}

describe('OpenTelemetryBridge', () => {
  let spans: InMemorySpanExporter;
  let metricExporter: InMemoryMetricExporter;
  let reader: PeriodicExportingMetricReader;
  let context: ClientContextStub;
  let emitter: TelemetryEventEmitter;

  function output(options: OpenTelemetryOutputOptions = {}): OpenTelemetryOutput {
    return new OpenTelemetryOutput(
      api,
      api.trace.getTracer(INSTRUMENTATION_SCOPE),
      () => api.metrics.getMeterProvider(),
      options,
    );
  }

  function bridge(
    options: OpenTelemetryOutputOptions = {},
    config: Partial<TelemetryConfiguration> = {},
    target: DatabaseTarget = TARGET,
    shared: OpenTelemetryOutput = output(options),
  ): OpenTelemetryBridge {
    context.config = { ...context.config, ...config };
    const created = new OpenTelemetryBridge(context, shared, target);
    created.subscribe(emitter);
    return created;
  }

  function start(
    statementId = STATEMENT,
    operationType: any = 'EXECUTE_STATEMENT',
    timestamp = T0,
    extra: Record<string, unknown> = {},
  ) {
    emitter.emitStatementStart({
      statementId,
      sessionId: SESSION,
      timestamp,
      statementType: operationType === 'EXECUTE_STATEMENT' ? 'QUERY' : 'METADATA',
      operationType,
      ...extra,
    });
  }

  function complete(statementId = STATEMENT, latencyMs = 1500, extra: Record<string, unknown> = {}) {
    emitter.emitStatementComplete({ statementId, sessionId: SESSION, timestamp: T0 + latencyMs, latencyMs, ...extra });
  }

  function finished(): ReadableSpan[] {
    return spans.getFinishedSpans();
  }

  async function histogram(name = DURATION_METRIC): Promise<HistogramMetricData | undefined> {
    await reader.forceFlush();
    const metric = metricExporter
      .getMetrics()
      .flatMap((resource) => resource.scopeMetrics)
      .flatMap((scope) => scope.metrics)
      .find((data) => data.descriptor.name === name);
    return metric as HistogramMetricData | undefined;
  }

  async function points(name = DURATION_METRIC) {
    const metric = await histogram(name);
    return (metric?.dataPoints ?? []).map((point) => ({
      attributes: point.attributes,
      sum: point.value.sum,
      count: point.value.count,
    }));
  }

  beforeEach(() => {
    spans = new InMemorySpanExporter();
    api.trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }));
    metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    reader = new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 60 * 60 * 1000 });
    api.metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
    context = new ClientContextStub({ openTelemetry: true });
    emitter = new TelemetryEventEmitter(context);
  });

  afterEach(async () => {
    await reader.shutdown();
    api.trace.disable();
    api.metrics.disable();
    expect(context.logger.aboveDebug(), 'log lines above debug').to.be.empty;
  });

  describe('span parents', () => {
    it('a statement span is a child of the context the application had when it sent the statement', () => {
      bridge();
      const tracer = api.trace.getTracer('app');
      const request = tracer.startSpan('GET /report');
      const active = tracer.startSpan('unrelated, active at delivery');
      api.context.with(api.trace.setSpan(api.ROOT_CONTEXT, active), () => {
        start(STATEMENT, 'EXECUTE_STATEMENT', T0, {
          parentContext: api.trace.setSpan(api.ROOT_CONTEXT, request),
        });
        start(OTHER, 'EXECUTE_STATEMENT', T0);
      });
      complete(STATEMENT);
      complete(OTHER);
      const byId = new Map(finished().map((span) => [span.attributes['databricks.statement.id'], span]));
      const child = byId.get(STATEMENT)!;
      expect(child.parentSpanContext?.spanId).to.equal(request.spanContext().spanId);
      expect(child.spanContext().traceId).to.equal(request.spanContext().traceId);
      // Without a captured context: a root span, never whatever was active at delivery.
      expect(byId.get(OTHER)!.parentSpanContext).to.equal(undefined);
    });
  });

  describe('spans', () => {
    it('one CLIENT span per statement, named by its operation, from its start to its close, with semconv and allow-listed attributes', () => {
      bridge();
      start();
      emitter.emitCloudFetchChunk({
        statementId: STATEMENT,
        chunkIndex: 0,
        latencyMs: 30,
        bytes: 100,
        compressed: true,
      });
      emitter.emitCloudFetchChunk({
        statementId: STATEMENT,
        chunkIndex: 1,
        latencyMs: 40,
        bytes: 100,
        compressed: true,
      });
      expect(finished()).to.be.empty;
      complete(STATEMENT, 1500, {
        executionResult: 'EXTERNAL_LINKS',
        isCompressed: true,
        chunksPresent: 2,
        pollCount: 3,
        retryCount: 1,
      });

      expect(finished()).to.have.length(1);
      const [span] = finished();
      expect(span.name).to.equal('EXECUTE_STATEMENT');
      expect(span.kind).to.equal(api.SpanKind.CLIENT);
      expect(span.instrumentationScope.name).to.equal('dbsql-telemetry');
      expect(ms(span.startTime)).to.equal(T0);
      expect(ms(span.endTime)).to.equal(T0 + 1500);
      expect(span.status.code).to.equal(api.SpanStatusCode.UNSET);
      expect(span.attributes).to.deep.equal({
        ...BASE,
        'db.operation.name': 'EXECUTE_STATEMENT',
        'databricks.statement.id': STATEMENT,
        'databricks.session.id': SESSION,
        'databricks.statement.type': 'QUERY',
        'databricks.execution_result': 'EXTERNAL_LINKS',
        'databricks.result.compressed': true,
        'databricks.chunks.present': 2,
        'databricks.chunks.iterated': 2,
        'databricks.poll.count': 3,
        'databricks.retry.count': 1,
      });
      expect(span.attributes).not.to.have.property('db.system');
    });

    it('names metadata operations by their operation type and leaves out what is unknown', () => {
      bridge();
      start(STATEMENT, 'LIST_CATALOGS');
      complete(STATEMENT, 20);
      start(OTHER, 'LIST_TABLES');
      complete(OTHER, 20);
      const [catalogs, tables] = finished();
      expect(catalogs.name).to.equal('LIST_CATALOGS');
      expect(catalogs.attributes).to.deep.equal({
        ...BASE,
        'db.operation.name': 'LIST_CATALOGS',
        'databricks.statement.id': STATEMENT,
        'databricks.session.id': SESSION,
        'databricks.statement.type': 'METADATA',
      });
      expect(tables.name).to.equal('LIST_TABLES');
      expect(tables.attributes['db.operation.name']).to.equal('LIST_TABLES');
    });

    it('never carries text: a malformed operation type, ids or result format are left out, the name falls back to databricks', () => {
      bridge();
      emitter.emitStatementStart({
        statementId: STATEMENT,
        sessionId: 'SELECT * FROM secrets',
        statementType: 'select * from t' as any,
        operationType: 'DROP TABLE x' as any,
        timestamp: T0,
        queryText: 'SELECT * FROM secrets',
      });
      complete(STATEMENT, 5, { executionResult: 'rows: alice, bob', pollCount: -1, chunksPresent: 1.5 });
      const [span] = finished();
      expect(span.name).to.equal('databricks');
      expect(span.attributes).to.deep.equal({
        ...BASE,
        'databricks.statement.id': STATEMENT,
      });
      expect(JSON.stringify(span.attributes)).not.to.match(/SELECT|select|DROP|alice|secrets/);
      expect(Object.keys(span.attributes)).not.to.include('db.query.text');
    });

    it('a statement id that is not a GUID gets no span', () => {
      bridge();
      start('SELECT 1');
      complete('SELECT 1');
      expect(finished()).to.be.empty;
    });

    it('a terminal error: status ERROR, error.type, and db.response.status_code for a SQLSTATE', () => {
      bridge();
      start();
      emitter.emitError({ statementId: STATEMENT, errorName: 'OperationTimedOut', isTerminal: false });
      emitter.emitError({ statementId: STATEMENT, errorName: '42P01', isTerminal: true });
      emitter.emitError({ statementId: STATEMENT, errorName: 'HiveSQLException', isTerminal: true });
      complete();
      const [span] = finished();
      expect(span.status.code).to.equal(api.SpanStatusCode.ERROR);
      expect(span.status.message).to.equal(undefined);
      expect(span.attributes).to.include({ 'error.type': '42P01', 'db.response.status_code': '42P01' });
    });

    it('a retryable error alone leaves the span without error', () => {
      bridge();
      start();
      emitter.emitError({ statementId: STATEMENT, errorName: 'OperationTimedOut', isTerminal: false });
      complete();
      const [span] = finished();
      expect(span.status.code).to.equal(api.SpanStatusCode.UNSET);
      expect(span.attributes).not.to.have.property('error.type');
    });

    it('an error class name is error.type only; an unsafe name becomes UnknownError', () => {
      bridge();
      start(STATEMENT);
      start(OTHER);
      emitter.emitError({ statementId: STATEMENT, errorName: 'OperationStateError', isTerminal: true });
      emitter.emitError({ statementId: OTHER, errorName: 'table main.secret not found', isTerminal: true });
      complete(STATEMENT);
      complete(OTHER);
      const [first, second] = finished();
      expect(first.attributes['error.type']).to.equal('OperationStateError');
      expect(first.attributes).not.to.have.property('db.response.status_code');
      expect(second.attributes['error.type']).to.equal('UnknownError');
      expect(second.status.code).to.equal(api.SpanStatusCode.ERROR);
      expect(JSON.stringify(second.attributes)).not.to.include('secret');
    });

    it('ignores errors without a statement, events of untracked statements, and duplicate starts', () => {
      bridge();
      emitter.emitError({ errorName: 'AuthenticationError', isTerminal: true, unauthenticated: true });
      emitter.emitCloudFetchChunk({ statementId: OTHER, chunkIndex: 0, latencyMs: 1, bytes: 1, compressed: false });
      complete(OTHER);
      start(STATEMENT, 'EXECUTE_STATEMENT', T0);
      start(STATEMENT, 'LIST_TABLES', T0 + 10);
      complete(STATEMENT);
      complete(STATEMENT);
      expect(finished().map((span) => span.name)).to.deep.equal(['EXECUTE_STATEMENT']);
      expect(finished()[0].events).to.be.empty;
    });

    it('is bounded by maxPendingStatements: one debug line, new statements untraced until room frees', () => {
      bridge({}, { maxPendingStatements: 1 });
      start(STATEMENT);
      start(OTHER);
      start(OTHER);
      complete(OTHER);
      expect(context.logger.lines.filter((line) => /too many open statements/.test(line.message))).to.have.length(1);
      complete(STATEMENT);
      start(OTHER);
      complete(OTHER);
      expect(finished()).to.have.length(2);
    });
  });

  describe('server.address and server.port', () => {
    it('come from the target of each connection sharing one output', () => {
      const shared = output();
      bridge({}, {}, TARGET, shared);
      const secondEmitter = new TelemetryEventEmitter(context);
      new OpenTelemetryBridge(context, shared, { address: 'dbc-abc.cloud.databricks.com', port: 8443 }).subscribe(
        secondEmitter,
      );
      start(STATEMENT);
      complete(STATEMENT);
      secondEmitter.emitStatementStart({
        statementId: OTHER,
        sessionId: OTHER_SESSION,
        timestamp: T0,
        statementType: 'QUERY',
        operationType: 'EXECUTE_STATEMENT',
      });
      secondEmitter.emitStatementComplete({ statementId: OTHER, sessionId: OTHER_SESSION, latencyMs: 10 });

      const [first, second] = finished();
      expect(first.attributes).to.include({ 'server.address': TARGET.address, 'server.port': 443 });
      expect(second.attributes).to.include({ 'server.address': 'dbc-abc.cloud.databricks.com', 'server.port': 8443 });
    });

    it('are on the measurements of each connection', async () => {
      const shared = output();
      bridge({}, {}, TARGET, shared);
      const secondEmitter = new TelemetryEventEmitter(context);
      new OpenTelemetryBridge(context, shared, { address: 'dbc-abc.cloud.databricks.com', port: 8443 }).subscribe(
        secondEmitter,
      );
      start(STATEMENT);
      complete(STATEMENT, 100);
      secondEmitter.emitStatementStart({
        statementId: OTHER,
        sessionId: OTHER_SESSION,
        timestamp: T0,
        statementType: 'QUERY',
        operationType: 'EXECUTE_STATEMENT',
      });
      secondEmitter.emitStatementComplete({ statementId: OTHER, sessionId: OTHER_SESSION, latencyMs: 200 });
      expect(
        (await points()).map((point) => [
          point.attributes['server.address'],
          point.attributes['server.port'],
          point.sum,
        ]),
      ).to.deep.equal([
        [TARGET.address, 443, 0.1],
        ['dbc-abc.cloud.databricks.com', 8443, 0.2],
      ]);
    });
  });

  describe('db.namespace', () => {
    it('is the catalog, or catalog.schema, of the session the statement runs in, until the session closes', () => {
      const created = bridge();
      created.sessionOpened(SESSION, 'main', 'sales');
      start(STATEMENT);
      complete(STATEMENT);
      created.sessionClosed(SESSION);
      start(OTHER);
      complete(OTHER);
      created.sessionOpened(SESSION, 'hive_metastore', undefined);
      start(STATEMENT, 'LIST_SCHEMAS');
      complete(STATEMENT);

      const [named, closed, catalogOnly] = finished();
      expect(named.attributes['db.namespace']).to.equal('main.sales');
      expect(closed.attributes).not.to.have.property('db.namespace');
      expect(catalogOnly.attributes['db.namespace']).to.equal('hive_metastore');
    });

    it('is absent without a catalog or for another session, and never taken from non-strings', () => {
      const created = bridge();
      created.sessionOpened(OTHER_SESSION, 'main', 'sales');
      created.sessionOpened(SESSION, undefined, 'sales');
      start(STATEMENT);
      complete(STATEMENT);
      created.sessionOpened(SESSION, '', 'sales');
      start(STATEMENT);
      complete(STATEMENT);
      created.sessionOpened(SESSION, { toString: () => 'main' }, 'sales');
      start(STATEMENT);
      complete(STATEMENT);
      created.sessionOpened(SESSION, 'main', 42);
      start(STATEMENT);
      complete(STATEMENT);

      const namespaces = finished().map((span) => span.attributes['db.namespace']);
      expect(namespaces).to.deep.equal([undefined, undefined, undefined, 'main']);
    });

    it('holds at most maxPendingStatements sessions', () => {
      const created = bridge({}, { maxPendingStatements: 1 });
      created.sessionOpened(OTHER_SESSION, 'first', undefined);
      created.sessionOpened(SESSION, 'second', undefined);
      start(STATEMENT);
      complete(STATEMENT);
      created.sessionClosed(OTHER_SESSION);
      created.sessionOpened(SESSION, 'second', undefined);
      start(STATEMENT);
      complete(STATEMENT);
      expect(finished().map((span) => span.attributes['db.namespace'])).to.deep.equal([undefined, 'second']);
    });

    it('is on the measurements too', async () => {
      bridge().sessionOpened(SESSION, 'main', 'sales');
      start();
      complete(STATEMENT, 100, { rowsReturned: 3 });
      for (const name of [DURATION_METRIC, RETURNED_ROWS_METRIC]) {
        const [point] = await points(name);
        expect(point.attributes, name).to.include({ 'db.namespace': 'main.sales' });
      }
    });
  });

  describe('CloudFetch chunks', () => {
    it('are span events with their index, size, download time and compression, at the time of the download', () => {
      bridge();
      start();
      emitter.emitCloudFetchChunk({
        statementId: STATEMENT,
        chunkIndex: 0,
        latencyMs: 30,
        bytes: 4096,
        compressed: true,
        timestamp: T0 + 200,
      });
      emitter.emitCloudFetchChunk({
        statementId: STATEMENT,
        chunkIndex: 1,
        latencyMs: 45,
        bytes: 1024,
        compressed: false,
        timestamp: T0 + 260,
      });
      complete(STATEMENT, 1000, { chunksPresent: 2 });

      const [span] = finished();
      expect(
        span.events.map((event) => ({ name: event.name, attributes: event.attributes, time: ms(event.time) })),
      ).to.deep.equal([
        {
          name: 'databricks.cloudfetch.chunk',
          attributes: {
            'databricks.chunk.index': 0,
            'databricks.chunk.bytes': 4096,
            'databricks.chunk.download_ms': 30,
            'databricks.chunk.compressed': true,
          },
          time: T0 + 200,
        },
        {
          name: 'databricks.cloudfetch.chunk',
          attributes: {
            'databricks.chunk.index': 1,
            'databricks.chunk.bytes': 1024,
            'databricks.chunk.download_ms': 45,
            'databricks.chunk.compressed': false,
          },
          time: T0 + 260,
        },
      ]);
      expect(span.attributes).to.include({ 'databricks.chunks.present': 2, 'databricks.chunks.iterated': 2 });
    });

    it('leave out values that are not counts or booleans', () => {
      bridge();
      start();
      emitter.emitCloudFetchChunk({
        statementId: STATEMENT,
        chunkIndex: -1,
        latencyMs: 1.5,
        bytes: Number.NaN,
        compressed: 'yes' as any,
        timestamp: T0 + 10,
      });
      complete();
      const [span] = finished();
      expect(span.events).to.have.length(1);
      expect(span.events[0].name).to.equal('databricks.cloudfetch.chunk');
      expect(span.events[0].attributes).to.deep.equal({});
      expect(span.attributes['databricks.chunks.iterated']).to.equal(1);
    });

    it('a statement without chunks has no events and no chunks.iterated', () => {
      bridge();
      start();
      complete();
      const [span] = finished();
      expect(span.events).to.be.empty;
      expect(span.attributes).not.to.have.property('databricks.chunks.iterated');
    });
  });

  describe('db.client.operation.duration', () => {
    it('records seconds with the semconv attributes (no ids), error.type on failures', async () => {
      bridge();
      start(STATEMENT, 'EXECUTE_STATEMENT');
      complete(STATEMENT, 1500);
      start(OTHER, 'EXECUTE_STATEMENT');
      emitter.emitError({ statementId: OTHER, errorName: '42P01', isTerminal: true });
      complete(OTHER, 250);

      const metric = await histogram();
      expect(metric?.descriptor).to.include({ unit: 's' });
      expect(metric?.dataPointType).to.equal(DataPointType.HISTOGRAM);
      expect(await points()).to.deep.equal([
        {
          attributes: { ...BASE, 'db.operation.name': 'EXECUTE_STATEMENT' },
          sum: 1.5,
          count: 1,
        },
        {
          attributes: {
            ...BASE,
            'db.operation.name': 'EXECUTE_STATEMENT',
            'error.type': '42P01',
            'db.response.status_code': '42P01',
          },
          sum: 0.25,
          count: 1,
        },
      ]);
      expect(metric!.dataPoints[0].value.buckets.boundaries).to.deep.equal([
        0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10,
      ]);
    });

    it('never carries statement or session ids, statement type or query text', async () => {
      bridge({ queryText: true });
      start(STATEMENT, 'EXECUTE_STATEMENT', T0, { queryText: 'SELECT 1' });
      complete(STATEMENT, 10, { executionResult: 'INLINE_ARROW', pollCount: 1, rowsReturned: 1 });
      for (const name of [DURATION_METRIC, RETURNED_ROWS_METRIC]) {
        const [point] = await points(name);
        expect(Object.keys(point.attributes).sort(), name).to.deep.equal(
          ['db.operation.name', 'db.system.name', 'server.address', 'server.port'].sort(),
        );
      }
    });

    it('records nothing for a statement without a usable latency', async () => {
      bridge();
      start();
      complete(STATEMENT, -5);
      expect(finished()).to.have.length(1);
      expect(await points()).to.be.empty;
    });
  });

  describe('db.response.returned_rows and db.client.response.returned_rows', () => {
    it('puts the rows on the span and records them with the advised buckets', async () => {
      bridge();
      start(STATEMENT);
      complete(STATEMENT, 100, { rowsReturned: 1234 });
      start(OTHER);
      complete(OTHER, 100, { rowsReturned: 0 });

      const [first, second] = finished();
      expect(first.attributes['db.response.returned_rows']).to.equal(1234);
      expect(second.attributes['db.response.returned_rows']).to.equal(0);

      const metric = await histogram(RETURNED_ROWS_METRIC);
      expect(metric?.descriptor).to.include({ unit: '{row}' });
      expect(metric?.dataPointType).to.equal(DataPointType.HISTOGRAM);
      expect(await points(RETURNED_ROWS_METRIC)).to.deep.equal([
        { attributes: { ...BASE, 'db.operation.name': 'EXECUTE_STATEMENT' }, sum: 1234, count: 2 },
      ]);
      expect(metric!.dataPoints[0].value.buckets.boundaries).to.deep.equal([
        1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000,
      ]);
      expect(metric!.dataPoints[0].value.buckets.counts[0]).to.equal(1);
    });

    it('carries error.type with the rows of a failed statement', async () => {
      bridge();
      start();
      emitter.emitError({ statementId: STATEMENT, errorName: 'OperationStateError', isTerminal: true });
      complete(STATEMENT, 10, { rowsReturned: 7 });
      expect(await points(RETURNED_ROWS_METRIC)).to.deep.equal([
        {
          attributes: { ...BASE, 'db.operation.name': 'EXECUTE_STATEMENT', 'error.type': 'OperationStateError' },
          sum: 7,
          count: 1,
        },
      ]);
    });

    it('without a usable row count: no attribute and no measurement', async () => {
      bridge();
      for (const [index, rowsReturned] of [undefined, -1, 1.5, Number.NaN, '12'].entries()) {
        const id = `01f0a1b2-c3d4-1e5f-8a9b-00000000000${index}`;
        start(id);
        complete(id, 10, { rowsReturned });
      }
      expect(finished()).to.have.length(5);
      for (const span of finished()) {
        expect(span.attributes).not.to.have.property('db.response.returned_rows');
      }
      expect(await points(RETURNED_ROWS_METRIC)).to.be.empty;
      expect(await points(DURATION_METRIC)).to.have.length(1);
    });
  });

  describe('db.query.text', () => {
    const TEXT = "SELECT name FROM `users 2` WHERE email = 'alice@example.com' AND id = 42 -- find alice";

    it('is absent by default, even when the start event carries the text', () => {
      bridge();
      start(STATEMENT, 'EXECUTE_STATEMENT', T0, { queryText: TEXT });
      complete();
      const [span] = finished();
      expect(span.attributes).not.to.have.property('db.query.text');
      expect(JSON.stringify(span.attributes)).not.to.include('alice');
    });

    it('is absent with queryText: false', () => {
      bridge({ queryText: false });
      start(STATEMENT, 'EXECUTE_STATEMENT', T0, { queryText: TEXT });
      complete();
      expect(finished()[0].attributes).not.to.have.property('db.query.text');
    });

    it('is the sanitized text when the application opts in', () => {
      bridge({ queryText: true });
      start(STATEMENT, 'EXECUTE_STATEMENT', T0, { queryText: TEXT });
      complete();
      const [span] = finished();
      expect(span.attributes['db.query.text']).to.equal('SELECT name FROM `users 2` WHERE email = ? AND id = ?');
      expect(JSON.stringify(span.attributes)).not.to.match(/alice|42|find/);
    });

    it('is absent when opted in but the statement has no text', () => {
      bridge({ queryText: true });
      start(STATEMENT, 'LIST_TABLES');
      complete(STATEMENT);
      start(OTHER, 'EXECUTE_STATEMENT', T0, { queryText: 42 });
      complete(OTHER);
      for (const span of finished()) {
        expect(span.attributes).not.to.have.property('db.query.text');
      }
    });
  });

  describe('hooks', () => {
    it('requestHook gets the started span and the statement; responseHook gets the result before the span ends', () => {
      const requests: Array<{ span: api.Span; info: StatementSpanInfo; recording: boolean }> = [];
      const responses: Array<{ span: api.Span; info: StatementResultInfo; recording: boolean }> = [];
      bridge({
        requestHook: (span, info) => {
          requests.push({ span, info, recording: span.isRecording() });
          span.setAttribute('app.request', 'tagged');
        },
        responseHook: (span, info) => {
          responses.push({ span, info, recording: span.isRecording() });
          span.setAttribute('app.response', 'tagged');
        },
      });
      start(STATEMENT);
      expect(requests.map((call) => call.info)).to.deep.equal([
        { statementId: STATEMENT, sessionId: SESSION, operation: 'EXECUTE_STATEMENT' },
      ]);
      expect(responses).to.be.empty;
      complete(STATEMENT, 100, { rowsReturned: 12 });
      start(OTHER, 'LIST_TABLES');
      emitter.emitError({ statementId: OTHER, errorName: '42P01', isTerminal: true });
      complete(OTHER, 100);

      expect(requests.map((call) => call.info)).to.deep.equal([
        { statementId: STATEMENT, sessionId: SESSION, operation: 'EXECUTE_STATEMENT' },
        { statementId: OTHER, sessionId: SESSION, operation: 'LIST_TABLES' },
      ]);
      expect(responses.map((call) => call.info)).to.deep.equal([
        { statementId: STATEMENT, rowsReturned: 12, errorType: undefined },
        { statementId: OTHER, rowsReturned: undefined, errorType: '42P01' },
      ]);
      expect(requests.every((call) => call.recording)).to.equal(true);
      expect(responses.every((call) => call.recording)).to.equal(true);

      const [first, second] = finished();
      expect(requests[0].span.spanContext().spanId).to.equal(first.spanContext().spanId);
      expect(responses[0].span.spanContext().spanId).to.equal(first.spanContext().spanId);
      expect(requests[1].span.spanContext().spanId).to.equal(second.spanContext().spanId);
      for (const span of [first, second]) {
        expect(span.attributes).to.include({ 'app.request': 'tagged', 'app.response': 'tagged' });
      }
    });

    it('requestHook sees no operation or session id that is not one', () => {
      const infos: StatementSpanInfo[] = [];
      bridge({ requestHook: (_span, info) => infos.push(info) });
      emitter.emitStatementStart({
        statementId: STATEMENT,
        sessionId: 'not a session',
        statementType: 'QUERY',
        operationType: 'drop table' as any,
        timestamp: T0,
      });
      expect(infos).to.deep.equal([{ statementId: STATEMENT, sessionId: undefined, operation: undefined }]);
    });

    it('a throwing hook is logged at debug only, and the span is still traced and ended', async () => {
      let responseCalls = 0;
      bridge({
        requestHook: () => {
          throw new TypeError('app request hook');
        },
        responseHook: () => {
          responseCalls += 1;
          throw new RangeError('app response hook');
        },
      });
      start();
      emitter.emitCloudFetchChunk({ statementId: STATEMENT, chunkIndex: 0, latencyMs: 1, bytes: 1, compressed: true });
      complete(STATEMENT, 500, { rowsReturned: 3 });

      expect(responseCalls).to.equal(1);
      expect(finished()).to.have.length(1);
      const [span] = finished();
      expect(ms(span.endTime)).to.equal(T0 + 500);
      expect(span.events).to.have.length(1);
      expect(span.attributes['db.response.returned_rows']).to.equal(3);
      expect(context.logger.has(/OpenTelemetry requestHook failed: TypeError/)).to.equal(true);
      expect(context.logger.has(/OpenTelemetry responseHook failed: RangeError/)).to.equal(true);
      expect(context.logger.lines.every((line) => line.level === LogLevel.debug)).to.equal(true);
      expect(await points()).to.have.length(1);
      expect(await points(RETURNED_ROWS_METRIC)).to.have.length(1);
    });
  });

  describe('switching on', () => {
    it('a bridge over the output of fromGlobalProviders traces with the global providers', () => {
      const shared = OpenTelemetryOutput.fromGlobalProviders(context);
      expect(shared).to.be.instanceOf(OpenTelemetryOutput);
      bridge({}, {}, TARGET, shared);
      start();
      complete();
      expect(finished().map((span) => [span.name, span.instrumentationScope.name])).to.deep.equal([
        ['EXECUTE_STATEMENT', INSTRUMENTATION_SCOPE],
      ]);
    });

    it('follows the emitter: spans with the upload off, nothing with both switches off', () => {
      bridge();
      context.config.enabled = false;
      start();
      complete();
      expect(finished()).to.have.length(1);
      context.config.openTelemetry = false;
      start();
      complete();
      expect(finished()).to.have.length(1);
    });

    it('a throwing tracer never reaches the emitter or the listeners after it', () => {
      const throwing = {
        startSpan: () => {
          throw new RangeError('tracer');
        },
      } as unknown as api.Tracer;
      new OpenTelemetryBridge(
        context,
        new OpenTelemetryOutput(api, throwing, () => api.metrics.getMeterProvider()),
        TARGET,
      ).subscribe(emitter);
      const seen: string[] = [];
      emitter.on(TelemetryEventType.STATEMENT_START, (event) => seen.push(event.statementId));
      emitter.on(TelemetryEventType.STATEMENT_COMPLETE, (event) => seen.push(`done ${event.statementId}`));
      start();
      complete();
      expect(seen).to.deep.equal([STATEMENT, `done ${STATEMENT}`]);
      expect(context.logger.has(/OpenTelemetry statement.start failed: RangeError/)).to.equal(true);
    });

    it('a throwing span is logged at debug only', () => {
      const span = {
        setAttributes: () => {
          throw new Error('span');
        },
        addEvent: () => {
          throw new SyntaxError('event');
        },
      };
      const tracer = { startSpan: () => span } as unknown as api.Tracer;
      new OpenTelemetryBridge(
        context,
        new OpenTelemetryOutput(api, tracer, () => api.metrics.getMeterProvider()),
        TARGET,
      ).subscribe(emitter);
      const seen: string[] = [];
      emitter.on(TelemetryEventType.STATEMENT_COMPLETE, (event) => seen.push(event.statementId));
      start();
      emitter.emitCloudFetchChunk({ statementId: STATEMENT, chunkIndex: 0, latencyMs: 1, bytes: 1, compressed: true });
      complete();
      expect(seen).to.deep.equal([STATEMENT]);
      expect(context.logger.has(/OpenTelemetry cloudfetch.chunk failed: SyntaxError/)).to.equal(true);
      expect(context.logger.has(/OpenTelemetry statement.complete failed: Error/)).to.equal(true);
    });
  });
});
