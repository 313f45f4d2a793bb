import AuditFileWriter from './AuditFileWriter';
import CircuitBreaker from './CircuitBreaker';
import ExceptionClassifier from './ExceptionClassifier';
import FeatureFlagCache from './FeatureFlagCache';
import ITelemetryContext from './contracts/ITelemetryContext';
import ITelemetryExporter from './contracts/ITelemetryExporter';
import TelemetryTarget from './contracts/TelemetryTarget';
import { UploadBatch, UploadResult } from './contracts/ITelemetryTransport';
import BreakerGuard from './export/BreakerGuard';
import HttpTransport from './export/HttpTransport';
import RetryingTransport from './export/RetryingTransport';
import { TelemetryLog } from './types';
import { serializeProtoLog, uploadBody } from './wire/serializer';
import debugLog from './debugLog';

export interface TelemetryExporterStats {
  /** HTTP attempts made. */
  requests: number;
  /** Logs the server accepted. */
  logsDelivered: number;
  /** Logs given up on: unusable, refused by the breaker, failed, rejected, or cut by shutdown. */
  logsDropped: number;
  /** Uploads the server accepted only in part. */
  partialRejections: number;
}

function isMarkedUnauthenticated(log: TelemetryLog): boolean {
  try {
    return log.unauthenticated === true;
  } catch {
    return false;
  }
}

/**
 * Sends finished logs to the workspace's telemetry endpoint: signed-in logs to `/telemetry-ext`
 * with the connection's own headers, the rest to `/telemetry-unauth` with no credentials at all.
 * Built in layers, as OpenTelemetry's exporters are: this class serializes through the allow-list,
 * splits by endpoint and counts; `RetryingTransport` retries what is retryable with backoff or the
 * server's `Retry-After`; `BreakerGuard` takes and settles the host's and the credential's circuit
 * breaker permits; `HttpTransport` makes the request and turns its outcome into a typed result. A
 * partial success is never re-sent (we cannot know which logs the server kept; re-sending
 * duplicates them). Never throws, never rejects, logs only at debug level, and reports nothing
 * about its own failures.
 *
 * With `auditFile` set, each log is appended to that file exactly as its JSON goes into `protoLogs`,
 * once, just before the batch's first HTTP request (what the breaker or shutdown stops from being
 * sent is not written; a retry writes nothing again), whatever the upload's outcome.
 */
export default class DatabricksTelemetryExporter implements ITelemetryExporter {
  private readonly stats: Omit<TelemetryExporterStats, 'requests'> = {
    logsDelivered: 0,
    logsDropped: 0,
    partialRejections: 0,
  };

  private readonly shutdownController = new AbortController();

  private auditFile?: AuditFileWriter;

  private readonly http: HttpTransport;

  private readonly transport: RetryingTransport;

  constructor(
    private readonly context: ITelemetryContext,
    private readonly target: TelemetryTarget,
    /** The host's breaker, shared by every credential on the host. */
    private readonly circuitBreaker: CircuitBreaker,
  ) {
    const { signal } = this.shutdownController;
    this.http = new HttpTransport(context, target, signal);
    const credentialBreaker = new CircuitBreaker(context, `${target.host}:${target.port} credential`);
    this.transport = new RetryingTransport(
      context,
      new BreakerGuard(this.http, circuitBreaker, credentialBreaker),
      signal,
    );
  }

  async export(logs: TelemetryLog[]): Promise<void> {
    if (this.isShutdown()) {
      return;
    }
    try {
      if (!Array.isArray(logs)) {
        this.debug('telemetry export: ignoring a non-array batch');
        return;
      }
      if (!this.circuitBreaker.isRequestAllowed()) {
        // Checked before serializing: during an outage the logs are dropped for the cost of a count.
        this.stats.logsDropped += logs.length;
        this.debug(`telemetry export: dropped ${logs.length} logs: circuit breaker open`);
        return;
      }
      const config = this.context.getTelemetryConfig();
      if (config.auditFile && !this.auditFile) {
        this.auditFile = new AuditFileWriter(this.context, config.auditFile);
      }
      const signedIn: string[] = [];
      const unauthenticated: string[] = [];
      // The workspace's own answers name it (see FeatureFlagCache) where the HTTP path does not.
      const workspaceId = FeatureFlagCache.workspaceIdOf(this.target);
      for (const log of logs) {
        const unauth = !config.authenticatedExport || isMarkedUnauthenticated(log);
        const entry = serializeProtoLog(log, this.target.userAgent, unauth, workspaceId);
        if (entry === undefined) {
          this.stats.logsDropped += 1;
          this.debug('telemetry export: dropped an unusable log');
        } else {
          (unauth ? unauthenticated : signedIn).push(entry);
        }
      }
      if (signedIn.length > 0) {
        await this.send(signedIn, false);
      }
      if (unauthenticated.length > 0) {
        await this.send(unauthenticated, true);
      }
    } catch (error) {
      this.debug(`telemetry export failed: ${ExceptionClassifier.safeErrorName(error)}`);
    }
  }

  forceFlush(): Promise<void> {
    return this.auditFile ? this.auditFile.whenWritten() : Promise.resolve();
  }

  shutdown(): void {
    // AbortController ignores a second abort, which makes this idempotent.
    this.shutdownController.abort();
  }

  getStats(): TelemetryExporterStats {
    return { requests: this.http.requests, ...this.stats };
  }

  private async send(protoLogs: string[], unauthenticated: boolean): Promise<void> {
    const { auditFile } = this;
    const batch: UploadBatch = {
      count: protoLogs.length,
      body: uploadBody(protoLogs, Date.now()),
      unauthenticated,
      onSending: auditFile
        ? (attempt) => {
            if (attempt === 0) {
              auditFile.write(protoLogs);
            }
          }
        : undefined,
    };
    this.settle(await this.transport.send(batch), batch.count);
  }

  /** Counts what the upload came to: what a 2xx response says the server kept, or the batch dropped. */
  private settle(result: UploadResult, count: number): void {
    if (result.outcome !== 'success') {
      this.stats.logsDropped += count;
      this.debug(`telemetry export: dropped ${count} logs: ${result.reason}`);
      return;
    }
    if (result.kept === undefined) {
      this.stats.logsDelivered += count;
      this.debug('telemetry export: unreadable success response; counting the batch as delivered');
      return;
    }
    const delivered = Math.min(result.kept, count);
    this.stats.logsDelivered += delivered;
    if (delivered < count) {
      this.stats.partialRejections += 1;
      this.stats.logsDropped += count - delivered;
      this.debug(`telemetry export: server kept ${delivered} of ${count} logs; not re-sending (duplicates)`);
    }
  }

  private isShutdown(): boolean {
    return this.shutdownController.signal.aborted;
  }

  private debug(message: string): void {
    debugLog(this.context, message);
  }
}
