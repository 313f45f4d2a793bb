import { expect } from 'chai';
import { trace } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { DBSQLClient } from '../../../lib';
import { Emulator, startEmulator } from '../../../lib/emulator';
import { connectClient, runQuery, waitFor } from '../../support/harness';

describe('client e2e: OpenTelemetry output has its own switch', () => {
  let emulator: Emulator;
  let client: DBSQLClient | undefined;
  let spans: InMemorySpanExporter;

  before(async () => {
    emulator = await startEmulator();
  });

  beforeEach(() => {
    spans = new InMemorySpanExporter();
    trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }));
    emulator.resetRequestCounts();
  });

  afterEach(async () => {
    await client?.close();
    client = undefined;
    trace.disable();
    emulator.featureFlag.set(true);
  });

  after(async () => {
    await emulator.close();
  });

  const statementSpans = () =>
    spans.getFinishedSpans().filter((span) => span.attributes['databricks.statement.id'] !== undefined);

  it('with the upload off: a span per statement, and no feature-flag or telemetry request at all', async () => {
    client = await connectClient(emulator, { options: { telemetryEnabled: false, telemetryOpenTelemetry: true } });
    const session = await client.openSession();
    await runQuery(session, 'SELECT 1');
    await runQuery(session, '/* emulator: direct=off */ SELECT 1');
    await session.close();
    await client.close();
    client = undefined;
    expect(statementSpans().map((span) => span.name)).to.deep.equal(['EXECUTE_STATEMENT', 'EXECUTE_STATEMENT']);
    expect(spans.getFinishedSpans().map((span) => span.name)).to.include.members(['CONNECT', 'CREATE_SESSION']);
    const counts = emulator.requestCounts();
    expect(counts.featureFlags).to.equal(0);
    expect(counts.telemetryExt + counts.telemetryUnauth).to.equal(0);
  });

  it('with the upload on and the workspace flag off: spans go on, nothing is uploaded', async () => {
    emulator.featureFlag.set(false);
    client = await connectClient(emulator, { options: { telemetryOpenTelemetry: true } });
    const session = await client.openSession();
    await waitFor(() => emulator.requestCounts().featureFlags > 0);
    for (let i = 0; i < 3; i += 1) {
      await runQuery(session, 'SELECT 1');
    }
    await session.close();
    await client.close();
    client = undefined;
    expect(statementSpans()).to.have.length(3);
    const counts = emulator.requestCounts();
    expect(counts.telemetryExt + counts.telemetryUnauth).to.equal(0);
  });

  it('with both off: no span, and nothing set on the driver', async () => {
    client = await connectClient(emulator, { options: { telemetryEnabled: false } });
    const session = await client.openSession();
    await runQuery(session, 'SELECT 1');
    expect(client.getTelemetryEmitter()).to.equal(undefined);
    expect(Object.prototype.hasOwnProperty.call(session, 'executeStatement')).to.equal(false);
    await session.close();
    expect(statementSpans()).to.deep.equal([]);
    expect(emulator.requestCounts().featureFlags).to.equal(0);
  });
});
