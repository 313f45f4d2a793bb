import { expect } from 'chai';
import { metrics, trace } from '@opentelemetry/api';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { DBSQLClient } from '../../../lib';
import { Emulator, startEmulator } from '../../../lib/emulator';
import { connectClient, rejectionOf, runQuery } from '../../support/harness';
import { DecodedMetric, DecodedSpan, OtlpReceiver, startOtlpReceiver } from '../../support/otlpReceiver';

/** The conventions' advice for `db.client.operation.duration`, in seconds. */
const DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10];
/** The conventions' advice for `db.client.response.returned_rows`. */
const ROW_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000];

const CATALOG = 'otlp_catalog';
const SCHEMA = 'otlp_schema';

/** Statements whose text, and every literal in it, must never leave the process. */
const LITERAL_QUERY = 'SELECT 987654321';
const CLOUDFETCH_QUERY = '/* emulator: format=cloudfetch chunks=2 lz4=off */ SELECT * FROM range(2500)';
const FAILING_QUERY = "SELECT secret_column FROM otlp_secret_table WHERE note = 'hunter2-literal'";
const NEVER_SENT = [
  LITERAL_QUERY,
  CLOUDFETCH_QUERY,
  FAILING_QUERY,
  '987654321',
  'range(2500)',
  'otlp_secret_table',
  'secret_column',
  'hunter2-literal',
  'SELECT',
  'emulator:',
  // The driver's error message for the failing statement.
  'TABLE_OR_VIEW_NOT_FOUND',
];

/** Attributes every database span and data point carries. */
function targetAttributes(emulator: Emulator): Record<string, string | number> {
  return { 'db.system.name': 'databricks', 'server.address': emulator.host, 'server.port': emulator.port };
}

function spansNamed(spans: DecodedSpan[], name: string): DecodedSpan[] {
  return spans.filter((span) => span.name === name);
}

function expectMetric(metric: DecodedMetric | undefined, unit: string, buckets: number[]): DecodedMetric {
  expect(metric, 'metric exported').to.not.equal(undefined);
  expect(metric!.type).to.equal('histogram');
  expect(metric!.unit).to.equal(unit);
  expect(metric!.scope.name).to.equal('dbsql-telemetry');
  expect(metric!.dataPoints).to.not.have.length(0);
  for (const point of metric!.dataPoints) {
    expect(point.explicitBounds).to.deep.equal(buckets);
    expect(point.bucketCounts).to.have.length(buckets.length + 1);
    expect(point.bucketCounts!.reduce((a, b) => a + b, 0)).to.equal(point.count);
  }
  return metric!;
}

