import https from 'https';
import tls from 'tls';
import ITelemetryContext from './contracts/ITelemetryContext';

export interface HttpResponse {
  status: number;
  /** Response header by lower-case name. */
  header(name: string): string | undefined;
  body: string;
}

export interface HttpRequest {
  method: 'GET' | 'POST';
  url: string;
  headers: Record<string, string>;
  body?: string;
  timeoutMs: number;
  /** Aborts the request early (e.g. when a close deadline passes). */
  signal?: AbortSignal;
}

/** A hostile or broken server cannot make us buffer more than this. */
const MAX_RESPONSE_BYTES = 1024 * 1024;

/** Per agent: the TLS context its options make, or null where it cannot be made from them. */
const secureContexts = new WeakMap<object, tls.SecureContext | null>();

/**
 * The TLS context an `https.Agent` would build for every new socket, built once. An upload
 * often needs a socket of its own (the driver's request holds the one in use, or the server has
 * closed an idle one), and with a custom CA a fresh context costs milliseconds of CPU (Node
 * re-adds every root certificate). Proxy and other agents build their sockets their own way:
 * left alone.
 */
function secureContextOf(agent: unknown): tls.SecureContext | undefined {
  if (!(agent instanceof https.Agent)) {
    return undefined;
  }
  let context = secureContexts.get(agent);
  if (context === undefined) {
    try {
      context = tls.createSecureContext((agent as https.Agent & { options: tls.SecureContextOptions }).options);
    } catch {
      // Options the agent itself would fail on: let it, as the driver's own requests do.
      context = null;
    }
    secureContexts.set(agent, context);
  }
  return context ?? undefined;
}

/** A timeout or abort as a plain error (`TimeoutError`, `AbortError`): the classifier sees only a name. */
export function namedError(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

/**
 * One HTTPS request through the connection's own agent (TLS settings, proxy). The timeout covers
 * the whole exchange, body included, so a slow-drip server cannot hold it longer; the socket is
 * unref'ed while in flight, so a pending telemetry request never keeps the process alive (the
 * agent refs it again when it is reused). Rejects on network errors, timeouts (`TimeoutError`)
 * and aborts (`AbortError`); callers classify and swallow.
 */
export default async function httpRequest(context: ITelemetryContext, request: HttpRequest): Promise<HttpResponse> {
  const provider = await context.getConnectionProvider();
  const agent = await provider.getAgent();
  const { signal } = request;

  return new Promise<HttpResponse>((resolve, reject) => {
    if (signal?.aborted) {
      reject(namedError('AbortError', 'telemetry request aborted'));
      return;
    }
    const options: https.RequestOptions & tls.ConnectionOptions = { method: request.method, headers: request.headers, agent };
    const secureContext = secureContextOf(agent);
    if (secureContext) {
      options.secureContext = secureContext;
    }
    // A timer and one listener, both removed when the request settles. AbortSignal.any() would
    // tie every request to the caller's long-lived shutdown signal for good (nodejs/node#54614).
    let settled = false;
    const settle = (outcome: () => void) => {
      if (!settled) {
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        outcome();
      }
    };
    const fail = (error: Error) => settle(() => reject(error));

    const req = https.request(request.url, options, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_RESPONSE_BYTES) {
          req.destroy(new Error('telemetry response too large'));
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => {
        settle(() =>
          resolve({
            status: res.statusCode ?? 0,
            header: (name) => {
              const value = res.headers[name.toLowerCase()];
              return Array.isArray(value) ? value[0] : value;
            },
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      });
      res.on('error', fail);
      res.on('close', () => fail(new Error('telemetry response cut off')));
    });
    const timer = setTimeout(() => req.destroy(namedError('TimeoutError', 'telemetry request timed out')), request.timeoutMs);
    timer.unref();
    const onAbort = () => req.destroy(namedError('AbortError', 'telemetry request aborted'));
    signal?.addEventListener('abort', onAbort);
    req.on('socket', (socket) => socket.unref());
    req.on('error', fail);
    req.on('close', () => fail(new Error('telemetry request closed without a response')));
    req.end(request.body);
  });
}
