import { expect } from 'chai';
import { DBSQLClient } from '../../../lib';
import { Emulator, FaultStep, FaultTarget, startEmulator } from '../../../lib/emulator';
import TelemetryClientProvider from '../../../lib/telemetry/TelemetryClientProvider';
import {
  connectClient,
  connectionLogs,
  driverLogs,
  rejectionOf,
  RecordingLogger,
  runQuery,
  sleep,
  statementLogs,
  waitFor,
} from '../../support/harness';

describe('client e2e: circuit breaker, close and failing telemetry', () => {
  let emulator: Emulator;
  const clients: DBSQLClient[] = [];

  before(async () => {
    emulator = await startEmulator();
  });

  afterEach(async () => {
    emulator.faults.clear();
    emulator.featureFlag.set(true);
    await Promise.all(clients.splice(0).map((client) => client.close()));
  });

  after(async () => {
    await emulator.close();
  });

  it('stops uploading after the breaker threshold and recovers after its timeout', async () => {
    const threshold = 3;
    const provider = new TelemetryClientProvider();
    const client = await connectClient(emulator, {
      provider,
      options: {
        telemetryFlushIntervalMs: 20,
        telemetryBatchSize: 1,
        telemetryBackoffBaseMs: 1,
        telemetryBackoffMaxMs: 5,
        telemetryCircuitBreakerThreshold: threshold,
        // Long enough that a slow machine's eight queries end before the breaker lets a trial through.
        telemetryCircuitBreakerTimeoutMs: 1000,
        telemetryCircuitBreakerSuccessThreshold: 1,
      },
    });
    clients.push(client);
    const session = await client.openSession();
    // The flag first, so every later log is uploadable.
    await waitFor(() => emulator.telemetry.logs().length > 0);
    emulator.faults.set('telemetry', { kind: 'status', status: 503, times: 'forever' });
    emulator.resetRequestCounts();
    const openedAt = Date.now();
    for (let i = 0; i < 8; i += 1) {
      await runQuery(session, `SELECT ${i}`);
    }
    await sleep(Math.max(0, 250 - (Date.now() - openedAt)));
    const failed = emulator.requestCounts().telemetryExt;
    expect(failed, 'upload attempts while the endpoint fails').to.be.at.least(1).and.at.most(threshold);

    emulator.faults.clear('telemetry');
    // The breaker opened on the first failed export, before the count above: its timeout is over after this.
    await sleep(1100);
    const { operation } = await runQuery(session, 'SELECT 42');
    const logs = await waitFor(() => statementLogs(emulator, operation.id), 1000);
    expect(logs, 'uploads resume after the breaker timeout').to.have.length(1);
    await session.close();
  });

  it('close() flushes pending logs before it returns', async () => {
    const client = await connectClient(emulator, { options: { telemetryFlushIntervalMs: 60000 } });
    clients.push(client);
    const session = await client.openSession();
    const { operation } = await runQuery(session, 'SELECT 1');
    await session.close();
    await sleep(100);
    expect(connectionLogs(emulator, session.id), 'held by the long flush interval').to.deep.equal([]);
    await client.close();
    expect(connectionLogs(emulator, session.id)).to.have.length(1);
    expect(statementLogs(emulator, operation.id)).to.have.length(1);
  });

  it('a hanging telemetry endpoint leaves close() bounded by the close deadline', async () => {
    emulator.faults.set('telemetry', { kind: 'hang', times: 'forever' });
    const client = await connectClient(emulator, {
      options: { telemetryFlushIntervalMs: 60000, telemetryCloseTimeoutMs: 300 },
    });
    clients.push(client);
    const session = await client.openSession();
    await runQuery(session, 'SELECT 1');
    await session.close();
    const started = Date.now();
    await client.close();
    const elapsed = Date.now() - started;
    expect(elapsed).to.be.below(1300);
    expect(emulator.requestCounts().telemetryExt, 'an upload was attempted').to.be.at.least(1);
  });

  interface Outcome {
    rows: unknown[];
    metadata: unknown[];
    error: { message: string; sqlState?: unknown; errorCode?: unknown };
    lines: string[];
    /** Not compared: differs per run. */
    sessionId: string;
    /** Not compared: telemetry's debug lines, to explain a failed expectation. */
    telemetryDebug: string[];
  }

  /** The application's view of a small workload: rows, a metadata call, an error, the logger's lines above debug. */
  async function workload(telemetry: boolean, provider: TelemetryClientProvider): Promise<Outcome> {
    const logger = new RecordingLogger();
    const client = await connectClient(emulator, {
      provider,
      logger,
      options: {
        telemetryEnabled: telemetry,
        telemetryFlushIntervalMs: 20,
        // Wide enough that a loaded CI machine still gets the flag (one TLS handshake to the
        // in-process emulator) and the first upload through; a hang costs a test this long.
        telemetryCloseTimeoutMs: 1500,
        telemetryRequestTimeoutMs: 1000,
        telemetryBackoffBaseMs: 1,
        telemetryBackoffMaxMs: 5,
      },
    });
    let result: Omit<Outcome, 'lines' | 'telemetryDebug'>;
    try {
      const session = await client.openSession();
      const { rows } = await runQuery(session, '/* emulator: format=arrow */ SELECT * FROM range(5)');
      const catalogs = await session.getCatalogs();
      const metadata = await catalogs.fetchAll();
      await catalogs.close();
      const failure = await rejectionOf(runQuery(session, 'SELECT * FROM main.default.nope'));
      const response = failure.response as { sqlState?: unknown } | undefined;
      await sleep(60);
      await session.close();
      result = {
        rows,
        metadata,
        error: { message: failure.message, sqlState: response?.sqlState, errorCode: failure.errorCode },
        sessionId: session.id,
      };
    } finally {
      await client.close();
    }
    // Taken after close(), so lines logged while closing count too.
    return {
      ...result,
      lines: logger.aboveDebug().map((line) => `${line.level}: ${line.message}`),
      telemetryDebug: logger.lines.filter((line) => line.message.startsWith('telemetry')).map((line) => line.message),
    };
  }

  const faults: Array<[string, FaultStep]> = [
    ['status 500', { kind: 'status', status: 500, times: 'forever' }],
    ['status 503 with Retry-After', { kind: 'status', status: 503, retryAfterSeconds: 1, times: 'forever' }],
    ['status 429', { kind: 'status', status: 429, times: 'forever' }],
    ['status 401', { kind: 'status', status: 401, times: 'forever' }],
    ['status 403', { kind: 'status', status: 403, times: 'forever' }],
    ['status 404', { kind: 'status', status: 404, times: 'forever' }],
    ['delay 150 ms', { kind: 'delay', ms: 150, times: 'forever' }],
    ['hang', { kind: 'hang', times: 'forever' }],
    ['connection reset', { kind: 'reset', times: 'forever' }],
    ['malformed body', { kind: 'malformed', times: 'forever' }],
    ['drip', { kind: 'drip', intervalMs: 20, times: 'forever' }],
  ];
  const cases: Array<[FaultTarget, string, FaultStep]> = [
    ...faults.map(([name, step]): [FaultTarget, string, FaultStep] => ['telemetry', name, step]),
    ['telemetry', 'partial success', { kind: 'partial', accepted: 0, times: 'forever' }],
    ...faults.map(([name, step]): [FaultTarget, string, FaultStep] => ['featureFlags', name, step]),
  ];

  describe('telemetry failing in every injected way leaves the application unchanged', () => {
    let baseline: Outcome;
    let rejections: unknown[];
    const onRejection = (reason: unknown): void => {
      rejections.push(reason);
    };

    before(async () => {
      baseline = await workload(false, new TelemetryClientProvider());
      expect(baseline.rows).to.have.length(5);
    });

    it('the telemetry-off baseline uploads nothing', () => {
      expect(driverLogs(emulator).filter((log) => log.session_id === baseline.sessionId)).to.deep.equal([]);
    });

    beforeEach(() => {
      rejections = [];
      process.on('unhandledRejection', onRejection);
    });

    afterEach(() => {
      process.off('unhandledRejection', onRejection);
    });

    for (const [target, name, step] of cases) {
      it(`${target}: ${name}`, async () => {
        emulator.faults.set(target, step);
        emulator.resetRequestCounts();
        const outcome = await workload(true, new TelemetryClientProvider());
        expect(outcome.rows).to.deep.equal(baseline.rows);
        expect(outcome.metadata).to.deep.equal(baseline.metadata);
        expect(outcome.error).to.deep.equal(baseline.error);
        expect(outcome.sessionId).to.not.equal(baseline.sessionId);
        expect(outcome.lines, 'no log line above debug beyond the driver own').to.deep.equal(baseline.lines);
        // Let late timers and sockets settle inside this test, so a rejection is caught here.
        await sleep(30);
        expect(rejections).to.deep.equal([]);
        const counts = emulator.requestCounts();
        const exercised = `the fault was exercised; telemetry said: ${JSON.stringify(outcome.telemetryDebug)}`;
        if (target === 'telemetry') {
          expect(counts.telemetryExt, exercised).to.be.at.least(1);
        } else {
          expect(counts.featureFlags, exercised).to.be.at.least(1);
          if (step.kind !== 'delay' && step.kind !== 'drip') {
            expect(counts.telemetryExt, 'no upload without a known flag').to.equal(0);
          }
        }
      });
    }
  });
});
