import { expect } from 'chai';
import sinon from 'sinon';
import { LogLevel } from '@databricks/sql/dist/contracts/IDBSQLLogger';
import CircuitBreaker, { CircuitBreakerPermit, CircuitBreakerState } from '../../../lib/telemetry/CircuitBreaker';
import CircuitBreakerRegistry from '../../../lib/telemetry/CircuitBreakerRegistry';
import ClientContextStub from '../.stubs/ClientContextStub';

/** A permit the breaker must give. */
function acquire(breaker: CircuitBreaker): CircuitBreakerPermit {
  const permit = breaker.tryAcquire();
  if (!permit) {
    throw new Error('the breaker refused a request');
  }
  return permit;
}

function fail(breaker: CircuitBreaker, times = 1): void {
  for (let i = 0; i < times; i += 1) {
    acquire(breaker).onFailure();
  }
}

function succeed(breaker: CircuitBreaker, times = 1): void {
  for (let i = 0; i < times; i += 1) {
    acquire(breaker).onSuccess();
  }
}

describe('CircuitBreaker', () => {
  let clock: sinon.SinonFakeTimers;

  beforeEach(() => {
    clock = sinon.useFakeTimers({ now: 1_000_000 });
  });

  afterEach(() => {
    clock.restore();
  });

  it('should start in CLOSED state', () => {
    const breaker = new CircuitBreaker(new ClientContextStub());
    expect(breaker.getState()).to.equal(CircuitBreakerState.CLOSED);
    expect(breaker.isRequestAllowed()).to.be.true;
  });

  it('CircuitBreaker_Closed_FailuresBelowThreshold_StaysClosed', () => {
    const breaker = new CircuitBreaker(new ClientContextStub({ circuitBreakerThreshold: 5 }));
    fail(breaker, 4);
    expect(breaker.getState()).to.equal(CircuitBreakerState.CLOSED);
    expect(breaker.isRequestAllowed()).to.be.true;
  });

  it('should open after threshold failures', () => {
    const breaker = new CircuitBreaker(new ClientContextStub({ circuitBreakerThreshold: 5 }));
    fail(breaker, 5);
    expect(breaker.getState()).to.equal(CircuitBreakerState.OPEN);
  });

  it('honours a configured threshold', () => {
    const breaker = new CircuitBreaker(new ClientContextStub({ circuitBreakerThreshold: 2 }));
    fail(breaker);
    expect(breaker.getState()).to.equal(CircuitBreakerState.CLOSED);
    fail(breaker);
    expect(breaker.getState()).to.equal(CircuitBreakerState.OPEN);
  });

  it('should reject operations when OPEN', () => {
    const breaker = new CircuitBreaker(
      new ClientContextStub({ circuitBreakerThreshold: 1, circuitBreakerTimeoutMs: 60_000 }),
    );
    fail(breaker);
    expect(breaker.isRequestAllowed()).to.be.false;
    clock.tick(59_999);
    expect(breaker.isRequestAllowed()).to.be.false;
    expect(breaker.getState()).to.equal(CircuitBreakerState.OPEN);
  });

  it('should transition to HALF_OPEN after timeout', () => {
    const breaker = new CircuitBreaker(
      new ClientContextStub({ circuitBreakerThreshold: 1, circuitBreakerTimeoutMs: 30_000 }),
    );
    fail(breaker);
    clock.tick(30_000);
    expect(breaker.getState()).to.equal(CircuitBreakerState.HALF_OPEN);
    expect(breaker.isRequestAllowed()).to.be.true;
  });

  it('should close after successes in HALF_OPEN', () => {
    const breaker = new CircuitBreaker(
      new ClientContextStub({
        circuitBreakerThreshold: 1,
        circuitBreakerTimeoutMs: 1000,
        circuitBreakerSuccessThreshold: 3,
      }),
    );
    fail(breaker);
    clock.tick(1000);
    expect(breaker.isRequestAllowed()).to.be.true;
    succeed(breaker);
    succeed(breaker);
    expect(breaker.getState()).to.equal(CircuitBreakerState.HALF_OPEN);
    succeed(breaker);
    expect(breaker.getState()).to.equal(CircuitBreakerState.CLOSED);
  });

  it('CircuitBreaker_HalfOpen_Failure_TransitionsToOpen', () => {
    const breaker = new CircuitBreaker(
      new ClientContextStub({ circuitBreakerThreshold: 3, circuitBreakerTimeoutMs: 1000 }),
    );
    fail(breaker, 3);
    clock.tick(1000);
    expect(breaker.getState()).to.equal(CircuitBreakerState.HALF_OPEN);
    succeed(breaker);
    fail(breaker);
    expect(breaker.getState()).to.equal(CircuitBreakerState.OPEN);
    // The open period starts again from the failed trial.
    clock.tick(999);
    expect(breaker.isRequestAllowed()).to.be.false;
    clock.tick(1);
    expect(breaker.isRequestAllowed()).to.be.true;
  });

  it('should reset failure count on success', () => {
    const breaker = new CircuitBreaker(new ClientContextStub({ circuitBreakerThreshold: 3 }));
    fail(breaker, 2);
    succeed(breaker);
    fail(breaker, 2);
    expect(breaker.getState()).to.equal(CircuitBreakerState.CLOSED);
    fail(breaker);
    expect(breaker.getState()).to.equal(CircuitBreakerState.OPEN);
  });

  it('a closed breaker needs the full threshold again', () => {
    const breaker = new CircuitBreaker(
      new ClientContextStub({
        circuitBreakerThreshold: 2,
        circuitBreakerTimeoutMs: 10,
        circuitBreakerSuccessThreshold: 1,
      }),
    );
    fail(breaker, 2);
    clock.tick(10);
    succeed(breaker);
    expect(breaker.getState()).to.equal(CircuitBreakerState.CLOSED);
    fail(breaker);
    expect(breaker.getState()).to.equal(CircuitBreakerState.CLOSED);
  });

  it('late outcomes while OPEN neither close it nor extend it', () => {
    const breaker = new CircuitBreaker(
      new ClientContextStub({
        circuitBreakerThreshold: 1,
        circuitBreakerTimeoutMs: 1000,
        circuitBreakerSuccessThreshold: 1,
      }),
    );
    const lateSuccess = acquire(breaker);
    const lateFailure = acquire(breaker);
    fail(breaker);
    clock.tick(500);
    lateSuccess.onSuccess();
    lateFailure.onFailure();
    expect(breaker.getState()).to.equal(CircuitBreakerState.OPEN);
    clock.tick(500);
    expect(breaker.getState()).to.equal(CircuitBreakerState.HALF_OPEN);
  });

  describe('half-open trial', () => {
    const settings = { circuitBreakerThreshold: 1, circuitBreakerTimeoutMs: 1000, circuitBreakerSuccessThreshold: 2 };

    /** A breaker that has just turned HALF_OPEN. */
    function halfOpen(): CircuitBreaker {
      const breaker = new CircuitBreaker(new ClientContextStub(settings));
      fail(breaker);
      clock.tick(1000);
      expect(breaker.getState()).to.equal(CircuitBreakerState.HALF_OPEN);
      return breaker;
    }

    it('lets exactly one trial through while it is in flight', () => {
      const breaker = halfOpen();
      const trial = acquire(breaker);
      for (let i = 0; i < 5; i += 1) {
        expect(breaker.isRequestAllowed()).to.be.false;
        expect(breaker.tryAcquire()).to.equal(undefined);
      }
      expect(breaker.getState()).to.equal(CircuitBreakerState.HALF_OPEN);
      trial.onSuccess();
      // The success counts; the next trial may go, and again only one.
      const second = acquire(breaker);
      expect(breaker.tryAcquire()).to.equal(undefined);
      second.onSuccess();
      expect(breaker.getState()).to.equal(CircuitBreakerState.CLOSED);
      const concurrent = [acquire(breaker), acquire(breaker), acquire(breaker)];
      expect(concurrent).to.have.length(3);
    });

    it('a failed trial opens it again for the whole timeout', () => {
      const breaker = halfOpen();
      acquire(breaker).onFailure();
      expect(breaker.getState()).to.equal(CircuitBreakerState.OPEN);
      clock.tick(999);
      expect(breaker.tryAcquire()).to.equal(undefined);
      clock.tick(1);
      expect(breaker.tryAcquire()).not.to.equal(undefined);
    });

    it('asking isRequestAllowed takes no trial', () => {
      const breaker = halfOpen();
      expect(breaker.isRequestAllowed()).to.be.true;
      expect(breaker.isRequestAllowed()).to.be.true;
      expect(breaker.getState()).to.equal(CircuitBreakerState.HALF_OPEN);
      acquire(breaker);
      expect(breaker.isRequestAllowed()).to.be.false;
    });

    it('an abandoned trial frees the slot and counts neither way', () => {
      const breaker = halfOpen();
      acquire(breaker).onAbandon();
      expect(breaker.getState()).to.equal(CircuitBreakerState.HALF_OPEN);
      acquire(breaker).onAbandon();
      // Still two successes needed to close: abandoned trials counted for nothing.
      succeed(breaker);
      expect(breaker.getState()).to.equal(CircuitBreakerState.HALF_OPEN);
      succeed(breaker);
      expect(breaker.getState()).to.equal(CircuitBreakerState.CLOSED);
    });

    it('a permit settles once: a report after its outcome (a finally) is ignored', () => {
      const breaker = halfOpen();
      const trial = acquire(breaker);
      trial.onSuccess();
      trial.onSuccess();
      trial.onAbandon();
      expect(breaker.getState()).to.equal(CircuitBreakerState.HALF_OPEN);
      const failed = acquire(breaker);
      failed.onFailure();
      failed.onAbandon();
      expect(breaker.getState()).to.equal(CircuitBreakerState.OPEN);
      expect(breaker.tryAcquire()).to.equal(undefined);
    });

    it('an outcome of a request let through before it opened neither settles nor takes the trial', () => {
      const breaker = new CircuitBreaker(new ClientContextStub(settings));
      const old = acquire(breaker);
      fail(breaker);
      clock.tick(1000);
      const trial = acquire(breaker);
      old.onSuccess();
      old.onFailure();
      expect(breaker.getState()).to.equal(CircuitBreakerState.HALF_OPEN);
      expect(breaker.tryAcquire()).to.equal(undefined);
      trial.onFailure();
      expect(breaker.getState()).to.equal(CircuitBreakerState.OPEN);
    });
  });

  it('abandoned requests in CLOSED neither count as failures nor reset them', () => {
    const breaker = new CircuitBreaker(new ClientContextStub({ circuitBreakerThreshold: 2 }));
    fail(breaker);
    for (let i = 0; i < 10; i += 1) {
      acquire(breaker).onAbandon();
    }
    expect(breaker.getState()).to.equal(CircuitBreakerState.CLOSED);
    fail(breaker);
    expect(breaker.getState()).to.equal(CircuitBreakerState.OPEN);
  });

  it('logs every transition at debug level only', () => {
    const context = new ClientContextStub({
      circuitBreakerThreshold: 1,
      circuitBreakerTimeoutMs: 10,
      circuitBreakerSuccessThreshold: 1,
    });
    const breaker = new CircuitBreaker(context, 'host-a:443');
    fail(breaker);
    clock.tick(10);
    succeed(breaker);
    const messages = context.logger.lines.map((line) => line.message);
    expect(messages).to.have.length(3);
    expect(messages[0]).to.match(/host-a:443: CLOSED -> OPEN/);
    expect(messages[1]).to.match(/OPEN -> HALF_OPEN/);
    expect(messages[2]).to.match(/HALF_OPEN -> CLOSED/);
    expect(context.logger.lines.every((line) => line.level === LogLevel.debug)).to.be.true;
  });

  it('reads settings on every call, so a changed configuration is honoured', () => {
    const context = new ClientContextStub({ circuitBreakerThreshold: 10 });
    const breaker = new CircuitBreaker(context);
    fail(breaker, 2);
    context.config = { ...context.config, circuitBreakerThreshold: 3 };
    fail(breaker);
    expect(breaker.getState()).to.equal(CircuitBreakerState.OPEN);
  });

  describe('hostile context', () => {
    it('a throwing logger does not break transitions', () => {
      const context = new ClientContextStub({ circuitBreakerThreshold: 1 });
      sinon.stub(context.logger, 'log').throws(new Error('logger down'));
      const breaker = new CircuitBreaker(context);
      expect(() => fail(breaker)).not.to.throw();
      expect(breaker.getState()).to.equal(CircuitBreakerState.OPEN);
    });

    it('a throwing getTelemetryConfig falls back to the defaults (5 failures, 60 s)', () => {
      const context = new ClientContextStub();
      sinon.stub(context, 'getTelemetryConfig').throws(new Error('no config'));
      const breaker = new CircuitBreaker(context);
      fail(breaker, 4);
      expect(breaker.getState()).to.equal(CircuitBreakerState.CLOSED);
      fail(breaker);
      expect(breaker.getState()).to.equal(CircuitBreakerState.OPEN);
      clock.tick(59_999);
      expect(breaker.isRequestAllowed()).to.be.false;
      clock.tick(1);
      expect(breaker.isRequestAllowed()).to.be.true;
    });

    it('invalid thresholds (0, negative, NaN, wrong type) fall back to the defaults', () => {
      for (const bad of [0, -1, NaN, Infinity, 2.5, '2' as unknown as number]) {
        const breaker = new CircuitBreaker(
          new ClientContextStub({
            circuitBreakerThreshold: bad,
            circuitBreakerTimeoutMs: bad,
            circuitBreakerSuccessThreshold: bad,
          }),
        );
        fail(breaker, 4);
        expect(breaker.getState(), String(bad)).to.equal(CircuitBreakerState.CLOSED);
        fail(breaker);
        expect(breaker.getState(), String(bad)).to.equal(CircuitBreakerState.OPEN);
      }
    });
  });
});