describe('e2e: OpenTelemetry output over OTLP/HTTP to a receiver', () => {
  let emulator: Emulator;
  let receiver: OtlpReceiver;
  let client: DBSQLClient | undefined;
  let tracerProvider: BasicTracerProvider | undefined;
  let meterProvider: MeterProvider | undefined;

  before(async () => {
    emulator = await startEmulator();
    receiver = await startOtlpReceiver();
  });

  afterEach(async () => {
    await client?.close().catch(() => undefined);
    client = undefined;
    await tracerProvider?.shutdown().catch(() => undefined);
    await meterProvider?.shutdown().catch(() => undefined);
    tracerProvider = undefined;
    meterProvider = undefined;
    trace.disable();
    metrics.disable();
  });

  after(async () => {
    await receiver?.close();
    await emulator?.close();
  });

  it('spans and metrics of connect, sessions and statements reach the receiver, without ids in metrics or SQL anywhere', async () => {
    tracerProvider = new BasicTracerProvider({
      spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: receiver.tracesUrl }))],
    });
    meterProvider = new MeterProvider({
      readers: [
        new PeriodicExportingMetricReader({
          exporter: new OTLPMetricExporter({ url: receiver.metricsUrl }),
          // Exports once, at shutdown: the cumulative state of every instrument.
          exportIntervalMillis: 60_000,
        }),
      ],
    });
    expect(trace.setGlobalTracerProvider(tracerProvider)).to.equal(true);
    expect(metrics.setGlobalMeterProvider(meterProvider)).to.equal(true);
    emulator.resetRequestCounts();

    client = await connectClient(emulator, { options: { telemetryEnabled: false, telemetryOpenTelemetry: true } });

    const plain = await client.openSession();
    const literal = await runQuery(plain, LITERAL_QUERY);
    expect(literal.rows).to.have.length(1);
    const failure = await rejectionOf(runQuery(plain, FAILING_QUERY));
    expect(failure.message).to.contain('TABLE_OR_VIEW_NOT_FOUND');
    await plain.close();

    const named = await client.openSession({ initialCatalog: CATALOG, initialSchema: SCHEMA });
    const fetched = await runQuery(named, CLOUDFETCH_QUERY);
    expect(fetched.rows).to.have.length(2500);
    await named.close();

    await client.close();
    client = undefined;
    await tracerProvider.shutdown();
    await meterProvider.shutdown();

    expect(receiver.failures().map((request) => request.error)).to.deep.equal([]);
    const requests = receiver.requests();
    expect(requests.filter((request) => request.path === '/v1/traces')).to.not.have.length(0);
    expect(requests.filter((request) => request.path === '/v1/metrics')).to.not.have.length(0);
    for (const request of requests) {
      expect(request.method).to.equal('POST');
      expect(request.headers['content-type']).to.match(/^application\/json/);
    }

    // Spans: every one CLIENT, in the library's scope, with the conventions' attributes.
    const target = targetAttributes(emulator);
    const spans = receiver.spans();
    expect(spans.map((span) => span.name)).to.have.members([
      'CONNECT',
      'CREATE_SESSION',
      'CREATE_SESSION',
      'EXECUTE_STATEMENT',
      'EXECUTE_STATEMENT',
      'EXECUTE_STATEMENT',
    ]);
    for (const span of spans) {
      expect(span.kindName, span.name).to.equal('CLIENT');
      expect(span.scope.name).to.equal('dbsql-telemetry');
      expect(span.traceId).to.match(/^[0-9a-f]{32}$/);
      expect(span.spanId).to.match(/^[0-9a-f]{16}$/);
      expect(span.attributes).to.include({ ...target, 'db.operation.name': span.name });
    }
    for (const name of ['CONNECT', 'CREATE_SESSION']) {
      for (const span of spansNamed(spans, name)) {
        expect(span.status.codeName).to.equal('UNSET');
        expect(span.attributes).to.not.have.property('error.type');
      }
    }

    const statements = spansNamed(spans, 'EXECUTE_STATEMENT');
    const statementIds = statements.map((span) => span.attributes['databricks.statement.id']);
    const sessionIds = statements.map((span) => span.attributes['databricks.session.id']);
    expect(statementIds.every((id) => typeof id === 'string' && id.length > 0)).to.equal(true);
    expect(new Set(statementIds).size).to.equal(3);
    expect(new Set(sessionIds).size).to.equal(2);
    for (const span of statements) {
      expect(span.attributes).to.not.have.property('db.query.text');
    }

    const [ok, failed] = statements.filter((span) => span.attributes['db.namespace'] === undefined);
    const [cloudFetch] = statements.filter((span) => span.attributes['db.namespace'] !== undefined);
    expect(ok, 'the successful statement of the first session').to.not.equal(undefined);
    expect(failed, 'the failing statement of the first session').to.not.equal(undefined);
    expect(ok.status.codeName).to.equal('UNSET');
    expect(ok.attributes['db.response.returned_rows']).to.equal(1);
    expect(ok.attributes).to.not.have.property('error.type');

    expect(failed.status.codeName).to.equal('ERROR');
    expect(failed.status.message ?? '').to.not.contain('TABLE');
    expect(failed.attributes).to.include({ 'error.type': '42P01', 'db.response.status_code': '42P01' });

    expect(cloudFetch.attributes).to.include({
      'db.namespace': `${CATALOG}.${SCHEMA}`,
      'db.response.returned_rows': 2500,
    });
    const chunks = cloudFetch.events.filter((event) => event.name === 'databricks.cloudfetch.chunk');
    expect(chunks).to.have.length(2);
    expect(chunks.map((event) => event.attributes['databricks.chunk.index'])).to.have.members([0, 1]);
    for (const event of chunks) {
      expect(event.attributes['databricks.chunk.bytes']).to.be.a('number').above(0);
    }
    expect(cloudFetch.attributes['databricks.chunks.iterated']).to.equal(2);

    // Metrics: the two conventions' histograms, with their units and advised buckets.
    const duration = expectMetric(receiver.metric('db.client.operation.duration'), 's', DURATION_BUCKETS);
    const rows = expectMetric(receiver.metric('db.client.response.returned_rows'), '{row}', ROW_BUCKETS);
    const total = (metric: DecodedMetric, field: 'count' | 'sum') =>
      metric.dataPoints.reduce((sum, point) => sum + (point[field] ?? 0), 0);
    expect(total(duration, 'count')).to.equal(3);
    // The failed statement returned no result page: no row count, rather than a count of 0.
    expect(total(rows, 'count')).to.equal(2);
    expect(total(rows, 'sum')).to.equal(1 + 2500);
    for (const point of [...duration.dataPoints, ...rows.dataPoints]) {
      expect(point.attributes).to.include({ ...target, 'db.operation.name': 'EXECUTE_STATEMENT' });
      for (const key of Object.keys(point.attributes)) {
        expect(key).to.not.match(/statement|session|query/);
      }
      const values = Object.values(point.attributes);
      for (const id of [...statementIds, ...sessionIds]) {
        expect(values).to.not.include(id);
      }
    }
    expect(duration.dataPoints.map((point) => point.attributes['db.namespace'])).to.include(`${CATALOG}.${SCHEMA}`);
    expect(duration.dataPoints.map((point) => point.attributes['error.type'])).to.include('42P01');
    const metricBodies = Buffer.concat(
      requests.filter((request) => request.path === '/v1/metrics').map((request) => request.body),
    ).toString('utf8');
    for (const id of [...statementIds, ...sessionIds]) {
      expect(metricBodies).to.not.contain(String(id));
    }

    // No statement text nor any literal of it, in any byte that went over the wire.
    const payloads = receiver.payloads();
    for (const secret of NEVER_SENT) {
      expect(payloads.includes(Buffer.from(secret, 'utf8')), `"${secret}" in an export`).to.equal(false);
    }
    for (const request of requests) {
      for (const secret of NEVER_SENT) {
        expect(request.raw.includes(Buffer.from(secret, 'utf8')), `"${secret}" on the wire`).to.equal(false);
      }
    }

    // OpenTelemetry only: nothing was uploaded to Databricks.
    const counts = emulator.requestCounts();
    expect(counts.telemetryExt).to.equal(0);
    expect(counts.telemetryUnauth).to.equal(0);
    expect(counts.featureFlags).to.equal(0);
  });
});
