import { expect } from 'chai';
import { Emulator, startEmulator } from '../../../lib/emulator';
import type { FaultStep, FaultTarget } from '../../../lib/emulator/faults';
import type { RequestCounts } from '../../../lib/emulator/types';
import {
  accepts,
  connectClient,
  countBy,
  FAST_TELEMETRY,
  Forwarder,
  PatAuth,
  TelemetryRequestHooks,
  RecordingLogger,
  RejectionWatch,
  receivedEventIds,
  Session,
  sleep,
  waitFor,
  watchedProvider,
} from './support';

/*
 * The fault matrix: each way the telemetry and feature-flag endpoints can fail, against
 * the real driver and the emulator. For every case the application sees exactly what it sees
 * with telemetry off, nothing throws or rejects unhandled, telemetry logs nothing above debug,
 * the endpoint sees a bounded number of requests, and logs are delivered as the engine's
 * documented design says (retry within budget, drop on terminal statuses, never re-send a
 * partial success, drop while the flag is off).
 */

interface AppResult {
  rows: unknown[];
  errors: string[];
}

const EXPECTED_APP: AppResult = {
  rows: [[{ 1: 1 }], [{ id: 0 }, { id: 1 }, { id: 2 }]],
  errors: ['[TABLE_OR_VIEW_NOT_FOUND] The table or view `missing_table` cannot be found.'],
};

/** One connection log plus one per statement (two queries and one failed statement). */
const LOGS_PER_RUN = 4;

async function query(session: Session, sql: string): Promise<unknown[]> {
  const operation = await session.executeStatement(sql);
  try {
    return await operation.fetchAll();
  } finally {
    await operation.close();
  }
}

/** The application: two queries and a failing statement; its rows and errors are what must not change. */
async function workload(session: Session): Promise<AppResult> {
  const result: AppResult = { rows: [], errors: [] };
  for (const sql of ['SELECT 1', 'SELECT * FROM range(3)']) {
    result.rows.push(await query(session, sql));
  }
  try {
    await query(session, 'SELECT a FROM missing_table');
    result.errors.push('no error');
  } catch (error) {
    result.errors.push((error as Error).message);
  }
  return result;
}

interface Run {
  app: AppResult;
  batches: string[][];
  received: string[];
  counts: RequestCounts;
  logger: RecordingLogger;
  requests: TelemetryRequestHooks;
  closeMs: number;
  rejections: unknown[];
}

interface RunSpec {
  telemetry?: boolean;
  target?: FaultTarget;
  steps?: FaultStep | FaultStep[];
  options?: Record<string, unknown>;
  hooks?: TelemetryRequestHooks['hooks'];
  /** Runs between openSession and the workload. */
  afterOpen?: (run: { logger: RecordingLogger }) => Promise<void>;
  /** Runs after the workload, with the session still open. */
  afterWorkload?: (session: Session, run: { logger: RecordingLogger }) => Promise<void>;
  /** True once nothing more is expected before close. */
  settled?: (state: { batches: string[][]; busy: boolean; logger: RecordingLogger }) => boolean;
}

