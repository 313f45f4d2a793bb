import ITelemetryContext from './contracts/ITelemetryContext';
import { DEFAULT_TELEMETRY_CONFIG } from './types';
import debugLog from './debugLog';

export enum CircuitBreakerState {
  CLOSED = 'CLOSED',
  OPEN = 'OPEN',
  HALF_OPEN = 'HALF_OPEN',
}

interface BreakerSettings {
  threshold: number;
  timeoutMs: number;
  successThreshold: number;
}

function positiveInteger(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : fallback;
}

/**
 * Guards one host's telemetry endpoint. CLOSED counts failed HTTP attempts in a row; at the
 * threshold it opens and refuses every request until the timeout passes; then HALF_OPEN lets
 * trial requests through: one failure opens it again, enough successes close it. Time is read
 * from `Date.now()` when asked, so no timer keeps the process alive. Settings are read from the
 * context on every call, so the breaker honours the connection's resolved configuration.
 */
export default class CircuitBreaker {
  private state = CircuitBreakerState.CLOSED;

  private consecutiveFailures = 0;

  private halfOpenSuccesses = 0;

  private openedAt = 0;

  constructor(
    private readonly context: ITelemetryContext,
    /** Only for log lines, to tell hosts apart. */
    private readonly hostKey = '',
  ) {}

  getState(): CircuitBreakerState {
    this.refresh();
    return this.state;
  }

  isRequestAllowed(): boolean {
    this.refresh();
    return this.state !== CircuitBreakerState.OPEN;
  }

  onSuccess(): void {
    if (this.state === CircuitBreakerState.HALF_OPEN) {
      this.halfOpenSuccesses += 1;
      if (this.halfOpenSuccesses >= this.settings().successThreshold) {
        this.transition(CircuitBreakerState.CLOSED);
      }
      return;
    }
    // A late success while OPEN (a request that was already in flight) proves little; the timeout decides.
    if (this.state === CircuitBreakerState.CLOSED) {
      this.consecutiveFailures = 0;
    }
  }

  onFailure(): void {
    if (this.state === CircuitBreakerState.HALF_OPEN) {
      this.transition(CircuitBreakerState.OPEN);
      return;
    }
    if (this.state === CircuitBreakerState.CLOSED) {
      this.consecutiveFailures += 1;
      if (this.consecutiveFailures >= this.settings().threshold) {
        this.transition(CircuitBreakerState.OPEN);
      }
    }
  }

  private refresh(): void {
    if (this.state === CircuitBreakerState.OPEN && Date.now() - this.openedAt >= this.settings().timeoutMs) {
      this.transition(CircuitBreakerState.HALF_OPEN);
    }
  }

  private transition(next: CircuitBreakerState): void {
    const previous = this.state;
    this.state = next;
    this.consecutiveFailures = 0;
    this.halfOpenSuccesses = 0;
    if (next === CircuitBreakerState.OPEN) {
      this.openedAt = Date.now();
    }
    this.debug(`telemetry circuit breaker ${this.hostKey}: ${previous} -> ${next}`);
  }

  private settings(): BreakerSettings {
    try {
      const config = this.context.getTelemetryConfig();
      return {
        threshold: positiveInteger(config.circuitBreakerThreshold, DEFAULT_TELEMETRY_CONFIG.circuitBreakerThreshold),
        timeoutMs: positiveInteger(config.circuitBreakerTimeoutMs, DEFAULT_TELEMETRY_CONFIG.circuitBreakerTimeoutMs),
        successThreshold: positiveInteger(
          config.circuitBreakerSuccessThreshold,
          DEFAULT_TELEMETRY_CONFIG.circuitBreakerSuccessThreshold,
        ),
      };
    } catch {
      return {
        threshold: DEFAULT_TELEMETRY_CONFIG.circuitBreakerThreshold,
        timeoutMs: DEFAULT_TELEMETRY_CONFIG.circuitBreakerTimeoutMs,
        successThreshold: DEFAULT_TELEMETRY_CONFIG.circuitBreakerSuccessThreshold,
      };
    }
  }

  private debug(message: string): void {
    debugLog(this.context, message);
  }
}
