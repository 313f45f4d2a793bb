import ITelemetryContext from './contracts/ITelemetryContext';
import ITelemetryExporter from './contracts/ITelemetryExporter';
import TelemetryTarget from './contracts/TelemetryTarget';
import FeatureFlagCache, { FeatureFlagAnswer } from './FeatureFlagCache';
import { TelemetryConfiguration, TelemetryLog } from './types';
import debugLog, { readTelemetryConfig } from './debugLog';
import { withDeadline } from './deadline';

/**
 * Least time between two flushes that error logs trigger: an error goes out at once or within
 * this long, and an error storm adds at most one upload per period, its errors riding along.
 */
const ERROR_FLUSH_INTERVAL_MS = 1000;

/**
 * A partial batch also goes out once no log has arrived for this share of the flush interval.
 * After a burst of statements it then leaves while the connection's sockets are still open,
 * rather than at the interval's end, when a server with a short keep-alive has closed them and
 * the upload pays for a new TLS handshake; a steady stream still batches up to the interval.
 */
const QUIET_SHARE_OF_INTERVAL = 0.5;

/** Whether the log reports an error; a hostile log (throwing getter) does not. */
function carriesError(log: TelemetryLog): boolean {
  try {
    return Boolean(log.errorName);
  } catch {
    return false;
  }
}

export interface TelemetryClientStats {
  /** Logs waiting for export. */
  queued: number;
  /** Logs given up on: queue full, feature flag off or unknown at close, client closed. */
  dropped: number;
  /** Batches handed to the exporter and finished. */
  exportedBatches: number;
}

/**
 * The export queue shared by every connection of one host and credential, modelled on
 * OpenTelemetry's BatchSpanProcessor: a bounded queue that drops instead of growing, a full batch
 * or the flush interval (after a burst, half of it without a log) triggers an export, a log that
 * carries an error triggers one within `ERROR_FLUSH_INTERVAL_MS` (at most one such flush per
 * period), the flush timers exist only while logs wait and never hold the process, one export
 * runs at a time, and `close()` is a once-promise that stops accepting, flushes and shuts the
 * exporter down within `closeTimeoutMs`.
 * Nothing is sent until the host's feature flag says 'enabled'.
 */
export default class TelemetryClient {
  private readonly config: TelemetryConfiguration;

  private queue: TelemetryLog[] = [];

  private flushTimer?: NodeJS.Timeout;

  /** Monotonic times (ms) of the oldest log the flush timer waits for, and of the newest log. */
  private batchStartedAt = 0;

  private lastLogAt = 0;

  private errorFlushTimer?: NodeJS.Timeout;

  /** When the last error-triggered flush started, to space the next one. */
  private lastErrorFlushAt = Number.NEGATIVE_INFINITY;

  /** The running export loop; at most one, so batches go out one at a time. */
  private draining?: Promise<void>;

  /** The running loop should also export a partial batch (timer or close), not only full ones. */
  private flushAll = false;

  private closing?: Promise<void>;

  /** The close deadline passed: export nothing more. */
  private abandoned = false;

  /** Logged once per overflow, not once per dropped log. */
  private overflowing = false;

  private dropped = 0;

  private exportedBatches = 0;

  constructor(
    private readonly context: ITelemetryContext,
    private readonly target: TelemetryTarget,
    private readonly exporter: ITelemetryExporter,
    private readonly featureFlags: FeatureFlagCache,
  ) {
    this.config = readTelemetryConfig(this.context);
  }

  /** Takes one log for export; never blocks and never throws. */
  enqueue(log: TelemetryLog): void {
    try {
      if (typeof log !== 'object' || log === null) {
        this.log('ignored a log that is not an object');
        return;
      }
      if (this.closing) {
        this.dropped += 1;
        return;
      }
      if (this.featureFlags.getState(this.target) === 'disabled') {
        this.dropped += 1;
        this.dropQueued('feature flag is off');
        return;
      }
      if (this.queue.length >= this.config.maxQueueSize) {
        if (!this.overflowing) {
          this.log(`queue full (${this.config.maxQueueSize}); dropping new logs`);
          this.overflowing = true;
        }
        this.dropped += 1;
        return;
      }
      this.overflowing = false;
      this.queue.push(log);
      this.lastLogAt = performance.now();
      if (carriesError(log)) {
        this.startErrorFlushTimer();
      }
      if (this.queue.length >= this.config.batchSize) {
        this.drain(false);
      } else {
        this.startFlushTimer();
      }
    } catch (error) {
      this.log('enqueue failed', error);
    }
  }

  /** Flushes what is held and shuts the exporter down, within `closeTimeoutMs`. Idempotent; never rejects. */
  close(): Promise<void> {
    if (!this.closing) {
      this.closing = this.shutdown();
    }
    return this.closing;
  }

  /**
   * Sends everything held now (waiting for the flag at most `closeTimeoutMs`) without closing:
   * for a process about to exit without `close()`. Never rejects; the caller bounds the wait.
   */
  async flush(): Promise<void> {
    if (this.closing) {
      return;
    }
    try {
      await this.featureFlags.whenSettled(this.target, this.config.closeTimeoutMs);
      await this.drain(true);
      await this.exporter.forceFlush?.();
    } catch (error) {
      this.log('flush failed', error);
    }
  }