describe('proof: telemetry fault matrix', function () {
  this.timeout(20000);

  let emulator: Emulator;
  let forwarder: Forwarder;
  let baselineLines: string[];

  async function run(spec: RunSpec): Promise<Run> {
    emulator.faults.clear();
    emulator.telemetry.clear();
    emulator.resetRequestCounts();
    await forwarder.up();
    const watch = new RejectionWatch();
    watch.install();
    let hooked: TelemetryRequestHooks | undefined;
    try {
      const logger = new RecordingLogger();
      const auth = new PatAuth(emulator.token);
      const requests = new TelemetryRequestHooks();
      requests.hooks = spec.hooks ?? {};
      requests.install();
      hooked = requests;
      const { provider, batches, busy } = watchedProvider();
      if (spec.target && spec.steps) {
        emulator.faults.set(spec.target, spec.steps);
      }
      const client = await connectClient({
        emulator,
        logger,
        provider,
        auth,
        port: forwarder.port,
        options: spec.telemetry === false ? { telemetryEnabled: false } : { ...FAST_TELEMETRY, ...spec.options },
      });
      const session = await client.openSession();
      await spec.afterOpen?.({ logger });
      const app = await workload(session);
      await spec.afterWorkload?.(session, { logger });
      await session.close();
      if (spec.settled) {
        const { settled } = spec;
        await waitFor(() => settled({ batches, busy: busy(), logger }), 8000, 'telemetry to settle');
      }
      const started = Date.now();
      await client.close();
      const closeMs = Date.now() - started;
      await sleep(20);
      return {
        app,
        batches,
        received: receivedEventIds(emulator),
        counts: emulator.requestCounts(),
        logger,
        requests,
        closeMs,
        rejections: [...watch.reasons],
      };
    } finally {
      hooked?.uninstall();
      watch.uninstall();
      emulator.faults.clear();
    }
  }

  /** What holds whatever the fault: the app is unaffected, nothing escapes, nothing is logged above debug. */
  function expectHarmless(result: Run): void {
    expect(result.app).to.deep.equal(EXPECTED_APP);
    expect(result.rejections, 'unhandled rejections').to.deep.equal([]);
    expect(result.logger.aboveDebug(), 'log lines above debug').to.deep.equal(baselineLines);
    expect(result.closeMs, 'close() time').to.be.below(FAST_TELEMETRY.telemetryCloseTimeoutMs + 1000);
  }

  const allExported = (batches: string[][]) => batches.reduce((sum, batch) => sum + batch.length, 0);
  /** Every log was handed to the exporter and its last export finished. */
  const exportedAll = ({ batches, busy }: { batches: string[][]; busy: boolean }) =>
    allExported(batches) === LOGS_PER_RUN && !busy;

  before(async () => {
    emulator = await startEmulator();
    forwarder = new Forwarder({ host: emulator.host, port: emulator.port });
    await forwarder.up();
    const baseline = await run({ telemetry: false });
    expect(baseline.app, 'telemetry-off baseline').to.deep.equal(EXPECTED_APP);
    expect(baseline.counts.telemetryExt + baseline.counts.featureFlags).to.equal(0);
    baselineLines = baseline.logger.aboveDebug();
  });

  after(async () => {
    await forwarder?.down();
    await emulator?.close();
  });

  it('without faults: every log delivered exactly once, one request per batch', async () => {
    const result = await run({ settled: exportedAll });
    expectHarmless(result);
    expect(result.received).to.have.members(result.batches.flat());
    expect(result.received).to.have.length(LOGS_PER_RUN);
    expect(result.counts.telemetryExt).to.equal(result.batches.length);
    expect(result.counts.featureFlags).to.equal(1);
    const statementLogs = emulator.telemetry.logs().filter((log) => JSON.stringify(log).includes('sql_statement_id'));
    expect(statementLogs).to.have.length(3);
  });

  describe('telemetry endpoint, fault on the first 2 upload requests (within the retry budget of 3)', () => {
    /** Retried: the first batch needs 2 extra requests, then every log arrives exactly once. */
    function expectRetriedAndDelivered(result: Run): void {
      expectHarmless(result);
      expect(allExported(result.batches)).to.equal(LOGS_PER_RUN);
      expect(
        [...countBy(result.received).values()].every((n) => n === 1),
        'no duplicate frontend_log_event_id',
      ).to.equal(true);
      expect(result.received).to.have.members(result.batches.flat());
      expect(result.counts.telemetryExt).to.equal(result.batches.length + 2);
    }

    /** Not retried: the first two batches are gone (or unrecorded), the rest arrive once, one request each. */
    function expectFirstTwoBatchesLost(result: Run): void {
      expectHarmless(result);
      expect(allExported(result.batches)).to.equal(LOGS_PER_RUN);
      expect(result.received).to.have.members(result.batches.slice(2).flat());
      expect(result.counts.telemetryExt).to.equal(result.batches.length);
    }

    for (const status of [500, 503]) {
      it(`HTTP ${status}: retried with backoff, then delivered once`, async () => {
        const result = await run({
          target: 'telemetry',
          steps: { kind: 'status', status, times: 2 },
          settled: exportedAll,
        });
        expectRetriedAndDelivered(result);
      });
    }

    it('HTTP 429 with Retry-After: waits as told (capped by retryAfterMaxMs), then delivered once', async () => {
      const result = await run({
        target: 'telemetry',
        steps: { kind: 'status', status: 429, retryAfterSeconds: 1, times: 2 },
        options: { telemetryRetryAfterMaxMs: 200 },
        settled: exportedAll,
      });
      expectRetriedAndDelivered(result);
      expect(result.logger.has(/attempt 1 failed \(.*HTTP 429\), retrying in 200 ms/)).to.equal(true);
      expect(result.logger.has(/attempt 2 failed \(.*HTTP 429\), retrying in 200 ms/)).to.equal(true);
    });

    for (const status of [401, 403, 404]) {
      it(`HTTP ${status}: terminal, the failed batches are dropped without retry, later ones delivered once`, async () => {
        const result = await run({
          target: 'telemetry',
          steps: { kind: 'status', status, times: 2 },
          settled: exportedAll,
        });
        expectFirstTwoBatchesLost(result);
        expect(result.logger.has(new RegExp(`not retryable \\(.*HTTP ${status}\\)`))).to.equal(true);
      });
    }

    it('hang: each attempt times out at requestTimeoutMs, retried, then delivered once', async () => {
      const result = await run({ target: 'telemetry', steps: { kind: 'hang', times: 2 }, settled: exportedAll });
      expectRetriedAndDelivered(result);
    });

    it('connection reset: retried, then delivered once', async () => {
      const result = await run({ target: 'telemetry', steps: { kind: 'reset', times: 2 }, settled: exportedAll });
      expectRetriedAndDelivered(result);
    });

    it('connection refused (host down while the app is idle): retried, then delivered once', async () => {
      // The telemetry target is the connection's own host:port, so it cannot be made unreachable
      // alone; the host refuses connections between the app's last call and the upload attempts.
      const refusedProbes: boolean[] = [];
      const result = await run({
        // Only the final flush at close uploads, so the host can go down while the app is idle.
        options: { telemetryFlushIntervalMs: 60000 },
        hooks: {
          upload: async (call) => {
            if (call === 1) {
              await forwarder.down();
              await sleep(30);
            }
            if (call <= 2) {
              refusedProbes.push(!(await accepts(emulator.host, forwarder.port)));
            }
            if (call === 3) {
              await forwarder.up();
            }
          },
        },
      });
      expectHarmless(result);
      expect(refusedProbes).to.deep.equal([true, true]);
      expect(result.logger.has(/attempt 1 failed/)).to.equal(true);
      expect(result.logger.has(/attempt 2 failed/)).to.equal(true);
      expect(result.batches).to.have.length(1);
      expect(result.received).to.have.members(result.batches[0]);
      expect(result.received).to.have.length(LOGS_PER_RUN);
      expect(result.requests.calls.upload).to.equal(3);
      expect(result.counts.telemetryExt).to.equal(1);
    });

    it('malformed 200 answer: counted as delivered, not re-sent (the emulator recorded nothing)', async () => {
      const result = await run({ target: 'telemetry', steps: { kind: 'malformed', times: 2 }, settled: exportedAll });
      expectFirstTwoBatchesLost(result);
      expect(result.logger.has(/unreadable success response/)).to.equal(true);
    });

    it('slow drip within the request timeout: delivered once, no retry', async () => {
      const result = await run({
        target: 'telemetry',
        steps: { kind: 'drip', intervalMs: 2, times: 2 },
        settled: exportedAll,
      });
      expectHarmless(result);
      expect(result.received).to.have.members(result.batches.flat());
      expect(result.received).to.have.length(LOGS_PER_RUN);
      expect(result.counts.telemetryExt).to.equal(result.batches.length);
    });

    it('slow drip beyond the request timeout: a timeout is retried, so the first batch arrives 3 times (at-least-once)', async () => {
      // Documented design: timeouts are retryable. The server had already kept the logs, so the
      // re-sends duplicate them; they keep their frontend_log_event_id, so the server can dedupe.
      const result = await run({
        target: 'telemetry',
        steps: { kind: 'drip', intervalMs: 20, times: 2 },
        settled: exportedAll,
      });
      expectHarmless(result);
      const counts = countBy(result.received);
      const [first, ...rest] = result.batches;
      for (const id of first) {
        expect(counts.get(id), `copies of ${id}`).to.equal(3);
      }
      for (const id of rest.flat()) {
        expect(counts.get(id), `copies of ${id}`).to.equal(1);
      }
      expect(counts.size).to.equal(LOGS_PER_RUN);
      expect(result.counts.telemetryExt).to.equal(result.batches.length + 2);
    });

    it('partial success: the accepted part arrives, the rest is never re-sent', async () => {
      const result = await run({
        target: 'telemetry',
        steps: { kind: 'partial', accepted: 1, times: 2 },
        settled: exportedAll,
      });
      expectHarmless(result);
      const [first, second, ...rest] = result.batches;
      const expected = [first[0], ...(second ? [second[0]] : []), ...rest.flat()];
      expect(result.received).to.have.members(expected);
      expect(result.received).to.have.length(expected.length);
      expect(result.counts.telemetryExt).to.equal(result.batches.length);
      expect(result.logger.has(/server kept 1 of \d+ logs; not re-sending/) || first.length === 1).to.equal(true);
    });
  });

  describe('telemetry endpoint, a fault that never ends', () => {
    const forever: Array<[string, FaultStep]> = [
      ['HTTP 503', { kind: 'status', status: 503, times: 'forever' }],
      ['HTTP 429 with Retry-After', { kind: 'status', status: 429, retryAfterSeconds: 1, times: 'forever' }],
      ['HTTP 401', { kind: 'status', status: 401, times: 'forever' }],
      ['connection reset', { kind: 'reset', times: 'forever' }],
      ['hang', { kind: 'hang', times: 'forever' }],
    ];
    for (const [name, step] of forever) {
      it(`${name}: at most circuitBreakerThreshold requests, nothing delivered, close() bounded`, async () => {
        const result = await run({
          target: 'telemetry',
          steps: step,
          options: { telemetryRetryAfterMaxMs: 50 },
          settled: exportedAll,
        });
        expectHarmless(result);
        expect(result.received).to.deep.equal([]);
        expect(result.counts.telemetryExt).to.be.at.least(1);
        expect(result.counts.telemetryExt).to.be.at.most(FAST_TELEMETRY.telemetryCircuitBreakerThreshold);
      });
    }
  });

  describe('feature-flag endpoint, one failed fetch', () => {
    const FLAG_DECIDED = /telemetry feature flag for .*disabled for/;

    interface FlagCase {
      name: string;
      steps?: FaultStep;
      refused?: boolean;
      /** The fault does not apply to this endpoint: telemetry works as without faults. */
      harmless?: boolean;
    }

    const cases: FlagCase[] = [
      { name: 'HTTP 500', steps: { kind: 'status', status: 500 } },
      { name: 'HTTP 503', steps: { kind: 'status', status: 503 } },
      { name: 'HTTP 429 with Retry-After', steps: { kind: 'status', status: 429, retryAfterSeconds: 1 } },
      { name: 'HTTP 401', steps: { kind: 'status', status: 401 } },
      { name: 'HTTP 403', steps: { kind: 'status', status: 403 } },
      { name: 'HTTP 404', steps: { kind: 'status', status: 404 } },
      { name: 'hang', steps: { kind: 'hang' } },
      { name: 'connection reset', steps: { kind: 'reset' } },
      { name: 'connection refused', refused: true },
      { name: 'malformed JSON', steps: { kind: 'malformed' } },
      { name: 'slow drip beyond the request timeout', steps: { kind: 'drip', intervalMs: 20 } },
      {
        name: 'partial (a telemetry-only fault: the flag answers normally)',
        steps: { kind: 'partial', accepted: 0 },
        harmless: true,
      },
    ];

    for (const flagCase of cases) {
      const title = flagCase.harmless
        ? `${flagCase.name}: telemetry unaffected, every log delivered once`
        : `${flagCase.name}: disabled for the failure TTL (logs dropped, no upload), then held and sent once it answers`;
      it(title, async () => {
        const ids: string[] = [];
        const result = await run({
          target: 'featureFlags',
          steps: flagCase.steps,
          hooks: flagCase.refused
            ? {
                flags: async (call) => {
                  if (call === 1) {
                    await forwarder.down();
                    await sleep(30);
                    expect(await accepts(emulator.host, forwarder.port)).to.equal(false);
                  }
                },
              }
            : {},
          afterOpen: async ({ logger }) => {
            if (flagCase.refused) {
              // The host is down only while the app waits for the flag to be decided.
              await waitFor(() => logger.has(FLAG_DECIDED), 3000, 'the failed flag fetch');
              await forwarder.up();
            }
          },
          afterWorkload: async (session, { logger }) => {
            if (flagCase.harmless) {
              return;
            }
            await waitFor(() => logger.has(FLAG_DECIDED), 3000, 'the failed flag fetch');
            const decidedAt = logger.first(FLAG_DECIDED)?.at ?? 0;
            await sleep(150);
            // Phase 1 is over: nothing reached the telemetry endpoint.
            expect(emulator.requestCounts().telemetryExt, 'uploads while disabled').to.equal(0);
            expect(emulator.requestCounts().featureFlags, 'flag requests').to.equal(flagCase.refused ? 0 : 1);
            // Recovery: once the failure TTL is over, the idle connection observes again (a timer,
            // given slack here) and the flag is fetched again in the background; the logs are held
            // until the answer, then sent.
            await waitFor(() => Date.now() > decidedAt + FAST_TELEMETRY.telemetryFeatureFlagFailureTtlMs + 100, 3000);
            const trigger = await session.executeStatement('SELECT 2');
            await trigger.fetchAll();
            await trigger.close();
            ids.push(trigger.id);
            await waitFor(
              () => emulator.requestCounts().featureFlags === (flagCase.refused ? 1 : 2),
              3000,
              'the flag refresh',
            );
            await sleep(100);
            const after = await session.executeStatement('SELECT 3');
            expect(await after.fetchAll()).to.deep.equal([{ 3: 3 }]);
            await after.close();
            ids.push(after.id);
          },
          settled: ({ busy }) =>
            flagCase.harmless ||
            (receivedStatementIds().includes(ids[0]) && receivedStatementIds().includes(ids[1]) && !busy),
        });
        expectHarmless(result);
        if (flagCase.harmless) {
          expect(result.received).to.have.length(LOGS_PER_RUN);
          expect(result.received).to.have.members(result.batches.flat());
          return;
        }
        // Only the statements run after the failure expired are reported, each exactly once.
        expect(receivedStatementIds()).to.have.members([ids[0], ids[1]]);
        expect(result.received).to.have.length(2);
        expect(result.counts.featureFlags).to.equal(flagCase.refused ? 1 : 2);
      });
    }
  });

  function receivedStatementIds(): string[] {
    return emulator.telemetry
      .logs()
      .map(
        (log) =>
          (log as { entry?: { sql_driver_log?: { sql_statement_id?: string } } }).entry?.sql_driver_log
            ?.sql_statement_id,
      )
      .filter((id): id is string => typeof id === 'string');
  }
});
