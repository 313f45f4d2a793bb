import type { Agent } from 'http';
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

/** Per connection agent: the agent uploads use instead, or null where they use the connection's. */
const uploadAgents = new WeakMap<object, https.Agent | null>();

/**
 * The connection's own agent, whose keep-alive sockets the driver's calls keep warm, so an upload
 * rarely pays a TLS handshake. With a custom CA, uploads go through an agent of their own, made
 * once per connection agent from its TLS settings (CA, client certificate, verification): the
 * driver then passes every root certificate plus its own as `ca`, which an agent turns into a
 * string of hundreds of kilobytes three times per request to name its socket pool, and each new
 * socket builds its TLS context again (Node re-adds every root certificate). Here the context is
 * built once and the pool name stays short. Proxy and plain HTTP agents build their sockets their
 * own way: used as they are.
 */
function uploadAgentOf(agent: unknown): Agent | undefined {
  if (!(agent instanceof https.Agent)) {
    return agent as Agent | undefined;
  }
  if ((agent as https.Agent & { options: https.AgentOptions }).options?.ca === undefined) {
    return agent;
  }
  let upload = uploadAgents.get(agent);
  if (upload === undefined) {
    const options = (agent as https.Agent & { options: https.AgentOptions }).options;
    try {
      const uploadOptions: https.AgentOptions = { keepAlive: true, secureContext: tls.createSecureContext(options) };
      // Only what the connection set: an explicit undefined would override tls.connect's defaults.
      for (const key of ['timeout', 'rejectUnauthorized', 'checkServerIdentity', 'servername'] as const) {
        if (options[key] !== undefined) {
          Object.assign(uploadOptions, { [key]: options[key] });
        }
      }
      upload = new https.Agent(uploadOptions);
    } catch {
      // Options the agent itself would fail on: let it, as the driver's own requests do.
      upload = null;
    }
    uploadAgents.set(agent, upload);
  }
  return upload ?? (agent as Agent);
}

/** A timeout or abort as a plain error (`TimeoutError`, `AbortError`): the classifier sees only a name. */
export function namedError(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

/**
 * One HTTPS request with the connection's TLS settings and proxy (see uploadAgentOf). The timeout covers
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
    const options: https.RequestOptions = {
      method: request.method,
      headers: request.headers,
      agent: uploadAgentOf(agent),
    };
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
    // 'close' follows every exchange, a successful one too: the error is made only when it is needed.
    const failOnClose = (message: string) => () => {
      if (!settled) {
        fail(new Error(message));
      }
    };

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
      res.on('close', failOnClose('telemetry response cut off'));
    });
    const timer = setTimeout(
      () => req.destroy(namedError('TimeoutError', 'telemetry request timed out')),
      request.timeoutMs,
    );
    timer.unref();
    const onAbort = () => req.destroy(namedError('AbortError', 'telemetry request aborted'));
    signal?.addEventListener('abort', onAbort);
    req.on('socket', (socket) => socket.unref());
    req.on('error', fail);
    req.on('close', failOnClose('telemetry request closed without a response'));
    req.end(request.body);
  });
}
