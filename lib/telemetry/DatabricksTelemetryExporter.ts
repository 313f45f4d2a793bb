import AuditFileWriter from './AuditFileWriter';
import CircuitBreaker from './CircuitBreaker';
import ExceptionClassifier from './ExceptionClassifier';
import FeatureFlagCache from './FeatureFlagCache';
import ITelemetryContext from './contracts/ITelemetryContext';
import ITelemetryExporter from './contracts/ITelemetryExporter';
import TelemetryTarget from './contracts/TelemetryTarget';
import TelemetryHttpError from './errors/TelemetryHttpError';
import httpRequest, { HttpResponse, namedError } from './httpRequest';
import { TelemetryConfiguration, TelemetryLog } from './types';
import { serializeProtoLog, uploadBody } from './wire/serializer';
import debugLog from './debugLog';
import { withDeadline } from './deadline';

export interface TelemetryExporterStats {
  /** HTTP attempts made. */
  requests: number;
  /** Logs the server accepted. */
  logsDelivered: number;
  /** Logs given up on: unusable, refused by the breaker, failed, rejected, or cut by shutdown. */
  logsDropped: number;
  /** Uploads the server accepted only in part. */
  partialRejections: number;
}

/** `Retry-After` in seconds or as an HTTP date, in milliseconds capped at `maxMs`; undefined if absent or unreadable. */
function retryAfterMs(response: HttpResponse, maxMs: number): number | undefined {
  const value = response.header('retry-after')?.trim();
  if (!value) {
    return undefined;
  }
  const ms = /^\d+$/.test(value) ? Number(value) * 1000 : Date.parse(value) - Date.now();
  return Number.isNaN(ms) ? undefined : Math.min(Math.max(ms, 0), maxMs);
}

function isMarkedUnauthenticated(log: TelemetryLog): boolean {
  try {
    return log.unauthenticated === true;
  } catch {
    return false;
  }
}

/**
 * Sends finished logs to the workspace's telemetry endpoint: signed-in logs to `/telemetry-ext`
 * with the connection's own headers, the rest to `/telemetry-unauth` with no credentials at all.
 * Each HTTP attempt takes a permit from the host's circuit breaker and settles it with the outcome,
 * so a dead endpoint sees at most `circuitBreakerThreshold` requests; a 401 or 403 counts against
 * this credential's own breaker instead of the host's. Retryable failures wait full-jitter
 * backoff or the server's `Retry-After`; terminal ones are not retried. A partial success is never
 * re-sent (we cannot know which logs the server kept; re-sending duplicates them). Never throws,
 * never rejects, logs only at debug level, and reports nothing about its own failures.
 *
 * With `auditFile` set, each log is appended to that file exactly as its JSON goes into `protoLogs`,
 * once, just before the batch's first HTTP request (what the breaker or shutdown stops from being
 * sent is not written; a retry writes nothing again), whatever the upload's outcome.
 */
export default class DatabricksTelemetryExporter implements ITelemetryExporter {
  private readonly stats: TelemetryExporterStats = {
    requests: 0,
    logsDelivered: 0,
    logsDropped: 0,
    partialRejections: 0,
  };

  private readonly shutdownController = new AbortController();

  private auditFile?: AuditFileWriter;

  /**
   * Counts only this credential's 401/403 answers, which say nothing about the host: other
   * credentials keep uploading through the host's breaker, while a refused credential still backs
   * off (at most `circuitBreakerThreshold` refused requests, then one trial per open period) instead
   * of trying once per batch for as long as the connection lives.
   */
  private readonly credentialBreaker: CircuitBreaker;

  constructor(
    private readonly context: ITelemetryContext,
    private readonly target: TelemetryTarget,
    /** The host's breaker, shared by every credential on the host. */
    private readonly circuitBreaker: CircuitBreaker,
  ) {
    this.credentialBreaker = new CircuitBreaker(context, `${target.host}:${target.port} credential`);
  }

