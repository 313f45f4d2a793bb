import { expect } from 'chai';
import sinon from 'sinon';
import BreakerGuard from '../../../../lib/telemetry/export/BreakerGuard';
import CircuitBreaker, { CircuitBreakerState } from '../../../../lib/telemetry/CircuitBreaker';
import ITelemetryTransport, {
  UploadBatch,
  UploadResult,
} from '../../../../lib/telemetry/contracts/ITelemetryTransport';
import ClientContextStub from '../../.stubs/ClientContextStub';
import ScriptedTransport from './ScriptedTransport';

const SUCCESS: UploadResult = { outcome: 'success', kept: 1 };
const RETRYABLE: UploadResult = { outcome: 'retryable', reason: 'TelemetryHttpError HTTP 503' };
const REFUSED: UploadResult = { outcome: 'failure', reason: 'TelemetryHttpError HTTP 401', credentialRefused: true };
const BAD_REQUEST: UploadResult = {
  outcome: 'failure',
  reason: 'TelemetryHttpError HTTP 400',
  credentialRefused: false,
};
const DROPPED: UploadResult = { outcome: 'dropped', reason: 'shut down' };

const HOST_OPEN: UploadResult = { outcome: 'dropped', reason: 'circuit breaker open' };
const CREDENTIAL_PAUSED: UploadResult = { outcome: 'dropped', reason: 'credential refused by the server; paused' };

const THRESHOLD = 3;
const TIMEOUT_MS = 60_000;

function signedIn(): UploadBatch {
  return { count: 1, body: '{}', unauthenticated: false };
}

function unauthenticated(): UploadBatch {
  return { count: 1, body: '{}', unauthenticated: true };
}