  /**
   * The host's feature-flag answer, once it has one (see FeatureFlagCache.answer). An answer of
   * off drops the logs waiting for it, as a log enqueued then would: connections that idle on
   * that answer enqueue nothing that would. Never rejects.
   */
  async featureFlagAnswer(): Promise<FeatureFlagAnswer> {
    const answer = await this.featureFlags.answer(this.target);
    if (answer.state === 'disabled') {
      this.dropQueued('feature flag is off');
    }
    return answer;
  }

  getStats(): TelemetryClientStats {
    return { queued: this.queue.length, dropped: this.dropped, exportedBatches: this.exportedBatches };
  }

  private async shutdown(): Promise<void> {
    this.stopFlushTimers();
    // Ref'ed on purpose: an awaited close() must finish (or hit its deadline) even when nothing
    // else keeps the process alive; the flush timer and in-flight sockets are unref'ed.
    const timedOut = await withDeadline(
      this.flushForClose().then(() => false),
      this.config.closeTimeoutMs,
      () => true,
      { ref: true },
    );
    if (timedOut) {
      this.abandoned = true;
      this.dropQueued('close deadline passed');
      this.log(`close deadline of ${this.config.closeTimeoutMs} ms passed; aborting the export in flight`);
    }
    this.shutdownExporter();
  }

  private async flushForClose(): Promise<void> {
    try {
      await this.featureFlags.whenSettled(this.target, this.config.closeTimeoutMs);
      await this.drain(true);
      this.dropQueued('feature flag unknown at close');
      await this.exporter.forceFlush?.();
    } catch (error) {
      this.log('flush at close failed', error);
    }
  }

  /** Starts the export loop unless it runs; `all` also exports a partial batch. */
  private drain(all: boolean): Promise<void> {
    if (all) {
      this.flushAll = true;
    }
    if (!this.draining) {
      this.draining = this.exportLoop().finally(() => {
        this.draining = undefined;
        this.flushAll = false;
        if (this.queue.length === 0) {
          this.stopFlushTimers();
        } else if (!this.closing) {
          this.startFlushTimer();
        }
      });
    }
    return this.draining;
  }

  private async exportLoop(): Promise<void> {
    try {
      while (
        !this.abandoned &&
        (this.queue.length >= this.config.batchSize || (this.flushAll && this.queue.length > 0))
      ) {
        const state = this.featureFlags.getState(this.target);
        if (state === 'disabled') {
          this.dropQueued('feature flag is off');
          return;
        }
        if (state === 'unknown') {
          // Held (bounded by maxQueueSize) until the flag answers; the next interval checks again.
          return;
        }
        // Taken off the queue before the export, so a log is never sent twice.
        const batch = this.queue.splice(0, this.config.batchSize);
        await this.exporter.export(batch);
        this.exportedBatches += 1;
      }
    } catch (error) {
      // The exporter contract says it never rejects; a broken one loses only its batch.
      this.log('export failed', error);
    }
  }

  private dropQueued(reason: string): void {
    if (this.queue.length > 0) {
      this.log(`dropping ${this.queue.length} logs: ${reason}`);
      this.dropped += this.queue.length;
      this.queue = [];
    }
  }

  private startFlushTimer(): void {
    if (this.flushTimer) {
      return;
    }
    this.batchStartedAt = performance.now();
    this.scheduleFlush(this.quietMs());
  }

  private quietMs(): number {
    return this.config.flushIntervalMs * QUIET_SHARE_OF_INTERVAL;
  }

  /** Flushes an interval after the batch's first log, or once no log has come for the quiet period, whichever is first. */
  private scheduleFlush(wait: number): void {
    this.flushTimer = setTimeout(() => {
      const now = performance.now();
      const untilDue = Math.min(
        this.batchStartedAt + this.config.flushIntervalMs - now,
        this.lastLogAt + this.quietMs() - now,
      );
      if (untilDue > 0) {
        this.scheduleFlush(untilDue);
        return;
      }
      this.flushTimer = undefined;
      this.drain(true);
    }, wait);
    this.flushTimer.unref();
  }

  /** Flushes on the next turn, or once `ERROR_FLUSH_INTERVAL_MS` has passed since the last error-triggered flush. */
  private startErrorFlushTimer(): void {
    if (this.errorFlushTimer) {
      return;
    }
    // Capped, so a clock set back cannot postpone an error past one period.
    const wait = Math.min(
      ERROR_FLUSH_INTERVAL_MS,
      Math.max(0, this.lastErrorFlushAt + ERROR_FLUSH_INTERVAL_MS - Date.now()),
    );
    this.errorFlushTimer = setTimeout(() => {
      this.errorFlushTimer = undefined;
      this.lastErrorFlushAt = Date.now();
      this.drain(true);
    }, wait);
    this.errorFlushTimer.unref();
  }

  private stopFlushTimers(): void {
    if (this.flushTimer) {
      clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
    }
    if (this.errorFlushTimer) {
      clearTimeout(this.errorFlushTimer);
      this.errorFlushTimer = undefined;
    }
  }

  private shutdownExporter(): void {
    try {
      this.exporter.shutdown();
    } catch (error) {
      this.log('exporter shutdown failed', error);
    }
  }

  private log(message: string, error?: unknown): void {
    debugLog(this.context, `telemetry client: ${message}`, error);
  }
}
