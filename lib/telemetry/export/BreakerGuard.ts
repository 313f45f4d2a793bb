import CircuitBreaker from '../CircuitBreaker';
import ITelemetryTransport, { UploadBatch, UploadResult } from '../contracts/ITelemetryTransport';

/**
 * Each attempt takes a permit from the host's breaker, and a signed-in one also from its
 * credential's, and settles them with the attempt's result: a dead endpoint sees at most
 * `circuitBreakerThreshold` requests. A 401 or 403 counts against the credential's breaker only,
 * since it says nothing about the host; what never reached the endpoint counts against neither.
 */
export default class BreakerGuard implements ITelemetryTransport {
  constructor(
    private readonly inner: ITelemetryTransport,
    /** The host's breaker, shared by every credential on the host. */
    private readonly hostBreaker: CircuitBreaker,
    /**
     * Counts only this credential's refusals: other credentials keep uploading through the
     * host's breaker, while a refused credential backs off instead of trying once per batch.
     */
    private readonly credentialBreaker: CircuitBreaker,
  ) {}

  async send(batch: UploadBatch, attempt: number): Promise<UploadResult> {
    const hostPermit = this.hostBreaker.tryAcquire();
    if (!hostPermit) {
      return { outcome: 'dropped', reason: 'circuit breaker open' };
    }
    // No credential goes to /telemetry-unauth, so its own breaker does not guard it.
    const credentialPermit = batch.unauthenticated ? undefined : this.credentialBreaker.tryAcquire();
    try {
      if (!batch.unauthenticated && !credentialPermit) {
        return { outcome: 'dropped', reason: 'credential refused by the server; paused' };
      }
      const result = await this.inner.send(batch, attempt);
      switch (result.outcome) {
        case 'success':
          hostPermit.onSuccess();
          credentialPermit?.onSuccess();
          break;
        case 'failure':
          if (credentialPermit && result.credentialRefused) {
            credentialPermit.onFailure();
          } else {
            hostPermit.onFailure();
          }
          break;
        case 'retryable':
          hostPermit.onFailure();
          break;
        default:
          break;
      }
      return result;
    } finally {
      // Whatever ended the attempt without a verdict frees a half-open trial; a settled permit ignores this.
      hostPermit.onAbandon();
      credentialPermit?.onAbandon();
    }
  }
}
