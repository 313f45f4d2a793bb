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
 * One request the breaker let through. Report how it ended exactly once; later reports are
 * ignored, so a caller may end with `onAbandon()` in a `finally` to be sure the permit is settled.
 */
export interface CircuitBreakerPermit {
  /** The endpoint accepted the request. */
  onSuccess(): void;
  /** The endpoint failed it: throttled, server error, unreachable, timed out. */
  onFailure(): void;
  /** The request says nothing about the endpoint (never sent, cut by shutdown): it only frees the trial. */
  onAbandon(): void;
}

type Outcome = 'success' | 'failure' | 'abandon';

/**
 * Guards one telemetry endpoint. CLOSED counts failed requests in a row; at the threshold it
 * opens and refuses every request until the timeout passes; then HALF_OPEN lets one trial request
 * through at a time: its failure opens the breaker again, its success counts toward closing it,
 * and only once it is settled may the next trial go. Each request takes a permit from
 * `tryAcquire()` and settles it; an outcome reported after the breaker changed state belongs to
 * an earlier period and is ignored. Time is read from `Date.now()` when asked, so no timer keeps
 * the process alive. Settings are read from the context on every call, so the breaker honours
 * the connection's resolved configuration.
 */
export default class CircuitBreaker {
  private state = CircuitBreakerState.CLOSED;

  private consecutiveFailures = 0;

  private halfOpenSuccesses = 0;

  private openedAt = 0;

  /** Changes on every transition: a permit from an earlier one carries a stale outcome. */
  private generation = 0;

  private trialInFlight = false;

  constructor(
    private readonly context: ITelemetryContext,
    /** Only for log lines, to tell breakers apart. */
    private readonly label = '',
  ) {}

  getState(): CircuitBreakerState {
    this.refresh();
    return this.state;
  }

  /** Whether a request would be let through now; asking takes nothing (see `tryAcquire`). */
  isRequestAllowed(): boolean {
    this.refresh();
    if (this.state === CircuitBreakerState.HALF_OPEN) {
      return !this.trialInFlight;
    }
    return this.state === CircuitBreakerState.CLOSED;
  }

  /** A permit for one request, or undefined when the breaker refuses it. In HALF_OPEN the permit is the trial. */
  tryAcquire(): CircuitBreakerPermit | undefined {
    if (!this.isRequestAllowed()) {
      return undefined;
    }
    const { generation } = this;
    if (this.state === CircuitBreakerState.HALF_OPEN) {
      this.trialInFlight = true;
    }
    let settled = false;
    const settle = (outcome: Outcome) => {
      if (settled) {
        return;
      }
      settled = true;
      // A transition since the permit was given already cleared its trial and its counts.
      if (generation === this.generation) {
        this.record(outcome);
      }
    };
    return {
      onSuccess: () => settle('success'),
      onFailure: () => settle('failure'),
      onAbandon: () => settle('abandon'),
    };
  }

  private record(outcome: Outcome): void {
    if (this.state === CircuitBreakerState.HALF_OPEN) {
      this.trialInFlight = false;
      if (outcome === 'failure') {
        this.transition(CircuitBreakerState.OPEN);
      } else if (outcome === 'success') {
        this.halfOpenSuccesses += 1;
        if (this.halfOpenSuccesses >= this.settings().successThreshold) {
          this.transition(CircuitBreakerState.CLOSED);
        }
      }
      return;
    }
    if (outcome === 'success') {
      this.consecutiveFailures = 0;
    } else if (outcome === 'failure') {
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
    this.generation += 1;
    this.trialInFlight = false;
    this.consecutiveFailures = 0;
    this.halfOpenSuccesses = 0;
    if (next === CircuitBreakerState.OPEN) {
      this.openedAt = Date.now();
    }
    this.debug(`telemetry circuit breaker ${this.label}: ${previous} -> ${next}`);
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