describe('BreakerGuard', () => {
  let clock: sinon.SinonFakeTimers;
  let context: ClientContextStub;
  let host: CircuitBreaker;
  let credential: CircuitBreaker;

  function guard(inner: ITelemetryTransport): BreakerGuard {
    return new BreakerGuard(inner, host, credential);
  }

  async function sendTimes(g: BreakerGuard, batch: () => UploadBatch, times: number): Promise<UploadResult[]> {
    const results: UploadResult[] = [];
    for (let i = 0; i < times; i += 1) {
      results.push(await g.send(batch(), i));
    }
    return results;
  }

  beforeEach(() => {
    clock = sinon.useFakeTimers({ now: 1_000_000 });
    context = new ClientContextStub({
      circuitBreakerThreshold: THRESHOLD,
      circuitBreakerTimeoutMs: TIMEOUT_MS,
      circuitBreakerSuccessThreshold: 1,
    });
    host = new CircuitBreaker(context, 'host');
    credential = new CircuitBreaker(context, 'credential');
  });

  afterEach(() => {
    clock.restore();
    expect(context.logger.aboveDebug(), 'log lines above debug').to.be.empty;
  });

  it("passes the batch and attempt number through and returns the inner transport's result unchanged", async () => {
    const inner = new ScriptedTransport([SUCCESS]);
    const batch = signedIn();
    expect(await guard(inner).send(batch, 2)).to.equal(SUCCESS);
    expect(inner.calls).to.have.length(1);
    expect(inner.calls[0].batch).to.equal(batch);
    expect(inner.calls[0].attempt).to.equal(2);
  });

  describe('host breaker', () => {
    it(`opens after ${THRESHOLD} retryable results in a row; later sends are dropped without reaching the endpoint`, async () => {
      const inner = new ScriptedTransport([RETRYABLE]);
      const g = guard(inner);
      const results = await sendTimes(g, signedIn, THRESHOLD - 1);
      expect(results).to.deep.equal([RETRYABLE, RETRYABLE]);
      expect(host.getState()).to.equal(CircuitBreakerState.CLOSED);

      expect(await g.send(signedIn(), 0)).to.equal(RETRYABLE);
      expect(host.getState()).to.equal(CircuitBreakerState.OPEN);
      expect(credential.getState(), 'credential breaker').to.equal(CircuitBreakerState.CLOSED);

      expect(await g.send(signedIn(), 0)).to.deep.equal(HOST_OPEN);
      expect(await g.send(unauthenticated(), 0)).to.deep.equal(HOST_OPEN);
      expect(inner.calls).to.have.length(THRESHOLD);
    });

    it('counts a failure that does not refuse the credential against the host', async () => {
      const inner = new ScriptedTransport([BAD_REQUEST]);
      const g = guard(inner);
      await sendTimes(g, signedIn, THRESHOLD);
      expect(host.getState()).to.equal(CircuitBreakerState.OPEN);
      expect(credential.getState()).to.equal(CircuitBreakerState.CLOSED);
    });

    it('a success resets the count of failures in a row', async () => {
      const inner = new ScriptedTransport([RETRYABLE, RETRYABLE, SUCCESS, RETRYABLE, RETRYABLE]);
      await sendTimes(guard(inner), signedIn, 5);
      expect(host.getState()).to.equal(CircuitBreakerState.CLOSED);
      expect(inner.calls).to.have.length(5);
    });

    it('a dropped result counts against neither breaker', async () => {
      const inner = new ScriptedTransport([DROPPED]);
      const g = guard(inner);
      const results = await sendTimes(g, signedIn, THRESHOLD * 3);
      expect(results).to.deep.equal(new Array(THRESHOLD * 3).fill(DROPPED));
      expect(host.getState()).to.equal(CircuitBreakerState.CLOSED);
      expect(credential.getState()).to.equal(CircuitBreakerState.CLOSED);
      expect(inner.calls).to.have.length(THRESHOLD * 3);
    });

    it('a dropped result between failures does not reset their count either', async () => {
      const inner = new ScriptedTransport([RETRYABLE, RETRYABLE, DROPPED, RETRYABLE]);
      await sendTimes(guard(inner), signedIn, 4);
      expect(host.getState()).to.equal(CircuitBreakerState.OPEN);
    });

    it('a refused host permit does not take a credential permit (no credential trial is spent)', async () => {
      // Credential breaker HALF_OPEN, host OPEN.
      await sendTimes(guard(new ScriptedTransport([REFUSED])), signedIn, THRESHOLD);
      clock.tick(TIMEOUT_MS);
      await sendTimes(guard(new ScriptedTransport([RETRYABLE])), unauthenticated, THRESHOLD);
      expect(credential.getState()).to.equal(CircuitBreakerState.HALF_OPEN);
      expect(host.getState()).to.equal(CircuitBreakerState.OPEN);

      const inner = new ScriptedTransport([SUCCESS]);
      expect(await guard(inner).send(signedIn(), 0)).to.deep.equal(HOST_OPEN);
      expect(inner.calls).to.be.empty;
      expect(credential.isRequestAllowed(), 'credential trial still free').to.be.true;
    });
  });

  describe('credential breaker', () => {
    it(`a 401/403 counts against the credential only; after ${THRESHOLD} the credential is paused`, async () => {
      const inner = new ScriptedTransport([REFUSED]);
      const g = guard(inner);
      const results = await sendTimes(g, signedIn, THRESHOLD);
      expect(results).to.deep.equal([REFUSED, REFUSED, REFUSED]);
      expect(credential.getState()).to.equal(CircuitBreakerState.OPEN);
      expect(host.getState(), 'host breaker').to.equal(CircuitBreakerState.CLOSED);

      expect(await g.send(signedIn(), 0)).to.deep.equal(CREDENTIAL_PAUSED);
      expect(inner.calls).to.have.length(THRESHOLD);
    });

    it('credential refusals never open the host breaker, however many', async () => {
      await sendTimes(guard(new ScriptedTransport([REFUSED])), signedIn, THRESHOLD * 4);
      expect(host.getState()).to.equal(CircuitBreakerState.CLOSED);
      expect(host.isRequestAllowed()).to.be.true;
    });

    it('unauthenticated batches bypass a paused credential and still reach the endpoint', async () => {
      await sendTimes(guard(new ScriptedTransport([REFUSED])), signedIn, THRESHOLD);
      expect(credential.getState()).to.equal(CircuitBreakerState.OPEN);

      const inner = new ScriptedTransport([SUCCESS]);
      expect(await guard(inner).send(unauthenticated(), 0)).to.equal(SUCCESS);
      expect(inner.calls).to.have.length(1);
      expect(credential.getState()).to.equal(CircuitBreakerState.OPEN);
    });

    it('a paused credential does not spend or count against the host breaker', async () => {
      await sendTimes(guard(new ScriptedTransport([REFUSED])), signedIn, THRESHOLD);
      const g = guard(new ScriptedTransport([SUCCESS]));
      const results = await sendTimes(g, signedIn, THRESHOLD * 2);
      expect(results).to.deep.equal(new Array(THRESHOLD * 2).fill(CREDENTIAL_PAUSED));
      expect(host.getState()).to.equal(CircuitBreakerState.CLOSED);
    });

    it('a paused credential frees the host half-open trial it took', async () => {
      // The credential stays paused twice as long as the host, so the host is half-open while it is.
      credential = new CircuitBreaker(
        new ClientContextStub({ circuitBreakerThreshold: THRESHOLD, circuitBreakerTimeoutMs: TIMEOUT_MS * 2 }),
        'credential',
      );
      await sendTimes(guard(new ScriptedTransport([REFUSED])), signedIn, THRESHOLD);
      await sendTimes(guard(new ScriptedTransport([RETRYABLE])), unauthenticated, THRESHOLD);
      clock.tick(TIMEOUT_MS);
      expect(host.getState()).to.equal(CircuitBreakerState.HALF_OPEN);
      expect(credential.getState()).to.equal(CircuitBreakerState.OPEN);

      const inner = new ScriptedTransport([SUCCESS]);
      expect(await guard(inner).send(signedIn(), 0)).to.deep.equal(CREDENTIAL_PAUSED);
      expect(inner.calls).to.be.empty;
      expect(host.isRequestAllowed(), 'host trial freed').to.be.true;
      expect(host.getState()).to.equal(CircuitBreakerState.HALF_OPEN);
    });

    it('an auth refusal of an unauthenticated batch never touches the credential breaker', async () => {
      await sendTimes(guard(new ScriptedTransport([REFUSED])), unauthenticated, THRESHOLD);
      expect(credential.getState()).to.equal(CircuitBreakerState.CLOSED);
      // With no credential to blame, it counts against the host.
      expect(host.getState()).to.equal(CircuitBreakerState.OPEN);
    });

    it('a success resets the credential count of refusals in a row', async () => {
      const inner = new ScriptedTransport([REFUSED, REFUSED, SUCCESS, REFUSED, REFUSED]);
      await sendTimes(guard(inner), signedIn, 5);
      expect(credential.getState()).to.equal(CircuitBreakerState.CLOSED);
    });

    it('a retryable result does not count against the credential', async () => {
      const inner = new ScriptedTransport([REFUSED, REFUSED, RETRYABLE, REFUSED]);
      await sendTimes(guard(inner), signedIn, 4);
      expect(credential.getState()).to.equal(CircuitBreakerState.OPEN);
      expect(host.getState()).to.equal(CircuitBreakerState.CLOSED);
    });
  });

  describe('half-open trials', () => {
    async function openHost(): Promise<void> {
      await sendTimes(guard(new ScriptedTransport([RETRYABLE])), signedIn, THRESHOLD);
      expect(host.getState()).to.equal(CircuitBreakerState.OPEN);
    }

    it('after the timeout one trial goes through; its success closes the host breaker', async () => {
      await openHost();
      clock.tick(TIMEOUT_MS - 1);
      const inner = new ScriptedTransport([SUCCESS]);
      expect(await guard(inner).send(signedIn(), 0)).to.deep.equal(HOST_OPEN);
      clock.tick(1);
      expect(await guard(inner).send(signedIn(), 0)).to.equal(SUCCESS);
      expect(host.getState()).to.equal(CircuitBreakerState.CLOSED);
      expect(inner.calls).to.have.length(1);
    });

    it('a failed trial opens the host breaker again for another timeout', async () => {
      await openHost();
      clock.tick(TIMEOUT_MS);
      const inner = new ScriptedTransport([RETRYABLE, SUCCESS]);
      const g = guard(inner);
      expect(await g.send(signedIn(), 0)).to.equal(RETRYABLE);
      expect(host.getState()).to.equal(CircuitBreakerState.OPEN);
      expect(await g.send(signedIn(), 0)).to.deep.equal(HOST_OPEN);
      expect(inner.calls).to.have.length(1);
    });

    it('only one trial is in flight: a concurrent send is dropped until it settles', async () => {
      await openHost();
      clock.tick(TIMEOUT_MS);
      let answer: (result: UploadResult) => void = () => undefined;
      const inner = new ScriptedTransport([() => new Promise<UploadResult>((resolve) => (answer = resolve)), SUCCESS]);
      const g = guard(inner);
      const trial = g.send(signedIn(), 0);
      expect(await g.send(signedIn(), 0)).to.deep.equal(HOST_OPEN);
      expect(await g.send(unauthenticated(), 0)).to.deep.equal(HOST_OPEN);
      answer(SUCCESS);
      expect(await trial).to.equal(SUCCESS);
      expect(host.getState()).to.equal(CircuitBreakerState.CLOSED);
      expect(inner.calls).to.have.length(1);
    });

    it('a dropped trial frees the trial without closing or reopening the breaker', async () => {
      await openHost();
      clock.tick(TIMEOUT_MS);
      const inner = new ScriptedTransport([DROPPED, SUCCESS]);
      const g = guard(inner);
      expect(await g.send(signedIn(), 0)).to.equal(DROPPED);
      expect(host.getState()).to.equal(CircuitBreakerState.HALF_OPEN);
      expect(host.isRequestAllowed()).to.be.true;
      expect(await g.send(signedIn(), 0)).to.equal(SUCCESS);
      expect(host.getState()).to.equal(CircuitBreakerState.CLOSED);
    });

    it('a credential refusal during a host trial frees the trial without counting it', async () => {
      await openHost();
      clock.tick(TIMEOUT_MS);
      expect(await guard(new ScriptedTransport([REFUSED])).send(signedIn(), 0)).to.equal(REFUSED);
      expect(host.getState()).to.equal(CircuitBreakerState.HALF_OPEN);
      expect(host.isRequestAllowed()).to.be.true;
    });

    it('a retryable result during a credential trial frees that trial', async () => {
      await sendTimes(guard(new ScriptedTransport([REFUSED])), signedIn, THRESHOLD);
      clock.tick(TIMEOUT_MS);
      expect(credential.getState()).to.equal(CircuitBreakerState.HALF_OPEN);
      expect(await guard(new ScriptedTransport([RETRYABLE])).send(signedIn(), 0)).to.equal(RETRYABLE);
      expect(credential.getState()).to.equal(CircuitBreakerState.HALF_OPEN);
      expect(credential.isRequestAllowed()).to.be.true;
    });

    it("a credential trial's success closes the credential breaker; its refusal reopens it", async () => {
      await sendTimes(guard(new ScriptedTransport([REFUSED])), signedIn, THRESHOLD);
      clock.tick(TIMEOUT_MS);
      expect(await guard(new ScriptedTransport([REFUSED])).send(signedIn(), 0)).to.equal(REFUSED);
      expect(credential.getState()).to.equal(CircuitBreakerState.OPEN);
      clock.tick(TIMEOUT_MS);
      expect(await guard(new ScriptedTransport([SUCCESS])).send(signedIn(), 0)).to.equal(SUCCESS);
      expect(credential.getState()).to.equal(CircuitBreakerState.CLOSED);
    });

    it('a transport that throws (against its contract) still frees both trials', async () => {
      await sendTimes(guard(new ScriptedTransport([REFUSED])), signedIn, THRESHOLD);
      await sendTimes(guard(new ScriptedTransport([RETRYABLE])), unauthenticated, THRESHOLD);
      clock.tick(TIMEOUT_MS);
      expect(host.getState()).to.equal(CircuitBreakerState.HALF_OPEN);
      expect(credential.getState()).to.equal(CircuitBreakerState.HALF_OPEN);

      const throwing: ITelemetryTransport = { send: () => Promise.reject(new Error('bug')) };
      let error: unknown;
      await guard(throwing)
        .send(signedIn(), 0)
        .catch((e: unknown) => (error = e));
      expect((error as Error)?.message).to.equal('bug');
      expect(host.isRequestAllowed(), 'host trial freed').to.be.true;
      expect(credential.isRequestAllowed(), 'credential trial freed').to.be.true;
      expect(host.getState()).to.equal(CircuitBreakerState.HALF_OPEN);
      expect(credential.getState()).to.equal(CircuitBreakerState.HALF_OPEN);
    });
  });
});
