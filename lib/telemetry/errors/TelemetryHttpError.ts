/**
 * A telemetry upload answered with a non-2xx status. Carries only the status and the server's
 * `Retry-After` (already converted to milliseconds), so ExceptionClassifier can classify it and
 * the exporter can honour the wait; never the response body.
 */
export default class TelemetryHttpError extends Error {
  public readonly statusCode: number;

  public readonly retryAfterMs?: number;

  constructor(statusCode: number, retryAfterMs?: number) {
    super(`telemetry upload failed with HTTP ${statusCode}`);
    this.name = 'TelemetryHttpError';
    this.statusCode = statusCode;
    this.retryAfterMs = retryAfterMs;
  }
}
