import CircuitBreaker, { CircuitBreakerState } from '../../../lib/telemetry/CircuitBreaker';
import ClientContextStub from './ClientContextStub';

/** A breaker whose answer the test sets, recording what it was told. */
export default class CircuitBreakerStub extends CircuitBreaker {
  public allowed = true;

  public successes = 0;

  public failures = 0;

  public asked = 0;

  constructor() {
    super(new ClientContextStub());
  }

  isRequestAllowed(): boolean {
    this.asked += 1;
    return this.allowed;
  }

  onSuccess(): void {
    this.successes += 1;
  }

  onFailure(): void {
    this.failures += 1;
  }

  getState(): CircuitBreakerState {
    return this.allowed ? CircuitBreakerState.CLOSED : CircuitBreakerState.OPEN;
  }
}
