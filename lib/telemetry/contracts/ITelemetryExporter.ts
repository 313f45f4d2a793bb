import { TelemetryLog } from '../types';

/** Sends finished logs somewhere. Never throws and never rejects. */
export default interface ITelemetryExporter {
  /** Resolves when the logs were sent, rejected by the server, or given up on. */
  export(logs: TelemetryLog[]): Promise<void>;
  /**
   * Settles once what `export()` was given has also reached its local side effects (the audit
   * file), so a caller that awaits `close()` can read them. Never rejects. Optional, as in
   * OpenTelemetry's exporters: an exporter without local side effects need not have it.
   */
  forceFlush?(): Promise<void>;
  /** Aborts requests in flight and backoff waits; later exports resolve at once. Idempotent. */
  shutdown(): void;
}
