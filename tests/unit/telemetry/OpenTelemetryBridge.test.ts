import { expect } from 'chai';
import * as api from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import {
  DataPointType,
  HistogramMetricData,
  InMemoryMetricExporter,
  AggregationTemporality,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import OpenTelemetryBridge, {
  DURATION_METRIC,
  OpenTelemetryApi,
  loadOpenTelemetryApi,
} from '../../../lib/telemetry/OpenTelemetryBridge';
import TelemetryEventEmitter from '../../../lib/telemetry/TelemetryEventEmitter';
import { TelemetryConfiguration, TelemetryEventType } from '../../../lib/telemetry/types';
import ClientContextStub from '../.stubs/ClientContextStub';

const SESSION = '01f0a1b2-c3d4-1e5f-8a9b-0c1d2e3f4a5b';
const STATEMENT = '01f0a1b2-c3d4-1e5f-8a9b-ffffffffffff';
const OTHER = '01f0a1b2-c3d4-1e5f-8a9b-eeeeeeeeeeee';
const T0 = 1760000000000;

function ms([seconds, nanos]: api.HrTime): number {
  return seconds * 1000 + Math.round(nanos / 1e6);
}

describe('OpenTelemetryBridge', () => {
  let spans: InMemorySpanExporter;
  let metricExporter: InMemoryMetricExporter;
  let reader: PeriodicExportingMetricReader;
  let context: ClientContextStub;
  let emitter: TelemetryEventEmitter;

  function bridge(config: Partial<TelemetryConfiguration> = {}): OpenTelemetryBridge {
    context.config = { ...context.config, ...config };
    const created = OpenTelemetryBridge.create(context);
    expect(created).to.be.instanceOf(OpenTelemetryBridge);
    created!.subscribe(emitter);
    return created!;
  }

  function start(statementId = STATEMENT, operationType: any = 'EXECUTE_STATEMENT', timestamp = T0) {
    emitter.emitStatementStart({
      statementId,
      sessionId: SESSION,
      timestamp,
      statementType: operationType === 'EXECUTE_STATEMENT' ? 'QUERY' : 'METADATA',
      operationType,
    });
  }

  function complete(statementId = STATEMENT, latencyMs = 1500, extra: Record<string, unknown> = {}) {
    emitter.emitStatementComplete({ statementId, sessionId: SESSION, timestamp: T0 + latencyMs, latencyMs, ...extra });
  }

  function finished(): ReadableSpan[] {
    return spans.getFinishedSpans();
  }

  async function histogram(): Promise<HistogramMetricData | undefined> {
    await reader.forceFlush();
    const metric = metricExporter
      .getMetrics()
      .flatMap((resource) => resource.scopeMetrics)
      .flatMap((scope) => scope.metrics)
      .find((data) => data.descriptor.name === DURATION_METRIC);
    return metric as HistogramMetricData | undefined;
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

  describe('spans', () => {
    it('one CLIENT span per statement, from its start to its close, with semconv and allow-listed attributes', () => {
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
      expect(span.name).to.equal('dbsql EXECUTE_STATEMENT');
      expect(span.kind).to.equal(api.SpanKind.CLIENT);
      expect(span.instrumentationScope.name).to.equal('dbsql-telemetry');
      expect(ms(span.startTime)).to.equal(T0);
      expect(ms(span.endTime)).to.equal(T0 + 1500);
      expect(span.status.code).to.equal(api.SpanStatusCode.UNSET);
      expect(span.attributes).to.deep.equal({
        'db.system.name': 'databricks',
        'db.system': 'databricks',
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
    });

    it('names metadata operations by their operation type and leaves out what is unknown', () => {
      bridge();
      start(STATEMENT, 'LIST_CATALOGS');
      complete(STATEMENT, 20);
      const [span] = finished();
      expect(span.name).to.equal('dbsql LIST_CATALOGS');
      expect(span.attributes).to.deep.equal({
        'db.system.name': 'databricks',
        'db.system': 'databricks',
        'db.operation.name': 'LIST_CATALOGS',
        'databricks.statement.id': STATEMENT,
        'databricks.session.id': SESSION,
        'databricks.statement.type': 'METADATA',
      });
    });

    it('never carries text: a malformed operation type, ids or result format are left out', () => {
      bridge();
      emitter.emitStatementStart({
        statementId: STATEMENT,
        sessionId: 'SELECT * FROM secrets',
        statementType: 'select * from t' as any,
        operationType: 'DROP TABLE x' as any,
        timestamp: T0,
      });
      complete(STATEMENT, 5, { executionResult: 'rows: alice, bob', pollCount: -1, chunksPresent: 1.5 });
      const [span] = finished();
      expect(span.name).to.equal('dbsql');
      expect(span.attributes).to.deep.equal({
        'db.system.name': 'databricks',
        'db.system': 'databricks',
        'databricks.statement.id': STATEMENT,
      });
      expect(JSON.stringify(span.attributes)).not.to.match(/SELECT|select|DROP|alice/);
      expect(Object.keys(span.attributes)).not.to.include('db.query.text');
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
      expect(finished().map((span) => span.name)).to.deep.equal(['dbsql EXECUTE_STATEMENT']);
    });

    it('is bounded by maxPendingStatements: one debug line, new statements untraced until room frees', () => {
      bridge({ maxPendingStatements: 1 });
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
      const points = metric!.dataPoints.map((point) => ({
        attributes: point.attributes,
        sum: point.value.sum,
        count: point.value.count,
      }));
      expect(points).to.deep.equal([
        {
          attributes: {
            'db.system.name': 'databricks',
            'db.system': 'databricks',
            'db.operation.name': 'EXECUTE_STATEMENT',
          },
          sum: 1.5,
          count: 1,
        },
        {
          attributes: {
            'db.system.name': 'databricks',
            'db.system': 'databricks',
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

    it('records nothing for a statement without a usable latency', async () => {
      bridge();
      start();
      complete(STATEMENT, -5);
      expect(finished()).to.have.length(1);
      expect((await histogram())?.dataPoints ?? []).to.be.empty;
    });
  });

  describe('switching on', () => {
    it('off by default: no bridge', () => {
      context.config.openTelemetry = false;
      expect(OpenTelemetryBridge.create(context)).to.equal(undefined);
    });

    it('loads the optional peer dependency lazily', () => {
      expect(loadOpenTelemetryApi()).to.equal(api);
    });

    it('without @opentelemetry/api: no bridge, one debug line, no error', () => {
      expect(OpenTelemetryBridge.create(context, () => undefined)).to.equal(undefined);
      expect(context.logger.lines.map((line) => line.message)).to.deep.equal([
        'telemetry: telemetryOpenTelemetry is on but @opentelemetry/api is not installed',
      ]);
    });

    it('a broken API or a throwing config gives no bridge and no error', () => {
      const broken = {
        ...api,
        trace: {
          getTracer: () => {
            throw new TypeError('no');
          },
        },
      } as unknown as OpenTelemetryApi;
      expect(OpenTelemetryBridge.create(context, () => broken)).to.equal(undefined);
      expect(context.logger.has(/OpenTelemetry bridge unavailable: TypeError/)).to.equal(true);
      context.getTelemetryConfig = () => {
        throw new Error('config');
      };
      expect(OpenTelemetryBridge.create(context)).to.equal(undefined);
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
        ...api,
        trace: {
          getTracer: () => ({
            startSpan: () => {
              throw new RangeError('tracer');
            },
          }),
        },
      } as unknown as OpenTelemetryApi;
      OpenTelemetryBridge.create(context, () => throwing)!.subscribe(emitter);
      const seen: string[] = [];
      emitter.on(TelemetryEventType.STATEMENT_START, (event) => seen.push(event.statementId));
      start();
      expect(seen).to.deep.equal([STATEMENT]);
      expect(context.logger.has(/OpenTelemetry statement.start failed: RangeError/)).to.equal(true);
    });
  });
});
