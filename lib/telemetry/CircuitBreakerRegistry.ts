import CircuitBreaker from './CircuitBreaker';
import ITelemetryContext from './contracts/ITelemetryContext';

/**
 * One circuit breaker per host, so a dead endpoint on one workspace never stops telemetry to
 * another. It is shared by every credential on the host, so only the endpoint's own failures
 * count against it; a credential's 401 or 403 counts in that credential's exporter. Instance-based:
 * the owner (the client provider) decides its lifetime.
 */
export default class CircuitBreakerRegistry {
  private readonly breakers = new Map<string, CircuitBreaker>();

  /** The host's breaker, created on first use with the given context's settings and logger. */
  getCircuitBreaker(hostKey: string, context: ITelemetryContext): CircuitBreaker {
    let breaker = this.breakers.get(hostKey);
    if (breaker === undefined) {
      breaker = new CircuitBreaker(context, hostKey);
      this.breakers.set(hostKey, breaker);
    }
    return breaker;
  }

  /** Forgets the host's breaker (its last client closed); a later request starts CLOSED. */
  removeCircuitBreaker(hostKey: string): void {
    this.breakers.delete(hostKey);
  }

  /** Read-only: how many hosts have a breaker now, so tests and benches can see none outlive their clients. */
  getStats(): { breakers: number } {
    return { breakers: this.breakers.size };
  }
}
