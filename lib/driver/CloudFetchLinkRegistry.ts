import type { ClientRequest, IncomingMessage } from 'http';
import { TelemetryEventSink } from '../telemetry/TelemetryEventEmitter';
import OperationObservation from './OperationObservation';
import quietly from './quietly';

interface AnnouncedLink {
  statementId: string;
  chunkIndex: number;
  attempts: number;
}

/** Links of long-running or abandoned statements cannot grow this map without bound. */
const MAX_LINKS = 50000;

/**
 * The CloudFetch result links one connection's server announced, by statement: a download the
 * driver retried is found by its link. On drivers that do not report their downloads, HTTP
 * requests seen on `node:diagnostics_channel` are also told apart by them (a chunk download, not a
 * Thrift call) and timed: latency from request start to the last body byte, size from the
 * response, and retries.
 */
export default class CloudFetchLinkRegistry {
  private readonly links = new Map<string, AnnouncedLink>();

  private announced = false;

  /**
   * `onFirstLink`: called once, when the server announces the connection's first link.
   * `timesRequests`: false where the driver reports its downloads itself: links then only find
   * the statement of a download the driver retried.
   */
  constructor(
    private readonly events: TelemetryEventSink,
    private readonly observationOf: (statementId: string) => OperationObservation | undefined,
    private readonly onFirstLink: () => void = () => undefined,
    private readonly timesRequests = true,
  ) {}

  register(fileLink: unknown, statementId: string, chunkIndex: number): void {
    if (typeof fileLink !== 'string' || this.links.size >= MAX_LINKS) {
      return;
    }
    const key = linkKey(fileLink);
    if (key) {
      this.links.set(key, { statementId, chunkIndex, attempts: 0 });
      if (!this.announced && this.timesRequests) {
        this.announced = true;
        this.onFirstLink();
      }
    }
  }

  /** True once the server announced a link (`onFirstLink` was called). */
  hasAnnounced(): boolean {
    return this.announced;
  }

  /** The statement whose announced link `url` is. */
  statementOf(url: string): string | undefined {
    const key = linkKey(url);
    return key === undefined ? undefined : this.links.get(key)?.statementId;
  }

  forget(statementId: string): void {
    if (this.links.size === 0) {
      return;
    }
    for (const [key, link] of this.links) {
      if (link.statementId === statementId) {
        this.links.delete(key);
      }
    }
  }

  /** Called for every request this connection's agent starts; ignores all but chunk downloads. */
  observeRequest(request: ClientRequest): void {
    if (this.links.size === 0 || !this.timesRequests) {
      return;
    }
    const path = request.path.startsWith('http') ? linkKey(request.path) : `${request.host}${request.path}`;
    const key = path ?? '';
    const link = this.links.get(key);
    if (!link) {
      return;
    }
    link.attempts += 1;
    const observation = this.observationOf(link.statementId);
    if (observation && link.attempts > 1) {
      observation.retryCount += 1;
    }
    const startedAt = Date.now();
    // Listening for 'response', 'end' and 'error' neither consumes data nor changes what the
    // driver sees ('data' or 'readable' listeners would).
    request.once('response', (response: IncomingMessage) => {
      response.once('end', () => quietly(() => this.downloadEnded(key, link, response, startedAt)));
      // A body cut off mid-transfer never ends; 'close' tells it apart without consuming data.
      response.once('close', () => {
        if (!response.complete) {
          quietly(() => this.downloadFailed(link, 'CloudFetchConnectionError'));
        }
      });
    });
    request.once('error', () => quietly(() => this.downloadFailed(link, 'CloudFetchConnectionError')));
  }

  private downloadEnded(key: string, link: AnnouncedLink, response: IncomingMessage, startedAt: number): void {
    const status = response.statusCode ?? 0;
    if (status < 200 || status >= 300) {
      this.downloadFailed(link, `CloudFetchHttp${status}`);
      return;
    }
    this.links.delete(key);
    const now = Date.now();
    const observation = this.observationOf(link.statementId);
    if (observation) {
      observation.lastResultAt = now;
    }
    this.events.emitCloudFetchChunk({
      statementId: link.statementId,
      chunkIndex: link.chunkIndex,
      timestamp: now,
      latencyMs: now - startedAt,
      bytes: Number(response.headers['content-length']) || 0,
      compressed: observation?.isCompressed ?? false,
    });
  }

  private downloadFailed(link: AnnouncedLink, errorName: string): void {
    // The driver retries downloads itself; whether the statement failed is reported when it ends.
    this.events.emitError({ statementId: link.statementId, chunkIndex: link.chunkIndex, errorName, isTerminal: false });
  }
}

/** Host name, path and query of an absolute http(s) URL: what a request made for it shows. */
const LINK_PARTS = /^https?:\/\/(?:[^@/]*@)?(\[[^\]]*\]|[^:/?#]+)(?::\d+)?([^#]*)/i;

// A regular expression, not `new URL()`: this runs for every announced link and proxied request.
function linkKey(url: string): string | undefined {
  const parts = LINK_PARTS.exec(url);
  if (!parts) {
    return undefined;
  }
  const path = parts[2] === '' ? '/' : parts[2];
  return `${parts[1].toLowerCase()}${path.startsWith('/') ? path : `/${path}`}`;
}
