import { expect } from 'chai';
import sinon from 'sinon';
import { LogLevel } from '@databricks/sql/dist/contracts/IDBSQLLogger';
import CircuitBreaker, { CircuitBreakerState } from '../../../lib/telemetry/CircuitBreaker';
import CircuitBreakerRegistry from '../../../lib/telemetry/CircuitBreakerRegistry';
import ClientContextStub from '../.stubs/ClientContextStub';

describe('CircuitBreaker', () => {
  let clock: sinon.SinonFakeTimers;

  beforeEach(() => {
    clock = sinon.useFakeTimers({ now: 1_000_000 });
  });

  afterEach(() => {
    clock.restore();
  });

  function fail(breaker: CircuitBreaker, times: number): void {
    for (let i = 0; i < times; i += 1) {
      breaker.onFailure();
    }
  }

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
    breaker.onFailure();
    expect(breaker.getState()).to.equal(CircuitBreakerState.CLOSED);
    breaker.onFailure();
    expect(breaker.getState()).to.equal(CircuitBreakerState.OPEN);
  });

  it('should reject operations when OPEN', () => {
    const breaker = new CircuitBreaker(new ClientContextStub({ circuitBreakerThreshold: 1, circuitBreakerTimeoutMs: 60_000 }));
    breaker.onFailure();
    expect(breaker.isRequestAllowed()).to.be.false;
    clock.tick(59_999);
    expect(breaker.isRequestAllowed()).to.be.false;
    expect(breaker.getState()).to.equal(CircuitBreakerState.OPEN);
  });

  it('should transition to HALF_OPEN after timeout', () => {
    const breaker = new CircuitBreaker(new ClientContextStub({ circuitBreakerThreshold: 1, circuitBreakerTimeoutMs: 30_000 }));
    breaker.onFailure();
    clock.tick(30_000);
    expect(breaker.getState()).to.equal(CircuitBreakerState.HALF_OPEN);
    expect(breaker.isRequestAllowed()).to.be.true;
  });

  it('should close after successes in HALF_OPEN', () => {
    const breaker = new CircuitBreaker(
      new ClientContextStub({ circuitBreakerThreshold: 1, circuitBreakerTimeoutMs: 1000, circuitBreakerSuccessThreshold: 3 }),
    );
    breaker.onFailure();
    clock.tick(1000);
    expect(breaker.isRequestAllowed()).to.be.true;
    breaker.onSuccess();
    breaker.onSuccess();
    expect(breaker.getState()).to.equal(CircuitBreakerState.HALF_OPEN);
    breaker.onSuccess();
    expect(breaker.getState()).to.equal(CircuitBreakerState.CLOSED);
  });

  it('CircuitBreaker_HalfOpen_Failure_TransitionsToOpen', () => {
    const breaker = new CircuitBreaker(new ClientContextStub({ circuitBreakerThreshold: 3, circuitBreakerTimeoutMs: 1000 }));
    fail(breaker, 3);
    clock.tick(1000);
    expect(breaker.getState()).to.equal(CircuitBreakerState.HALF_OPEN);
    breaker.onSuccess();
    breaker.onFailure();
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
    breaker.onSuccess();
    fail(breaker, 2);
    expect(breaker.getState()).to.equal(CircuitBreakerState.CLOSED);
    breaker.onFailure();
    expect(breaker.getState()).to.equal(CircuitBreakerState.OPEN);
  });

  it('a closed breaker needs the full threshold again', () => {
    const breaker = new CircuitBreaker(
      new ClientContextStub({ circuitBreakerThreshold: 2, circuitBreakerTimeoutMs: 10, circuitBreakerSuccessThreshold: 1 }),
    );
    fail(breaker, 2);
    clock.tick(10);
    breaker.isRequestAllowed();
    breaker.onSuccess();
    expect(breaker.getState()).to.equal(CircuitBreakerState.CLOSED);
    breaker.onFailure();
    expect(breaker.getState()).to.equal(CircuitBreakerState.CLOSED);
  });

  it('late outcomes while OPEN neither close it nor extend it', () => {
    const breaker = new CircuitBreaker(new ClientContextStub({ circuitBreakerThreshold: 1, circuitBreakerTimeoutMs: 1000 }));
    breaker.onFailure();
    clock.tick(500);
    breaker.onSuccess();
    breaker.onFailure();
    expect(breaker.getState()).to.equal(CircuitBreakerState.OPEN);
    clock.tick(500);
    expect(breaker.getState()).to.equal(CircuitBreakerState.HALF_OPEN);
  });

  it('logs every transition at debug level only', () => {
    const context = new ClientContextStub({ circuitBreakerThreshold: 1, circuitBreakerTimeoutMs: 10, circuitBreakerSuccessThreshold: 1 });
    const breaker = new CircuitBreaker(context, 'host-a:443');
    breaker.onFailure();
    clock.tick(10);
    breaker.isRequestAllowed();
    breaker.onSuccess();
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
    breaker.onFailure();
    expect(breaker.getState()).to.equal(CircuitBreakerState.OPEN);
  });

  describe('hostile context', () => {
    it('a throwing logger does not break transitions', () => {
      const context = new ClientContextStub({ circuitBreakerThreshold: 1 });
      sinon.stub(context.logger, 'log').throws(new Error('logger down'));
      const breaker = new CircuitBreaker(context);
      expect(() => breaker.onFailure()).not.to.throw();
      expect(breaker.getState()).to.equal(CircuitBreakerState.OPEN);
    });

    it('a throwing getTelemetryConfig falls back to the defaults (5 failures, 60 s)', () => {
      const context = new ClientContextStub();
      sinon.stub(context, 'getTelemetryConfig').throws(new Error('no config'));
      const breaker = new CircuitBreaker(context);
      fail(breaker, 4);
      expect(breaker.getState()).to.equal(CircuitBreakerState.CLOSED);
      breaker.onFailure();
      expect(breaker.getState()).to.equal(CircuitBreakerState.OPEN);
      clock.tick(59_999);
      expect(breaker.isRequestAllowed()).to.be.false;
      clock.tick(1);
      expect(breaker.isRequestAllowed()).to.be.true;
    });

    it('invalid thresholds (0, negative, NaN, wrong type) fall back to the defaults', () => {
      for (const bad of [0, -1, NaN, Infinity, 2.5, '2' as unknown as number]) {
        const breaker = new CircuitBreaker(
          new ClientContextStub({ circuitBreakerThreshold: bad, circuitBreakerTimeoutMs: bad, circuitBreakerSuccessThreshold: bad }),
        );
        fail(breaker, 4);
        expect(breaker.getState(), String(bad)).to.equal(CircuitBreakerState.CLOSED);
        breaker.onFailure();
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
    one.onFailure();
    one.onFailure();
    expect(one.getState()).to.equal(CircuitBreakerState.OPEN);
    expect(two.getState()).to.equal(CircuitBreakerState.CLOSED);
    expect(two.isRequestAllowed()).to.be.true;
  });

  it('removeCircuitBreaker forgets the host: the next breaker starts CLOSED', () => {
    const registry = new CircuitBreakerRegistry();
    const context = new ClientContextStub({ circuitBreakerThreshold: 1 });
    const first = registry.getCircuitBreaker('host1:443', context);
    first.onFailure();
    registry.removeCircuitBreaker('host1:443');
    registry.removeCircuitBreaker('never-seen');
    const second = registry.getCircuitBreaker('host1:443', context);
    expect(second).not.to.equal(first);
    expect(second.getState()).to.equal(CircuitBreakerState.CLOSED);
  });
});
