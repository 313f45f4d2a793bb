import { expect } from 'chai';
import sinon from 'sinon';
import { LogLevel } from '@databricks/sql/dist/contracts/IDBSQLLogger';
import RetryingTransport from '../../../../lib/telemetry/export/RetryingTransport';
import { UploadBatch, UploadResult } from '../../../../lib/telemetry/contracts/ITelemetryTransport';
import { TelemetryConfiguration } from '../../../../lib/telemetry/types';
import ClientContextStub from '../../.stubs/ClientContextStub';
import ScriptedTransport, { ScriptStep } from './ScriptedTransport';

const NOW = 1_000_000;

const SUCCESS: UploadResult = { outcome: 'success', kept: 3 };

function retryable(reason = 'TelemetryHttpError HTTP 503', retryAfterMs?: number): UploadResult {
  return retryAfterMs === undefined ? { outcome: 'retryable', reason } : { outcome: 'retryable', reason, retryAfterMs };
}

function batch(): UploadBatch {
  return { count: 3, body: '{}', unauthenticated: false };
}

const RETRY_LINE = /^telemetry export: attempt (\d+) failed \((.*)\), retrying in (\d+) ms$/;

describe('RetryingTransport', () => {
  let clock: sinon.SinonFakeTimers;
  let context: ClientContextStub;
  let shutdown: AbortController;
  let random: sinon.SinonStub<[], number>;

  function retrying(
    script: ScriptStep[],
    config: Partial<TelemetryConfiguration> = {},
  ): { transport: RetryingTransport; inner: ScriptedTransport } {
    context.config = { ...context.config, ...config };
    const inner = new ScriptedTransport(script);
    return { transport: new RetryingTransport(context, inner, shutdown.signal), inner };
  }

  /** The retry lines logged so far, parsed. */
  function retryLines(): Array<{ attempt: number; reason: string; delayMs: number }> {
    return context.logger.lines
      .map((line) => RETRY_LINE.exec(line.message))
      .filter((match): match is RegExpExecArray => match !== null)
      .map((match) => ({ attempt: Number(match[1]), reason: match[2], delayMs: Number(match[3]) }));
  }

  /** Follows a pending send without awaiting it, so the test can move the clock. */
  function track(promise: Promise<UploadResult>): { result?: UploadResult; done: Promise<UploadResult> } {
    const tracked: { result?: UploadResult; done: Promise<UploadResult> } = { done: promise };
    promise.then((result) => (tracked.result = result));
    return tracked;
  }

  beforeEach(() => {
    clock = sinon.useFakeTimers({ now: NOW });
    context = new ClientContextStub({ maxRetries: 3, backoffBaseMs: 100, backoffMaxMs: 1000 });
    shutdown = new AbortController();
    random = sinon.stub(Math, 'random').returns(0.5);
  });

  afterEach(() => {
    sinon.restore();
    clock.restore();
    expect(context.logger.aboveDebug(), 'log lines above debug').to.be.empty;
  });

  describe('outcomes', () => {
    it('returns a first-attempt success unchanged, after one attempt and no wait', async () => {
      const { transport, inner } = retrying([SUCCESS]);
      const b = batch();
      expect(await transport.send(b)).to.equal(SUCCESS);
      expect(inner.attempts).to.deep.equal([0]);
      expect(inner.calls[0].batch).to.equal(b);
      expect(random.called).to.be.false;
      expect(retryLines()).to.be.empty;
    });

    it('returns a dropped result unchanged and does not retry it', async () => {
      const dropped: UploadResult = { outcome: 'dropped', reason: 'circuit breaker open' };
      const { transport, inner } = retrying([dropped, SUCCESS]);
      expect(await transport.send(batch())).to.equal(dropped);
      expect(inner.attempts).to.deep.equal([0]);
    });

    it('does not retry a failure; says it was not retryable and keeps credentialRefused', async () => {
      const { transport, inner } = retrying([
        { outcome: 'failure', reason: 'TelemetryHttpError HTTP 401', credentialRefused: true },
        SUCCESS,
      ]);
      expect(await transport.send(batch())).to.deep.equal({
        outcome: 'failure',
        reason: 'not retryable (TelemetryHttpError HTTP 401)',
        credentialRefused: true,
      });
      expect(inner.attempts).to.deep.equal([0]);
      expect(retryLines()).to.be.empty;
    });

    it('a failure after retries is reported the same way', async () => {
      const { transport, inner } = retrying([
        retryable(),
        { outcome: 'failure', reason: 'TelemetryHttpError HTTP 400', credentialRefused: false },
      ]);
      const pending = transport.send(batch());
      await clock.tickAsync(1000);
      expect(await pending).to.deep.equal({
        outcome: 'failure',
        reason: 'not retryable (TelemetryHttpError HTTP 400)',
        credentialRefused: false,
      });
      expect(inner.attempts).to.deep.equal([0, 1]);
    });

    it('retries a retryable result and returns the success that follows, same batch, next attempt number', async () => {
      const { transport, inner } = retrying([retryable(), retryable(), SUCCESS]);
      const b = batch();
      const pending = transport.send(b);
      await clock.tickAsync(1000);
      expect(await pending).to.equal(SUCCESS);
      expect(inner.attempts).to.deep.equal([0, 1, 2]);
      expect(inner.calls.every((call) => call.batch === b)).to.be.true;
    });

    it('makes 1 + maxRetries attempts, then gives up naming the last reason', async () => {
      const { transport, inner } = retrying(
        [retryable('Error'), retryable('TimeoutError'), retryable('TelemetryHttpError HTTP 429')],
        { maxRetries: 2 },
      );
      const pending = transport.send(batch());
      await clock.tickAsync(10_000);
      expect(await pending).to.deep.equal({
        outcome: 'dropped',
        reason: 'retries exhausted (TelemetryHttpError HTTP 429)',
      });
      expect(inner.attempts).to.deep.equal([0, 1, 2]);
    });

    it('maxRetries 0 makes exactly one attempt and never waits', async () => {
      const { transport, inner } = retrying([retryable('TimeoutError', 5000)], { maxRetries: 0 });
      const tracked = track(transport.send(batch()));
      await clock.tickAsync(0);
      expect(tracked.result).to.deep.equal({ outcome: 'dropped', reason: 'retries exhausted (TimeoutError)' });
      expect(inner.attempts).to.deep.equal([0]);
      expect(retryLines()).to.be.empty;
      expect(clock.countTimers()).to.equal(0);
    });

    for (const maxRetries of [-1, NaN]) {
      it(`an invalid maxRetries (${maxRetries}) allows no attempt`, async () => {
        const { transport, inner } = retrying([SUCCESS], { maxRetries });
        expect(await transport.send(batch())).to.deep.equal({ outcome: 'dropped', reason: 'no attempt allowed' });
        expect(inner.calls).to.be.empty;
      });
    }

    it('reads maxRetries on every upload', async () => {
      const { transport, inner } = retrying([retryable()], { maxRetries: 0 });
      await transport.send(batch());
      expect(inner.calls).to.have.length(1);
      context.config = { ...context.config, maxRetries: 1 };
      const pending = transport.send(batch());
      await clock.tickAsync(1000);
      await pending;
      expect(inner.attempts).to.deep.equal([0, 0, 1]);
    });
  });

  describe('backoff', () => {
    it('waits random * min(backoffMaxMs, backoffBaseMs * 2^attempt) before each retry', async () => {
      // random 0.5: caps 100, 200, 400, 800, 1000 (capped) -> waits 50, 100, 200, 400, 500.
      const { transport, inner } = retrying([retryable()], { maxRetries: 5, backoffBaseMs: 100, backoffMaxMs: 1000 });
      const tracked = track(transport.send(batch()));
      await clock.tickAsync(0);
      expect(inner.calls).to.have.length(1);
      for (const [index, wait] of [50, 100, 200, 400, 500].entries()) {
        await clock.tickAsync(wait - 1);
        expect(inner.calls, `before retry ${index + 1}`).to.have.length(index + 1);
        await clock.tickAsync(1);
        expect(inner.calls, `at retry ${index + 1}`).to.have.length(index + 2);
      }
      expect(tracked.result).to.deep.equal({
        outcome: 'dropped',
        reason: 'retries exhausted (TelemetryHttpError HTTP 503)',
      });
      expect(Date.now() - NOW).to.equal(50 + 100 + 200 + 400 + 500);
      expect(random.callCount).to.equal(5);
    });

    it('full jitter stays within [0, cap] for any Math.random value', async () => {
      // caps 100, 200, 300, 300, 300; random values span [0, 1).
      const values = [0, 0.999999, 0.25, 0.999999, 0.1];
      values.forEach((value, index) => random.onCall(index).returns(value));
      const caps = [100, 200, 300, 300, 300];
      const { transport, inner } = retrying([retryable()], { maxRetries: 5, backoffBaseMs: 100, backoffMaxMs: 300 });
      const tracked = track(transport.send(batch()));
      await clock.tickAsync(0);
      for (let i = 0; i < values.length; i += 1) {
        const before = Date.now();
        while (inner.calls.length < i + 2 && Date.now() - before <= caps[i]) {
          await clock.tickAsync(1);
        }
        expect(inner.calls, `retry ${i + 1} within its cap`).to.have.length(i + 2);
        const waited = Date.now() - before;
        expect(waited, `retry ${i + 1}`).to.be.within(0, caps[i]);
        expect(waited, `retry ${i + 1}`).to.be.within(Math.floor(values[i] * caps[i]), Math.ceil(values[i] * caps[i]));
      }
      await tracked.done;
      expect(retryLines().map((line) => line.delayMs)).to.deep.equal(
        values.map((value, index) => Math.round(value * caps[index])),
      );
    });

    it('Math.random of 0 retries at once', async () => {
      random.returns(0);
      const { transport, inner } = retrying([retryable(), retryable(), SUCCESS], { backoffBaseMs: 10_000 });
      const tracked = track(transport.send(batch()));
      // A zero-delay timer still runs on a later turn: a millisecond at most each.
      await clock.tickAsync(2);
      expect(tracked.result).to.equal(SUCCESS);
      expect(inner.calls).to.have.length(3);
      expect(retryLines().map((line) => line.delayMs)).to.deep.equal([0, 0]);
    });

    it('logs one debug line per retry with the attempt, the reason and the wait, none for the last attempt', async () => {
      const { transport } = retrying([retryable('Error'), retryable('TimeoutError', 1500), retryable('Last')], {
        maxRetries: 2,
      });
      const pending = transport.send(batch());
      await clock.tickAsync(5000);
      await pending;
      expect(retryLines()).to.deep.equal([
        { attempt: 1, reason: 'Error', delayMs: 50 },
        { attempt: 2, reason: 'TimeoutError', delayMs: 1500 },
      ]);
      expect(context.logger.lines.every((line) => line.level === LogLevel.debug)).to.be.true;
      expect(context.logger.has(/Last/)).to.be.false;
    });
  });

  describe('Retry-After', () => {
    it("waits the server's Retry-After instead of the backoff", async () => {
      const { transport, inner } = retrying([retryable('TelemetryHttpError HTTP 429', 3000), SUCCESS]);
      const tracked = track(transport.send(batch()));
      await clock.tickAsync(2999);
      expect(inner.calls).to.have.length(1);
      await clock.tickAsync(1);
      expect(inner.calls).to.have.length(2);
      expect(await tracked.done).to.equal(SUCCESS);
      expect(random.called, 'Math.random').to.be.false;
    });

    it('honours a Retry-After longer than backoffMaxMs', async () => {
      const { transport, inner } = retrying([retryable('TelemetryHttpError HTTP 503', 5000), SUCCESS], {
        backoffMaxMs: 1000,
      });
      const tracked = track(transport.send(batch()));
      await clock.tickAsync(4999);
      expect(inner.calls).to.have.length(1);
      await clock.tickAsync(1);
      expect(await tracked.done).to.equal(SUCCESS);
    });

    it('a Retry-After of 0 retries at once, without backoff', async () => {
      random.returns(0.99);
      const { transport, inner } = retrying([retryable('TelemetryHttpError HTTP 503', 0), SUCCESS], {
        backoffBaseMs: 10_000,
        backoffMaxMs: 10_000,
      });
      const tracked = track(transport.send(batch()));
      await clock.tickAsync(0);
      expect(tracked.result).to.equal(SUCCESS);
      expect(inner.calls).to.have.length(2);
      expect(random.called).to.be.false;
    });

    it('falls back to backoff on the next retry when only the first answer had a Retry-After', async () => {
      const { transport, inner } = retrying([retryable('A', 2000), retryable('B'), SUCCESS]);
      const tracked = track(transport.send(batch()));
      await clock.tickAsync(2000);
      expect(inner.calls).to.have.length(2);
      await clock.tickAsync(99); // 0.5 * min(1000, 100 * 2^1)
      expect(inner.calls).to.have.length(2);
      await clock.tickAsync(1);
      expect(inner.calls).to.have.length(3);
      expect(await tracked.done).to.equal(SUCCESS);
    });
  });

  describe('shutdown', () => {
    it('makes no attempt once shut down', async () => {
      shutdown.abort();
      const { transport, inner } = retrying([SUCCESS]);
      expect(await transport.send(batch())).to.deep.equal({ outcome: 'dropped', reason: 'shut down' });
      expect(inner.calls).to.be.empty;
    });

    it('ends a Retry-After wait at once, with no further attempt and no timer left', async () => {
      const { transport, inner } = retrying([retryable('TelemetryHttpError HTTP 503', 10_000), SUCCESS]);
      const tracked = track(transport.send(batch()));
      await clock.tickAsync(100);
      expect(inner.calls).to.have.length(1);
      expect(clock.countTimers()).to.equal(1);
      shutdown.abort();
      expect(await tracked.done).to.deep.equal({ outcome: 'dropped', reason: 'shut down' });
      expect(Date.now()).to.equal(NOW + 100);
      expect(inner.calls).to.have.length(1);
      expect(clock.countTimers()).to.equal(0);
    });

    it('ends a backoff wait at once', async () => {
      random.returns(0.999);
      const { transport, inner } = retrying([retryable()], { backoffBaseMs: 60_000, backoffMaxMs: 60_000 });
      const tracked = track(transport.send(batch()));
      await clock.tickAsync(10);
      shutdown.abort();
      expect(await tracked.done).to.deep.equal({ outcome: 'dropped', reason: 'shut down' });
      expect(Date.now()).to.equal(NOW + 10);
      expect(inner.calls).to.have.length(1);
    });

    it('a shutdown during an attempt stops the retries that would follow', async () => {
      const { transport, inner } = retrying([
        async () => {
          shutdown.abort();
          return retryable('TelemetryHttpError HTTP 503', 10_000);
        },
        SUCCESS,
      ]);
      const tracked = track(transport.send(batch()));
      await clock.tickAsync(0);
      expect(tracked.result).to.deep.equal({ outcome: 'dropped', reason: 'shut down' });
      expect(inner.calls).to.have.length(1);
      expect(Date.now()).to.equal(NOW);
    });
  });
});