  async export(logs: TelemetryLog[]): Promise<void> {
    if (this.isShutdown()) {
      return;
    }
    try {
      if (!Array.isArray(logs)) {
        this.debug('telemetry export: ignoring a non-array batch');
        return;
      }
      if (!this.circuitBreaker.isRequestAllowed()) {
        // Checked before serializing: during an outage the logs are dropped for the cost of a count.
        this.stats.logsDropped += logs.length;
        this.debug(`telemetry export: dropped ${logs.length} logs: circuit breaker open`);
        return;
      }
      const config = this.context.getTelemetryConfig();
      if (config.auditFile && !this.auditFile) {
        this.auditFile = new AuditFileWriter(this.context, config.auditFile);
      }
      const signedIn: string[] = [];
      const unauthenticated: string[] = [];
      // The workspace's own answers name it (see FeatureFlagCache) where the HTTP path does not.
      const workspaceId = FeatureFlagCache.workspaceIdOf(this.target);
      for (const log of logs) {
        const unauth = !config.authenticatedExport || isMarkedUnauthenticated(log);
        const entry = serializeProtoLog(log, this.target.userAgent, unauth, workspaceId);
        if (entry === undefined) {
          this.stats.logsDropped += 1;
          this.debug('telemetry export: dropped an unusable log');
        } else {
          (unauth ? unauthenticated : signedIn).push(entry);
        }
      }
      if (signedIn.length > 0) {
        await this.send(signedIn, false, config);
      }
      if (unauthenticated.length > 0) {
        await this.send(unauthenticated, true, config);
      }
    } catch (error) {
      this.debug(`telemetry export failed: ${ExceptionClassifier.safeErrorName(error)}`);
    }
  }

  forceFlush(): Promise<void> {
    return this.auditFile ? this.auditFile.whenWritten() : Promise.resolve();
  }

  shutdown(): void {
    // AbortController ignores a second abort, which makes this idempotent.
    this.shutdownController.abort();
  }

  getStats(): TelemetryExporterStats {
    return { ...this.stats };
  }

  private async send(protoLogs: string[], unauthenticated: boolean, config: TelemetryConfiguration): Promise<void> {
    const count = protoLogs.length;
    const url = `https://${this.target.host}:${this.target.port}/${unauthenticated ? 'telemetry-unauth' : 'telemetry-ext'}`;
    const body = uploadBody(protoLogs, Date.now());
    const attempts = 1 + config.maxRetries;

    for (let attempt = 0; attempt < attempts; attempt += 1) {
      if (this.isShutdown()) {
        return this.drop(count, 'shut down');
      }
      const hostPermit = this.circuitBreaker.tryAcquire();
      if (!hostPermit) {
        return this.drop(count, 'circuit breaker open');
      }
      // No credential goes to /telemetry-unauth, so its own breaker does not guard it.
      const credentialPermit = unauthenticated ? undefined : this.credentialBreaker.tryAcquire();
      let failure: unknown;
      try {
        if (!unauthenticated && !credentialPermit) {
          return this.drop(count, 'credential refused by the server; paused');
        }
        let headers: Record<string, string>;
        try {
          headers = await this.headers(unauthenticated, config);
        } catch {
          // No failure is reported anywhere but here: telemetry about auth failures of telemetry could recurse.
          return this.drop(count, 'authentication headers unavailable');
        }

        if (attempt === 0) {
          this.auditFile?.write(protoLogs);
        }
        try {
          this.stats.requests += 1;
          const response = await this.untilShutdown(
            httpRequest(this.context, {
              method: 'POST',
              url,
              headers,
              body,
              timeoutMs: config.requestTimeoutMs,
              signal: this.shutdownController.signal,
            }),
            config.requestTimeoutMs,
          );
          if (response.status >= 200 && response.status < 300) {
            hostPermit.onSuccess();
            credentialPermit?.onSuccess();
            this.accepted(response, count);
            return;
          }
          failure = new TelemetryHttpError(response.status, retryAfterMs(response, config.retryAfterMaxMs));
        } catch (error) {
          failure = error;
        }
        if (this.isShutdown()) {
          // Cut by our own shutdown: says nothing about the endpoint.
          return this.drop(count, 'shut down');
        }
        if (credentialPermit && ExceptionClassifier.isAuthFailure(failure)) {
          credentialPermit.onFailure();
        } else {
          hostPermit.onFailure();
        }
      } finally {
        // Whatever ended the attempt without a verdict frees a half-open trial; a settled permit ignores this.
        hostPermit.onAbandon();
        credentialPermit?.onAbandon();
      }

      const name = ExceptionClassifier.safeErrorName(failure);
      if (!ExceptionClassifier.isRetryable(failure)) {
        return this.drop(count, `not retryable (${name}${statusOf(failure)})`);
      }
      if (attempt + 1 >= attempts) {
        return this.drop(count, `retries exhausted (${name}${statusOf(failure)})`);
      }
      const delay =
        failure instanceof TelemetryHttpError && failure.retryAfterMs !== undefined
          ? failure.retryAfterMs
          : Math.random() * Math.min(config.backoffMaxMs, config.backoffBaseMs * 2 ** attempt);
      this.debug(
        `telemetry export: attempt ${attempt + 1} failed (${name}${statusOf(failure)}), retrying in ${Math.round(delay)} ms`,
      );
      await this.sleep(delay);
    }
    // Only an invalid maxRetries (negative, NaN) leaves the loop without an outcome.
    return this.drop(count, 'no attempt allowed');
  }

