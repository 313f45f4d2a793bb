import { promises as fs } from 'fs';
import ITelemetryContext from './contracts/ITelemetryContext';
import debugLog from './debugLog';

/** Lines waiting for the disk at most; beyond it lines are dropped (a stalled disk must not eat memory). */
export const MAX_PENDING_AUDIT_LINES = 10000;

/**
 * Appends what the exporter sends to a local file, one JSON line per log, so a security team can
 * see exactly what leaves the machine. Never blocks, throws or rejects: lines are queued and
 * appended in the background, one `appendFile` per batch (the file is created with mode 0600: it
 * holds session ids); the first failure (bad path, permission, full disk) is logged once at debug
 * level, without the path, and turns the writer off for good.
 */
export default class AuditFileWriter {
  private pending: string[] = [];

  /** Settles when the lines queued so far are written or given up on. */
  private drained: Promise<void> = Promise.resolve();

  private writing = false;

  private disabled = false;

  private overflowing = false;

  constructor(
    private readonly context: ITelemetryContext,
    private readonly path: string,
    private readonly maxPendingLines = MAX_PENDING_AUDIT_LINES,
  ) {}

  /**
   * Queues one line per log, given as `protoLogs` entries (JSON strings holding each log's JSON);
   * the file gets the log JSON itself. The promise (which callers need not await) settles once they
   * are written or dropped.
   */
  write(protoLogs: readonly string[]): Promise<void> {
    if (this.disabled || protoLogs.length === 0) {
      return this.drained;
    }
    const room = this.maxPendingLines - this.pending.length;
    if (room < protoLogs.length) {
      if (!this.overflowing) {
        this.overflowing = true;
        this.debug(`telemetry audit file: writes are behind; dropping ${protoLogs.length - Math.max(room, 0)} lines`);
      }
      protoLogs = protoLogs.slice(0, Math.max(room, 0));
    }
    this.pending.push(...protoLogs);
    if (!this.writing) {
      this.writing = true;
      this.drained = this.drain();
    }
    return this.drained;
  }

  /** Settles once every line queued so far is written or given up on. Never rejects. */
  whenWritten(): Promise<void> {
    return this.drained;
  }

  private async drain(): Promise<void> {
    while (this.pending.length > 0 && !this.disabled) {
      const lines = this.pending;
      this.pending = [];
      try {
        const text = lines.map((entry) => JSON.parse(entry) as string).join('\n');
        await fs.appendFile(this.path, `${text}\n`, { encoding: 'utf8', mode: 0o600 });
        this.overflowing = false;
      } catch (error) {
        this.disabled = true;
        this.pending = [];
        const code = (error as NodeJS.ErrnoException)?.code;
        this.debug(
          `telemetry audit file: cannot write (${typeof code === 'string' ? code : 'error'}); audit file turned off`,
        );
      }
    }
    this.writing = false;
  }

  private debug(message: string): void {
    debugLog(this.context, message);
  }
}
