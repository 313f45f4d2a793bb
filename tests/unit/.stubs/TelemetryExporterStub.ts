import ITelemetryExporter from '../../../lib/telemetry/contracts/ITelemetryExporter';
import { TelemetryLog } from '../../../lib/telemetry/types';

/**
 * Records every exported batch. `hang()` makes exports wait until `shutdown()` (or `release()`),
 * like a request to a dead endpoint; `fail()` makes them throw, breaking the exporter contract on
 * purpose to prove callers survive it. `holdFlush()` makes `forceFlush()` wait, like an audit
 * file on a slow disk, until `releaseFlush()`.
 */
export default class TelemetryExporterStub implements ITelemetryExporter {
  public readonly batches: TelemetryLog[][] = [];

  public shutdownCalls = 0;

  /** Exports started, including ones still hanging. */
  public exportCalls = 0;

  private mode: 'ok' | 'hang' | 'fail' = 'ok';

  private waiting: Array<() => void> = [];

  public forceFlushCalls = 0;

  private flushHeld?: Promise<void>;

  private flushRelease?: () => void;

  hang(): this {
    this.mode = 'hang';
    return this;
  }

  fail(): this {
    this.mode = 'fail';
    return this;
  }

  holdFlush(): this {
    this.flushHeld = new Promise((resolve) => {
      this.flushRelease = resolve;
    });
    return this;
  }

  releaseFlush(): void {
    this.flushRelease?.();
    this.flushHeld = undefined;
  }

  forceFlush(): Promise<void> {
    this.forceFlushCalls += 1;
    return this.flushHeld ?? Promise.resolve();
  }

  /** Lets hanging exports finish (recorded as sent) and later ones succeed at once. */
  release(): void {
    this.mode = 'ok';
    const waiting = this.waiting;
    this.waiting = [];
    waiting.forEach((resolve) => resolve());
  }

  get logs(): TelemetryLog[] {
    return this.batches.flat();
  }

  async export(logs: TelemetryLog[]): Promise<void> {
    this.exportCalls += 1;
    if (this.shutdownCalls > 0) {
      return;
    }
    if (this.mode === 'fail') {
      throw new Error('exporter failed');
    }
    if (this.mode === 'hang') {
      const aborted = await new Promise<boolean>((resolve) => {
        this.waiting.push(() => resolve(this.shutdownCalls > 0));
      });
      if (aborted) {
        return;
      }
    }
    this.batches.push(logs);
  }

  shutdown(): void {
    this.shutdownCalls += 1;
    const waiting = this.waiting;
    this.waiting = [];
    waiting.forEach((resolve) => resolve());
  }
}
