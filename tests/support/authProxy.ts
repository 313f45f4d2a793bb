import { createServer, request as httpsRequest, Server } from 'https';
import { IncomingMessage, ServerResponse } from 'http';
import { AddressInfo } from 'net';
import { Emulator } from '../../lib/emulator';
import { getCertificate } from '../../lib/emulator/tls';

/** One request seen by the proxy, with the Authorization header the client sent. */
export interface ProxiedRequest {
  path: string;
  authorization?: string;
  /** The request body as sent. */
  body: Buffer;
}

/**
 * An HTTPS front for the emulator that accepts several tokens on one host and port: a request
 * carrying any of `tokens` is forwarded with the emulator's own token, so two tenants can share a
 * host while the proxy records which token each request really carried. Uses the emulator's
 * certificate, so `customCaCert: emulator.ca` trusts it.
 */
export class MultiTokenProxy {
  private constructor(
    private readonly server: Server,
    readonly port: number,
    readonly seen: ProxiedRequest[],
  ) {}

  static async start(emulator: Emulator, tokens: string[]): Promise<MultiTokenProxy> {
    const { key, cert } = await getCertificate();
    const accepted = new Set(tokens.map((token) => `Bearer ${token}`));
    const seen: ProxiedRequest[] = [];
    const forward = (req: IncomingMessage, res: ServerResponse, body: Buffer): void => {
      const authorization = req.headers.authorization;
      seen.push({ path: (req.url ?? '').split('?')[0], authorization, body });
      const headers = { ...req.headers, host: `${emulator.host}:${emulator.port}` };
      if (authorization !== undefined && accepted.has(authorization)) {
        headers.authorization = `Bearer ${emulator.token}`;
      }
      const upstream = httpsRequest(
        {
          host: emulator.host,
          port: emulator.port,
          path: req.url,
          method: req.method,
          headers,
          ca: emulator.ca,
          agent: false,
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on('error', () => res.destroy());
      upstream.end(body);
    };
    const server = createServer({ key, cert }, (req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (part: Buffer) => parts.push(part));
      req.on('end', () => forward(req, res, Buffer.concat(parts)));
    });
    await new Promise<void>((resolve) => {
      server.listen(0, emulator.host, resolve);
    });
    return new MultiTokenProxy(server, (server.address() as AddressInfo).port, seen);
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => {
      this.server.close(() => resolve());
    });
  }
}
