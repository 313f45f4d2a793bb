/** Where progress goes: `process.stderr`, or anything with `write` (tests). */
export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/**
 * A progress line. On a terminal it is one line rewritten in place (steps and live updates);
 * elsewhere (a pipe, a CI log) each step is a plain line and live updates are left out.
 */
export default class Progress {
  private readonly tty: boolean;

  private lastUpdate = 0;

  private open = false;

  private readonly startedAt = Date.now();

  constructor(
    private readonly stream: ProgressStream,
    private readonly minUpdateIntervalMs = 100,
  ) {
    this.tty = stream.isTTY === true;
  }

  /** A new step of the work. */
  step(text: string): void {
    this.lastUpdate = 0;
    this.show(text, true);
  }

  /** A live update within the step (rows fetched...); throttled, and shown on a terminal only. */
  update(text: string): void {
    if (!this.tty) {
      return;
    }
    const now = Date.now();
    if (now - this.lastUpdate < this.minUpdateIntervalMs) {
      return;
    }
    this.lastUpdate = now;
    this.show(text, false);
  }

  /** The last line: kept on screen. */
  done(text: string): void {
    this.show(text, true);
    if (this.tty && this.open) {
      this.stream.write('\n');
      this.open = false;
    }
  }

  private show(text: string, plainToo: boolean): void {
    const elapsed = ((Date.now() - this.startedAt) / 1000).toFixed(1).padStart(5);
    const line = `[${elapsed}s] ${text}`;
    if (this.tty) {
      const width = Math.max((this.stream.columns || 80) - 1, 20);
      this.stream.write(`\r\x1b[2K${line.length > width ? `${line.slice(0, width - 1)}…` : line}`);
      this.open = true;
    } else if (plainToo) {
      this.stream.write(`${line}\n`);
    }
  }
}