describe('CircuitBreakerRegistry', () => {
  it('CircuitBreakerManager_GetCircuitBreaker_SameHost_ReturnsSameBreaker', () => {
    const registry = new CircuitBreakerRegistry();
    const context = new ClientContextStub();
    expect(registry.getCircuitBreaker('host1:443', context)).to.equal(registry.getCircuitBreaker('host1:443', context));
  });

  it('should isolate circuit breakers per host', () => {
    const registry = new CircuitBreakerRegistry();
    const context = new ClientContextStub({ circuitBreakerThreshold: 2 });
    const one = registry.getCircuitBreaker('host1:443', context);
    const two = registry.getCircuitBreaker('host2:443', context);
    expect(one).not.to.equal(two);
    fail(one);
    fail(one);
    expect(one.getState()).to.equal(CircuitBreakerState.OPEN);
    expect(two.getState()).to.equal(CircuitBreakerState.CLOSED);
    expect(two.isRequestAllowed()).to.be.true;
  });

  it('removeCircuitBreaker forgets the host: the next breaker starts CLOSED', () => {
    const registry = new CircuitBreakerRegistry();
    const context = new ClientContextStub({ circuitBreakerThreshold: 1 });
    const first = registry.getCircuitBreaker('host1:443', context);
    fail(first);
    registry.removeCircuitBreaker('host1:443');
    registry.removeCircuitBreaker('never-seen');
    const second = registry.getCircuitBreaker('host1:443', context);
    expect(second).not.to.equal(first);
    expect(second.getState()).to.equal(CircuitBreakerState.CLOSED);
  });
});
