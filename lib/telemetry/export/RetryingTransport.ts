import ITelemetryContext from '../contracts/ITelemetryContext';
import ITelemetryTransport, { UploadBatch, UploadResult } from '../contracts/ITelemetryTransport';
import debugLog from '../debugLog';
import { withDeadline } from '../deadline';

/**
 * Attempts an upload up to `1 + maxRetries` times: a retryable result waits the server's
 * `Retry-After`, or full-jitter exponential backoff, and tries again; anything else ends it. The
 * final result says why an upload that did not succeed was given up. Waits never keep the process
 * alive and end at once on shutdown.
 */
export default class RetryingTransport {
  constructor(
    private readonly context: ITelemetryContext,
    private readonly inner: ITelemetryTransport,
    private readonly shutdown: AbortSignal,
  ) {}

  async send(batch: UploadBatch): Promise<UploadResult> {
    const config = this.context.getTelemetryConfig();
    const attempts = 1 + config.maxRetries;
    for (let attempt = 0; attempt < attempts; attempt += 1) {
      if (this.shutdown.aborted) {
        return { outcome: 'dropped', reason: 'shut down' };
      }
      const result = await this.inner.send(batch, attempt);
      if (result.outcome === 'failure') {
        return { ...result, reason: `not retryable (${result.reason})` };
      }
      if (result.outcome !== 'retryable') {
        return result;
      }
      if (attempt + 1 >= attempts) {
        return { outcome: 'dropped', reason: `retries exhausted (${result.reason})` };
      }
      const delay =
        result.retryAfterMs ?? Math.random() * Math.min(config.backoffMaxMs, config.backoffBaseMs * 2 ** attempt);
      debugLog(
        this.context,
        `telemetry export: attempt ${attempt + 1} failed (${result.reason}), retrying in ${Math.round(delay)} ms`,
      );
      await withDeadline(new Promise<void>(() => undefined), delay, () => undefined, { signal: this.shutdown });
    }
    // Only an invalid maxRetries (negative, NaN) leaves the loop without an outcome.
    return { outcome: 'dropped', reason: 'no attempt allowed' };
  }
}
