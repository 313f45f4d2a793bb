import { createServer, IncomingMessage, Server } from 'http';
import { Agent, createServer as createHttpsServer, request as httpsRequest, Server as HttpsServer } from 'https';
import { AddressInfo, Socket } from 'net';
import type { Duplex } from 'stream';

/** The `proxy` package's server: an `http.Server` acting as a forward proxy, basic auth optional. */
interface ProxyServer extends Server {
  authenticate?: (req: IncomingMessage) => boolean | Promise<boolean>;
}

// The package is ESM-only and its types sit behind `exports`, which this tsconfig's resolution does not read.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { createProxy } = require('proxy') as { createProxy: (server: Server) => ProxyServer };

/** What the proxy does with a CONNECT, or with a request inside an inspected tunnel. */
export type Verdict = 'pass' | 'refuse' | 'drop';

/** One CONNECT the proxy received. */
export interface ConnectRecord {
  /** `host:port` exactly as the client asked for it. */
  target: string;
  /** The `Proxy-Authorization` header the client sent, if any. */
  proxyAuthorization?: string;
  /** The request line and header lines exactly as received. */
  request: string;
  verdict: Verdict;
}

/** One request seen inside an inspected tunnel. */
export interface InspectedRequest {
  method: string;
  path: string;
  verdict: Verdict;
}

export interface ForwardProxyOptions {
  /** Basic authentication the proxy requires (it answers 407 without it). */
  auth?: { username: string; password: string };
  /**
   * Host names only the proxy resolves (name to address): a client given such a name can reach
   * the target through the proxy and in no other way.
   */
  hosts?: Record<string, string>;
  /**
   * TLS inspection, as corporate proxies do: tunnels to `upstream` end at an HTTPS server of ours
   * holding `key`/`cert` (which the client must trust), so `requestPolicy` sees each request's
   * path and can refuse or drop it; passed requests go on to `upstream`, trusting `ca`.
   */
  inspect?: { upstream: { host: string; port: number }; key: string; cert: string; ca: string };
}

const REFUSAL =
  'HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 19\r\nConnection: close\r\n\r\nblocked by policy\r\n';

/**
 * A real HTTP forward proxy (the `proxy` package, which the driver's proxy agent is tested
 * with), wrapped to log every CONNECT, to refuse or drop chosen ones, and optionally to inspect
 * what the tunnels to one upstream carry.
 */
export class ForwardProxy {
  readonly connects: ConnectRecord[] = [];

  readonly inspected: InspectedRequest[] = [];

  /** Decides each CONNECT, by the target the client named. */
  connectPolicy: (target: string) => Verdict = () => 'pass';

  /** Decides each request inside an inspected tunnel, by method and path. */
  requestPolicy: (method: string, path: string) => Verdict = () => 'pass';

  private readonly sockets = new Set<Duplex>();

  private constructor(
    private readonly server: ProxyServer,
    readonly host: string,
    readonly port: number,
    private readonly inspector?: { server: HttpsServer; port: number; agent: Agent },
  ) {}

  static async start(options: ForwardProxyOptions = {}): Promise<ForwardProxy> {
    const server = createProxy(createServer());
    const { auth } = options;
    if (auth) {
      const expected = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
      server.authenticate = (req) => req.headers['proxy-authorization'] === expected;
    }
    const inspector = options.inspect ? await startInspector(options.inspect, () => proxy) : undefined;
    await listen(server);
    const proxy: ForwardProxy = new ForwardProxy(
      server,
      '127.0.0.1',
      (server.address() as AddressInfo).port,
      inspector,
    );
    proxy.wrapConnect(options);
    return proxy;
  }

  /** Places our handler in front of the package's: it logs, applies the policy, and re-targets the tunnel. */
  private wrapConnect(options: ForwardProxyOptions): void {
    const original = this.server.listeners('connect') as Array<
      (req: IncomingMessage, socket: Duplex, head: Buffer) => void
    >;
    this.server.removeAllListeners('connect');
    this.server.on('connect', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      const target = req.url ?? '';
      const verdict = this.connectPolicy(target);
      const headerLines = req.rawHeaders.map((part, index) => (index % 2 === 0 ? `${part}: ` : `${part}\n`)).join('');
      this.connects.push({
        target,
        proxyAuthorization: req.headers['proxy-authorization'],
        request: `CONNECT ${target} HTTP/${req.httpVersion}\n${headerLines}`,
        verdict,
      });
      if (verdict === 'refuse') {
        socket.end(REFUSAL);
        return;
      }
      if (verdict === 'drop') {
        socket.destroy();
        return;
      }
      const colon = target.lastIndexOf(':');
      const name = target.slice(0, colon);
      const port = Number(target.slice(colon + 1));
      const address = options.hosts?.[name.toLowerCase()] ?? name;
      const upstream = options.inspect?.upstream;
      // The package dials whatever `req.url` names once it has checked the credentials.
      req.url =
        upstream && this.inspector && address === upstream.host && port === upstream.port
          ? `127.0.0.1:${this.inspector.port}`
          : `${address}:${port}`;
      for (const handler of original) {
        handler.call(this.server, req, socket, head);
      }
    });
    this.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  /** Cuts every open tunnel and client connection, as a proxy restart does. */
  cutAll(): void {
    this.sockets.forEach((socket) => socket.destroy());
  }

  /** CONNECT targets, in order. */
  targets(): string[] {
    return this.connects.map((record) => record.target);
  }

  async close(): Promise<void> {
    this.cutAll();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
    });
    if (this.inspector) {
      this.inspector.server.closeAllConnections();
      this.inspector.agent.destroy();
      await new Promise<void>((resolve) => {
        this.inspector?.server.close(() => resolve());
      });
    }
  }
}

function listen(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** The TLS-terminating end of inspected tunnels: applies `requestPolicy`, forwards what passes. */
async function startInspector(
  inspect: NonNullable<ForwardProxyOptions['inspect']>,
  proxyOf: () => ForwardProxy,
): Promise<{ server: HttpsServer; port: number; agent: Agent }> {
  const agent = new Agent({ keepAlive: true, ca: inspect.ca });
  const server = createHttpsServer({ key: inspect.key, cert: inspect.cert }, (req, res) => {
    const proxy = proxyOf();
    const method = req.method ?? '';
    const path = req.url ?? '';
    const verdict = proxy.requestPolicy(method, path);
    proxy.inspected.push({ method, path, verdict });
    if (verdict === 'drop') {
      req.socket.destroy();
      return;
    }
    if (verdict === 'refuse') {
      res.writeHead(403, { 'content-type': 'text/plain' });
      res.end('blocked by policy\n');
      return;
    }
    const upstream = httpsRequest(
      {
        host: inspect.upstream.host,
        port: inspect.upstream.port,
        method,
        path,
        headers: req.headers,
        agent,
        servername: 'localhost',
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await listen(server);
  return { server, port: (server.address() as AddressInfo).port, agent };
}
