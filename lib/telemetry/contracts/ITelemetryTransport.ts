/** One upload's body, on its way to `/telemetry-ext` or `/telemetry-unauth`. */
export interface UploadBatch {
  /** The logs as they go into `protoLogs`: counted, never re-read. */
  count: number;
  body: string;
  /** Send without credentials, to `/telemetry-unauth`. */
  unauthenticated: boolean;
  /** Called once per HTTP request, just before it is sent. */
  onSending?: (attempt: number) => void;
}

/**
 * What one attempt, or the whole upload, came to. `reason` names an error class and an HTTP
 * status at most, never a message or a body.
 */
export type UploadResult =
  /** The server answered 2xx; `kept` is its `numProtoSuccess` when readable. */
  | { outcome: 'success'; kept?: number }
  /** Worth another attempt, after `retryAfterMs` when the server asked for a wait. */
  | { outcome: 'retryable'; reason: string; retryAfterMs?: number }
  /** Another attempt would fail the same way; `credentialRefused` for a 401 or 403. */
  | { outcome: 'failure'; reason: string; credentialRefused: boolean }
  /** Never answered by the endpoint (shut down, breaker open, no credentials): says nothing about it. */
  | { outcome: 'dropped'; reason: string };

/** Sends one upload; each layer of the exporter is one. Never throws, never rejects. */
export default interface ITelemetryTransport {
  send(batch: UploadBatch, attempt: number): Promise<UploadResult>;
}
