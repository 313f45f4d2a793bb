import { TelemetryEventSink } from '../telemetry/TelemetryEventEmitter';

/** One of the emitter's methods, or deferred work that ignores `this`: called with the emitter as `this`. */
type EmitterMethod = (this: TelemetryEventSink, fields: never) => void;

/** Work held in order with the events, such as reading an RPC's response. */
export type DeferredWork<T> = (arg: T) => void;

/** Held events that make a batch go out at once. */
const MAX_HELD = 256;

/** Longest an event is held: the aggregator and the upload queue see it this much later at most. */
const HOLD_MS = 100;

/**
 * The adapter's events, and the work of reading what it observed, held briefly and done in
 * batches. The adapter is called between the driver's own work, which leaves the adapter's code
 * and data, the emitter, the aggregator and the upload queue cold in the CPU's caches at every
 * statement; in batches they stay warm. Each event keeps the time it happened, and each piece of
 * work the times it was given. A batch goes out when `MAX_HELD` items are held, `HOLD_MS` after
 * the first (an unref'ed timer), or when the connection calls `deliver()` because it needs them
 * handled now (a session or the connection closing, the process exiting, a CloudFetch link the
 * driver is about to download). Events that held work emits are delivered in its place.
 */
export default class DeferredEvents implements TelemetryEventSink {
  /** Emitter method (or work) and its argument, alternately: no tuple per item, and no look-up by name. */
  private held: unknown[] = [];

  private timer?: NodeJS.Timeout;

  private closed = false;

  private delivering = false;

  constructor(private readonly emitter: TelemetryEventSink) {}

  emitConnectionOpen(fields: Parameters<TelemetryEventSink['emitConnectionOpen']>[0]): void {
    this.hold(this.emitter.emitConnectionOpen, fields);
  }

  emitStatementStart(fields: Parameters<TelemetryEventSink['emitStatementStart']>[0]): void {
    this.hold(this.emitter.emitStatementStart, fields);
  }

  emitStatementComplete(fields: Parameters<TelemetryEventSink['emitStatementComplete']>[0]): void {
    this.hold(this.emitter.emitStatementComplete, fields);
  }

  emitCloudFetchChunk(fields: Parameters<TelemetryEventSink['emitCloudFetchChunk']>[0]): void {
    this.hold(this.emitter.emitCloudFetchChunk, fields);
  }

  emitError(fields: Parameters<TelemetryEventSink['emitError']>[0]): void {
    this.hold(this.emitter.emitError, fields);
  }

  /** True while events wait for delivery. */
  hasHeld(): boolean {
    return this.held.length > 0;
  }

  /** Hands every held event to the emitter and does the held work, in the order they came. */
  deliver(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.delivering) {
      return;
    }
    this.delivering = true;
    const held = this.held;
    this.held = [];
    try {
      for (let i = 0; i < held.length; i += 2) {
        // Neither the emitter's methods nor the adapter's work throw.
        (held[i] as EmitterMethod).call(this.emitter, held[i + 1] as never);
      }
    } finally {
      this.delivering = false;
    }
  }

  /** Holds `work` in order with the events; after `close()`, or from work being done, it runs at once. */
  defer<T>(work: DeferredWork<T>, arg: T): void {
    if (this.closed || this.delivering) {
      work(arg);
      return;
    }
    this.held.push(work, arg);
    this.scheduleDelivery();
  }

  /** Delivers what is held; later events go to the emitter at once (there is nothing left to batch for). */
  close(): void {
    this.closed = true;
    this.deliver();
  }

  private hold(method: EmitterMethod, fields: { timestamp?: number } | undefined): void {
    // Events that held work emits go out in its place, so the emitter sees them in order.
    if (this.closed || this.delivering) {
      method.call(this.emitter, fields as never);
      return;
    }
    // Stamped now, not at delivery: the emitter would stamp it with its own time. Bad input is
    // held as it came, for the emitter to reject and log.
    const stamped =
      typeof fields === 'object' && fields !== null && fields.timestamp === undefined
        ? { ...fields, timestamp: Date.now() }
        : fields;
    this.held.push(method, stamped);
    this.scheduleDelivery();
  }

  private scheduleDelivery(): void {
    if (this.held.length >= 2 * MAX_HELD) {
      this.deliver();
    } else if (!this.timer) {
      this.timer = setTimeout(() => this.deliver(), HOLD_MS);
      this.timer.unref();
    }
  }
}