  private async headers(unauthenticated: boolean, config: TelemetryConfiguration): Promise<Record<string, string>> {
    const headers: Record<string, string> = {};
    if (!unauthenticated) {
      // Whatever the connection's auth produces (bearer, custom headers): no Authorization header is required.
      const auth = await this.untilShutdown(Promise.resolve(this.target.getAuthHeaders()), config.requestTimeoutMs);
      for (const [name, value] of Object.entries(typeof auth === 'object' && auth !== null ? auth : {})) {
        if (typeof value === 'string') {
          headers[name] = value;
        }
      }
      // The org id ties a log to a workspace, which the unauthenticated endpoint must never learn.
      if (this.target.orgId) {
        headers['x-databricks-org-id'] = this.target.orgId;
      }
    }
    headers['Content-Type'] = 'application/json';
    headers.Accept = 'application/json';
    headers['User-Agent'] = this.target.userAgent;
    return headers;
  }

  /** Counts what a 2xx response says the server kept. */
  private accepted(response: HttpResponse, count: number): void {
    let kept: unknown;
    try {
      kept = (JSON.parse(response.body) as { numProtoSuccess?: unknown })?.numProtoSuccess;
    } catch {
      kept = undefined;
    }
    if (typeof kept !== 'number' || !Number.isInteger(kept) || kept < 0) {
      this.stats.logsDelivered += count;
      this.debug('telemetry export: unreadable success response; counting the batch as delivered');
      return;
    }
    const delivered = Math.min(kept, count);
    this.stats.logsDelivered += delivered;
    if (delivered < count) {
      this.stats.partialRejections += 1;
      this.stats.logsDropped += count - delivered;
      this.debug(`telemetry export: server kept ${delivered} of ${count} logs; not re-sending (duplicates)`);
    }
  }

  private drop(count: number, reason: string): void {
    this.stats.logsDropped += count;
    this.debug(`telemetry export: dropped ${count} logs: ${reason}`);
  }

  /** Settles with `promise`, or rejects on shutdown or after `timeoutMs`, whichever comes first. */
  private untilShutdown<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
    return withDeadline(
      promise,
      timeoutMs,
      () => {
        throw namedError('TimeoutError', 'telemetry request timed out');
      },
      {
        signal: this.shutdownController.signal,
        onAbort: () => {
          throw namedError('AbortError', 'telemetry exporter shut down');
        },
      },
    );
  }

  /** A backoff wait that never keeps the process alive and ends at once on shutdown. */
  private sleep(ms: number): Promise<void> {
    return withDeadline(new Promise<void>(() => undefined), ms, () => undefined, {
      signal: this.shutdownController.signal,
    });
  }
  private isShutdown(): boolean {
    return this.shutdownController.signal.aborted;
  }

  private debug(message: string): void {
    debugLog(this.context, message);
  }
}

function statusOf(error: unknown): string {
  return error instanceof TelemetryHttpError ? ` HTTP ${error.statusCode}` : '';
}
