/** A connection whose telemetry may still hold logs when the process is about to exit (see exitFlush.ts). */
export interface ExitFlushable {
  /** True when there is something to send: unreported statements or logs queued since the last flush. */
  hasExitWork(): boolean;
  /** Reports open statements and sends what is queued. Never rejects. */
  flushAtExit(): Promise<void>;
  /** Longest the flush may keep the process alive. */
  exitDeadlineMs(): number;
}
