import { expect } from 'chai';
import sinon from 'sinon';
import * as api from '@opentelemetry/api';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import OpenTelemetryOutput, {
  DB_SYSTEM_NAME,
  DURATION_METRIC,
  INSTRUMENTATION_SCOPE,
  OpenTelemetryApi,
  RETURNED_ROWS_METRIC,
  loadOpenTelemetryApi,
} from '../../../lib/telemetry/OpenTelemetryOutput';
import ClientContextStub from '../.stubs/ClientContextStub';

describe('OpenTelemetryOutput', () => {
  let spans: InMemorySpanExporter;
  let context: ClientContextStub;

  function finished(): ReadableSpan[] {
    return spans.getFinishedSpans();
  }

  function output(tracer: api.Tracer = api.trace.getTracer('x')): OpenTelemetryOutput {
    return new OpenTelemetryOutput(api, tracer, () => api.metrics.getMeterProvider());
  }

  const errorType = (error: unknown) => (error as Error).name;

  beforeEach(() => {
    spans = new InMemorySpanExporter();
    api.trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }));
    context = new ClientContextStub({ openTelemetry: true });
  });

  afterEach(() => {
    api.trace.disable();
    api.metrics.disable();
    sinon.restore();
    expect(context.logger.aboveDebug(), 'log lines above debug').to.be.empty;
  });

  describe('instruments', () => {
    it('creates the two database client histograms with their units and advised buckets, once per meter provider', () => {
      const createHistogram = sinon.spy((..._args: unknown[]) => ({ record: () => undefined }));
      const getMeter = sinon.spy(() => ({ createHistogram }) as unknown as api.Meter);
      let provider = { getMeter } as unknown as api.MeterProvider;
      const created = new OpenTelemetryOutput(
        api,
        api.trace.getTracer('x'),
        () => provider,
        { queryText: true },
        '1.2.3',
      );
      expect(createHistogram.callCount, 'nothing before the first recording').to.equal(0);
      const metrics = created.metrics();
      expect(getMeter.args).to.deep.equal([['dbsql-telemetry', '1.2.3']]);
      expect(createHistogram.callCount).to.equal(2);
      const [[durationName, duration], [rowsName, rows]] = createHistogram.args as Array<[string, api.MetricOptions]>;
      expect(durationName).to.equal(DURATION_METRIC);
      expect(DURATION_METRIC).to.equal('db.client.operation.duration');
      expect(duration.unit).to.equal('s');
      expect(duration.advice?.explicitBucketBoundaries).to.deep.equal([0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10]);
      expect(rowsName).to.equal(RETURNED_ROWS_METRIC);
      expect(RETURNED_ROWS_METRIC).to.equal('db.client.response.returned_rows');
      expect(rows.unit).to.equal('{row}');
      expect(rows.advice?.explicitBucketBoundaries).to.deep.equal([
        1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000,
      ]);
      expect(metrics.duration).to.equal(createHistogram.returnValues[0]);
      expect(metrics.returnedRows).to.equal(createHistogram.returnValues[1]);
      expect(created.metrics(), 'the same provider: the same instruments').to.equal(metrics);
      expect(createHistogram.callCount).to.equal(2);
      provider = { getMeter } as unknown as api.MeterProvider;
      expect(created.metrics(), 'a new provider: new instruments').to.not.equal(metrics);
      expect(createHistogram.callCount).to.equal(4);
      expect(created.options).to.deep.equal({ queryText: true });
    });

    it('records to a global meter provider registered after it was made', async () => {
      const created = output();
      created.metrics().duration.record(1);
      const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
      const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60 * 60 * 1000 });
      api.metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
      created.metrics().duration.record(2);
      await reader.forceFlush();
      const points = exporter
        .getMetrics()
        .flatMap((resource) => resource.scopeMetrics)
        .flatMap((scope) => scope.metrics)
        .filter((metric) => metric.descriptor.name === DURATION_METRIC)
        .flatMap((metric) => metric.dataPoints as Array<{ value: { count: number; sum?: number } }>);
      expect(points.map((point) => [point.value.count, point.value.sum])).to.deep.equal([[1, 2]]);
      await reader.shutdown();
    });

    it('has no options by default', () => {
      expect(output().options).to.deep.equal({});
    });
  });

  describe('fromGlobalProviders', () => {
    it('off by default: no output, and the package is not even loaded', () => {
      const defaults = new ClientContextStub();
      const load = sinon.spy(() => api as OpenTelemetryApi);
      expect(OpenTelemetryOutput.fromGlobalProviders(defaults, load)).to.equal(undefined);
      context.config.openTelemetry = false;
      expect(OpenTelemetryOutput.fromGlobalProviders(context, load)).to.equal(undefined);
      expect(load.callCount).to.equal(0);
      expect(defaults.logger.lines).to.deep.equal([]);
      expect(context.logger.lines).to.deep.equal([]);
    });

    it('on: an output on the global providers, in the dbsql-telemetry scope, without query text by default', () => {
      const created = OpenTelemetryOutput.fromGlobalProviders(context);
      expect(created).to.be.instanceOf(OpenTelemetryOutput);
      expect(created!.api).to.equal(api);
      expect(created!.options.queryText).to.equal(false);
      created!.tracer.startSpan('probe').end();
      expect(finished().map((span) => [span.name, span.instrumentationScope.name])).to.deep.equal([
        ['probe', INSTRUMENTATION_SCOPE],
      ]);
      expect(INSTRUMENTATION_SCOPE).to.equal('dbsql-telemetry');
      expect(context.logger.lines).to.deep.equal([]);
    });

    it('takes queryText from telemetryOpenTelemetryQueryText', () => {
      context.config.openTelemetryQueryText = true;
      expect(OpenTelemetryOutput.fromGlobalProviders(context)!.options.queryText).to.equal(true);
    });

    it('follows providers registered after it through the API proxies', () => {
      api.trace.disable();
      const created = OpenTelemetryOutput.fromGlobalProviders(context)!;
      api.trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }));
      created.tracer.startSpan('late').end();
      expect(finished().map((span) => span.name)).to.deep.equal(['late']);
    });

    it('loads the optional peer dependency lazily', () => {
      expect(loadOpenTelemetryApi()).to.equal(api);
    });

    it('without @opentelemetry/api: no output, one debug line, no error', () => {
      expect(OpenTelemetryOutput.fromGlobalProviders(context, () => undefined)).to.equal(undefined);
      expect(context.logger.lines.map((line) => line.message)).to.deep.equal([
        'telemetry: telemetryOpenTelemetry is on but @opentelemetry/api is not installed',
      ]);
    });

    it('a broken API gives no output, a debug line with the error name only, and no error', () => {
      const broken = {
        ...api,
        trace: {
          getTracer: () => {
            throw new TypeError('secret detail');
          },
        },
      } as unknown as OpenTelemetryApi;
      expect(OpenTelemetryOutput.fromGlobalProviders(context, () => broken)).to.equal(undefined);
      expect(context.logger.lines.map((line) => line.message)).to.deep.equal([
        'telemetry: OpenTelemetry output unavailable: TypeError',
      ]);
    });

    it('a meter that cannot create histograms fails only when recording (where the bridge catches it)', () => {
      const broken = {
        ...api,
        metrics: {
          getMeterProvider: () => ({
            getMeter: () => ({
              createHistogram: () => {
                throw new RangeError('no histograms');
              },
            }),
          }),
        },
      } as unknown as OpenTelemetryApi;
      const created = OpenTelemetryOutput.fromGlobalProviders(context, () => broken);
      expect(created).to.be.instanceOf(OpenTelemetryOutput);
      expect(() => created!.metrics()).to.throw(RangeError);
    });

    it('a throwing loader or configuration gives no output and no error', () => {
      const throwingLoad = () => {
        throw new SyntaxError('load');
      };
      expect(OpenTelemetryOutput.fromGlobalProviders(context, throwingLoad)).to.equal(undefined);
      expect(context.logger.has(/OpenTelemetry output unavailable: SyntaxError/)).to.equal(true);
      context.getTelemetryConfig = () => {
        throw new Error('config');
      };
      expect(OpenTelemetryOutput.fromGlobalProviders(context)).to.equal(undefined);
      expect(context.logger.has(/OpenTelemetry output unavailable: Error$/)).to.equal(true);
    });
  });

  describe('traceCall', () => {
    it('wraps a successful call in a CLIENT span named by the operation, ended once it resolved', async () => {
      const created = output();
      let finishedDuringCall: number | undefined;
      const errorTypeSpy = sinon.spy(errorType);
      const result = await created.traceCall(
        context,
        'CREATE_SESSION',
        { 'server.address': 'adb-1.azuredatabricks.net', 'server.port': 443 },
        async () => {
          finishedDuringCall = finished().length;
          return { session: 1 };
        },
        errorTypeSpy,
      );
      expect(result).to.deep.equal({ session: 1 });
      expect(finishedDuringCall).to.equal(0);
      expect(errorTypeSpy.callCount).to.equal(0);
      expect(finished()).to.have.length(1);
      const [span] = finished();
      expect(span.name).to.equal('CREATE_SESSION');
      expect(span.kind).to.equal(api.SpanKind.CLIENT);
      expect(span.status.code).to.equal(api.SpanStatusCode.UNSET);
      expect(span.attributes).to.deep.equal({
        'db.system.name': DB_SYSTEM_NAME,
        'db.operation.name': 'CREATE_SESSION',
        'server.address': 'adb-1.azuredatabricks.net',
        'server.port': 443,
      });
      expect(DB_SYSTEM_NAME).to.equal('databricks');
    });

    it('returns the very object the call resolved with', async () => {
      const value = { client: true };
      expect(await output().traceCall(context, 'CONNECT', {}, async () => value, errorType)).to.equal(value);
    });

    it('a failing call: error.type, status ERROR, and the same error object rethrown', async () => {
      const created = output();
      const error = Object.assign(new Error('Invalid token for alice'), { name: 'AuthenticationError' });
      const errorTypeSpy = sinon.spy(errorType);
      const caught = await created
        .traceCall(
          context,
          'CONNECT',
          { 'server.address': 'h' },
          async () => {
            throw error;
          },
          errorTypeSpy,
        )
        .then(
          () => 'resolved',
          (failure: unknown) => failure,
        );
      expect(caught).to.equal(error);
      expect(errorTypeSpy.callCount).to.equal(1);
      expect(errorTypeSpy.firstCall.args[0]).to.equal(error);
      expect(finished()).to.have.length(1);
      const [span] = finished();
      expect(span.name).to.equal('CONNECT');
      expect(span.status.code).to.equal(api.SpanStatusCode.ERROR);
      expect(span.status.message).to.equal(undefined);
      expect(span.attributes).to.deep.equal({
        'db.system.name': 'databricks',
        'db.operation.name': 'CONNECT',
        'server.address': 'h',
        'error.type': 'AuthenticationError',
      });
      expect(JSON.stringify(span.attributes)).not.to.include('alice');
      expect(span.events).to.deep.equal([]);
    });

    it('rethrows what a call throws synchronously, even when it is not an Error', async () => {
      const thrown = { code: 42 };
      const caught = await output()
        .traceCall(
          context,
          'CONNECT',
          {},
          () => {
            throw thrown;
          },
          () => 'UnknownError',
        )
        .catch((failure: unknown) => failure);
      expect(caught).to.equal(thrown);
      expect(finished()[0].attributes['error.type']).to.equal('UnknownError');
    });

    it('a throwing tracer never breaks the call: its result and its error come through unchanged', async () => {
      const tracer = {
        startSpan: () => {
          throw new RangeError('tracer');
        },
      } as unknown as api.Tracer;
      const created = output(tracer);
      const call = sinon.spy(async () => 'connected');
      expect(await created.traceCall(context, 'CONNECT', {}, call, errorType)).to.equal('connected');
      expect(call.callCount).to.equal(1);
      const error = new TypeError('driver failure');
      const caught = await created
        .traceCall(
          context,
          'CONNECT',
          {},
          async () => {
            throw error;
          },
          errorType,
        )
        .catch((failure: unknown) => failure);
      expect(caught).to.equal(error);
      expect(context.logger.has(/OpenTelemetry CONNECT span failed: RangeError/)).to.equal(true);
      expect(finished()).to.deep.equal([]);
    });

    it('a span that cannot end never breaks the call', async () => {
      const span = {
        setAttribute: sinon.spy(),
        setStatus: sinon.spy(),
        end: () => {
          throw new EvalError('end');
        },
      };
      const tracer = { startSpan: () => span } as unknown as api.Tracer;
      const created = output(tracer);
      expect(await created.traceCall(context, 'CONNECT', {}, async () => 1, errorType)).to.equal(1);
      const error = new Error('x');
      const caught = await created
        .traceCall(
          context,
          'CONNECT',
          {},
          async () => {
            throw error;
          },
          errorType,
        )
        .catch((failure: unknown) => failure);
      expect(caught).to.equal(error);
      expect(span.setAttribute.calledWith('error.type', 'Error')).to.equal(true);
      expect(
        context.logger.lines.filter((line) => /OpenTelemetry span end failed: EvalError/.test(line.message)),
      ).to.have.length(2);
    });

    it('a throwing errorType never replaces the call error', async () => {
      const error = new Error('driver failure');
      const caught = await output()
        .traceCall(
          context,
          'CONNECT',
          {},
          async () => {
            throw error;
          },
          () => {
            throw new URIError('classifier');
          },
        )
        .catch((failure: unknown) => failure);
      expect(caught).to.equal(error);
      expect(context.logger.has(/OpenTelemetry span outcome failed: URIError/)).to.equal(true);
      // The span still ends, with its error status.
      expect(spans.getFinishedSpans().map((span) => [span.name, span.status.code])).to.deep.equal([
        ['CONNECT', api.SpanStatusCode.ERROR],
      ]);
    });
  });
});
