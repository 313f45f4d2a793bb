import ExceptionClassifier from '../ExceptionClassifier';
import ITelemetryContext from '../contracts/ITelemetryContext';
import ITelemetryTransport, { UploadBatch, UploadResult } from '../contracts/ITelemetryTransport';
import TelemetryTarget from '../contracts/TelemetryTarget';
import TelemetryHttpError from '../errors/TelemetryHttpError';
import httpRequest, { HttpResponse, namedError } from '../httpRequest';
import { withDeadline } from '../deadline';

/** An HTTP date as servers send it (`Sun, 06 Nov 1994 08:49:37 GMT`); `Date.parse` alone takes `1.5` for a date. */
const HTTP_DATE = /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/;

/** `Retry-After` in seconds or as an HTTP date, in milliseconds capped at `maxMs`; undefined if absent or unreadable. */
function retryAfterMs(response: HttpResponse, maxMs: number): number | undefined {
  const value = response.header('retry-after')?.trim();
  if (!value) {
    return undefined;
  }
  let ms: number;
  if (/^\d+$/.test(value)) {
    ms = Number(value) * 1000;
  } else if (HTTP_DATE.test(value)) {
    ms = Date.parse(value) - Date.now();
  } else {
    return undefined;
  }
  return Number.isNaN(ms) ? undefined : Math.min(Math.max(ms, 0), maxMs);
}

/** `numProtoSuccess` of a 2xx body, when it is a count. */
function keptOf(response: HttpResponse): number | undefined {
  try {
    const kept = (JSON.parse(response.body) as { numProtoSuccess?: unknown })?.numProtoSuccess;
    return typeof kept === 'number' && Number.isInteger(kept) && kept >= 0 ? kept : undefined;
  } catch {
    return undefined;
  }
}

/**
 * One HTTP attempt of an upload, as a typed result: the only layer that sees requests, responses
 * and thrown errors. Signed-in uploads carry the connection's own headers (and its org id), the
 * rest no credentials at all. Every wait ends on the exporter's shutdown.
 */
export default class HttpTransport implements ITelemetryTransport {
  /** HTTP attempts made. */
  requests = 0;

  constructor(
    private readonly context: ITelemetryContext,
    private readonly target: TelemetryTarget,
    private readonly shutdown: AbortSignal,
  ) {}

  async send(batch: UploadBatch, attempt: number): Promise<UploadResult> {
    const config = this.context.getTelemetryConfig();
    let headers: Record<string, string>;
    try {
      headers = await this.headers(batch.unauthenticated, config.requestTimeoutMs);
    } catch {
      // No failure is reported anywhere but here: telemetry about auth failures of telemetry could recurse.
      return { outcome: 'dropped', reason: this.shutdown.aborted ? 'shut down' : 'authentication headers unavailable' };
    }
    batch.onSending?.(attempt);
    let failure: unknown;
    try {
      this.requests += 1;
      const response = await this.untilShutdown(
        httpRequest(this.context, {
          method: 'POST',
          url: `https://${this.target.host}:${this.target.port}/${batch.unauthenticated ? 'telemetry-unauth' : 'telemetry-ext'}`,
          headers,
          body: batch.body,
          timeoutMs: config.requestTimeoutMs,
          signal: this.shutdown,
        }),
        config.requestTimeoutMs,
      );
      if (response.status >= 200 && response.status < 300) {
        return { outcome: 'success', kept: keptOf(response) };
      }
      failure = new TelemetryHttpError(response.status, retryAfterMs(response, config.retryAfterMaxMs));
    } catch (error) {
      failure = error;
    }
    if (this.shutdown.aborted) {
      // Cut by our own shutdown: says nothing about the endpoint.
      return { outcome: 'dropped', reason: 'shut down' };
    }
    const status = failure instanceof TelemetryHttpError ? ` HTTP ${failure.statusCode}` : '';
    const reason = `${ExceptionClassifier.safeErrorName(failure)}${status}`;
    if (ExceptionClassifier.isRetryable(failure)) {
      return {
        outcome: 'retryable',
        reason,
        retryAfterMs: failure instanceof TelemetryHttpError ? failure.retryAfterMs : undefined,
      };
    }
    return { outcome: 'failure', reason, credentialRefused: ExceptionClassifier.isAuthFailure(failure) };
  }

  private async headers(unauthenticated: boolean, timeoutMs: number): Promise<Record<string, string>> {
    const headers: Record<string, string> = {};
    if (!unauthenticated) {
      // Whatever the connection's auth produces (bearer, custom headers): no Authorization header is required.
      const auth = await this.untilShutdown(Promise.resolve(this.target.getAuthHeaders()), timeoutMs);
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

  /** Settles with `promise`, or rejects on shutdown or after `timeoutMs`, whichever comes first. */
  private untilShutdown<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
    return withDeadline(
      promise,
      timeoutMs,
      () => {
        throw namedError('TimeoutError', 'telemetry request timed out');
      },
      {
        signal: this.shutdown,
        onAbort: () => {
          throw namedError('AbortError', 'telemetry exporter shut down');
        },
      },
    );
  }
}
