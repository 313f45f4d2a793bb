import { getEventListeners } from 'events';
import https from 'https';
import tls from 'tls';
import { AddressInfo } from 'net';
import { expect } from 'chai';
import sinon from 'sinon';
import httpRequest from '../../../lib/telemetry/httpRequest';
import { getCertificate } from '../../../lib/emulator/tls';
import ClientContextStub from '../.stubs/ClientContextStub';

describe('httpRequest', () => {
  let server: https.Server;
  let baseUrl: string;
  let context: ClientContextStub;
  let certificate: Awaited<ReturnType<typeof getCertificate>>;
  let handler: (req: import('http').IncomingMessage, res: import('http').ServerResponse) => void;

  before(async () => {
    certificate = await getCertificate();
    server = https.createServer({ key: certificate.key, cert: certificate.cert }, (req, res) => handler(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    context = new ClientContextStub({}, new https.Agent({ ca: certificate.cert }));
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it("sends method, headers and body with the connection agent's TLS settings and returns status, headers and body", async () => {
    let received: { method?: string; auth?: string; body: string } = { body: '' };
    handler = (req, res) => {
      let body = '';
      req.on('data', (chunk) => {
        body += chunk;
      });
      req.on('end', () => {
        received = { method: req.method, auth: req.headers.authorization, body };
        res.setHeader('Retry-After', '3');
        res.statusCode = 202;
        res.end('{"ok":true}');
      });
    };
    const response = await httpRequest(context, {
      method: 'POST',
      url: `${baseUrl}/telemetry-ext`,
      headers: { Authorization: 'Bearer abc', 'Content-Type': 'application/json' },
      body: '{"a":1}',
      timeoutMs: 5000,
    });
    expect(received).to.deep.equal({ method: 'POST', auth: 'Bearer abc', body: '{"a":1}' });
    expect(response.status).to.equal(202);
    expect(response.header('Retry-After')).to.equal('3');
    expect(response.header('x-missing')).to.equal(undefined);
    expect(response.body).to.equal('{"ok":true}');
  });

  it('rejects when the server does not answer within the timeout', async () => {
    handler = () => {};
    const started = Date.now();
    const error = await httpRequest(context, {
      method: 'GET',
      url: `${baseUrl}/hang`,
      headers: {},
      timeoutMs: 100,
    }).catch((e) => e);
    expect(error).to.be.instanceOf(Error);
    expect(Date.now() - started).to.be.below(2000);
  });

  it('rejects at once when the caller aborts', async () => {
    handler = () => {};
    const controller = new AbortController();
    const pending = httpRequest(context, {
      method: 'GET',
      url: `${baseUrl}/hang`,
      headers: {},
      timeoutMs: 10000,
      signal: controller.signal,
    }).catch((e) => e);
    controller.abort();
    expect(await pending).to.be.instanceOf(Error);
  });

  it('refuses to buffer an oversized response', async () => {
    handler = (_req, res) => {
      res.end(Buffer.alloc(2 * 1024 * 1024, 'a'));
    };
    const error = await httpRequest(context, {
      method: 'GET',
      url: `${baseUrl}/big`,
      headers: {},
      timeoutMs: 5000,
    }).catch((e) => e);
    expect(error).to.be.instanceOf(Error);
    expect((error as Error).message).to.match(/too large/);
  });

  it('does not keep the process alive while a request is in flight', async () => {
    handler = () => {};
    const sockets = () => process.getActiveResourcesInfo().filter((name) => name === 'TCPSocketWrap').length;
    const settle = () => new Promise((resolve) => setTimeout(resolve, 100));

    // A plain request holds two ref'ed sockets here (client and the server's side of it).
    const before = sockets();
    const plain = https.get(`${baseUrl}/hang`, { agent: context.agent as https.Agent });
    plain.on('error', () => {});
    await settle();
    const plainHeld = sockets() - before;
    plain.destroy();
    await settle();

    const baseline = sockets();
    const pending = httpRequest(context, { method: 'GET', url: `${baseUrl}/hang`, headers: {}, timeoutMs: 500 }).catch(
      (e) => e,
    );
    await settle();
    const ourHeld = sockets() - baseline;
    await pending;

    expect(plainHeld).to.equal(2);
    expect(ourHeld).to.equal(1);
  });

  it('rejects with a TimeoutError when the body drips past the timeout', async () => {
    handler = (_req, res) => {
      res.writeHead(200);
      res.write('{');
      // Never ends: only the timeout can stop it.
    };
    const error = await httpRequest(context, {
      method: 'GET',
      url: `${baseUrl}/drip`,
      headers: {},
      timeoutMs: 150,
    }).catch((e: Error) => e);
    expect((error as Error).name).to.equal('TimeoutError');
  });

  it('rejects at once, well before the timeout, when the server drops the connection mid-body', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'Content-Length': '100' });
      res.write('{"numProto', () => res.socket?.destroy());
    };
    const started = Date.now();
    const error = await httpRequest(context, {
      method: 'GET',
      url: `${baseUrl}/cut`,
      headers: {},
      timeoutMs: 5000,
    }).catch((e: Error) => e);
    expect(error).to.be.instanceOf(Error);
    expect((error as Error).name).to.not.equal('TimeoutError');
    expect(Date.now() - started).to.be.below(2000);
  });

  it('rejects at once when the server closes the connection without answering', async () => {
    handler = (req) => req.socket.destroy();
    const started = Date.now();
    const error = await httpRequest(context, {
      method: 'POST',
      url: `${baseUrl}/drop`,
      headers: {},
      body: '{}',
      timeoutMs: 5000,
    }).catch((e: Error) => e);
    expect(error).to.be.instanceOf(Error);
    expect((error as Error).name).to.not.equal('TimeoutError');
    expect(Date.now() - started).to.be.below(2000);
  });

  it("leaves nothing attached to the caller's long-lived signal once requests settle", async () => {
    handler = (_req, res) => res.end('{}');
    const shutdown = new AbortController();
    for (let i = 0; i < 20; i += 1) {
      await httpRequest(context, {
        method: 'POST',
        url: `${baseUrl}/t`,
        headers: {},
        body: '{}',
        timeoutMs: 5000,
        signal: shutdown.signal,
      });
    }
    await httpRequest(context, {
      method: 'GET',
      url: `${baseUrl}/hang`,
      headers: {},
      timeoutMs: 50,
      signal: shutdown.signal,
    }).catch(() => undefined);
    expect(getEventListeners(shutdown.signal, 'abort')).to.have.length(0);
    // Signals made by AbortSignal.any() are not listeners; Node keeps them in this set.
    const dependants = Object.getOwnPropertySymbols(shutdown.signal).find(
      (symbol) => symbol.description === 'kDependantSignals',
    );
    const held = dependants
      ? ((shutdown.signal as unknown as Record<symbol, Set<unknown> | undefined>)[dependants]?.size ?? 0)
      : 0;
    expect(held, 'signals tied to the caller signal').to.equal(0);
  });

  it('rejects with an AbortError, sending nothing, when the signal is already aborted', async () => {
    let requests = 0;
    handler = (_req, res) => {
      requests += 1;
      res.end('{}');
    };
    const controller = new AbortController();
    controller.abort();
    const error = await httpRequest(context, {
      method: 'GET',
      url: `${baseUrl}/x`,
      headers: {},
      timeoutMs: 5000,
      signal: controller.signal,
    }).catch((e: Error) => e);
    expect((error as Error).name).to.equal('AbortError');
    expect(requests).to.equal(0);
  });

  describe('TLS context', () => {
    afterEach(() => sinon.restore());

    const closingHandler = (_req: import('http').IncomingMessage, res: import('http').ServerResponse) => {
      // Every response closes its socket, so each request needs a new TLS connection.
      res.setHeader('Connection', 'close');
      res.end('{}');
    };

    it("builds the agent's TLS context once, however many new sockets the uploads need", async () => {
      handler = closingHandler;
      const agent = new https.Agent({ keepAlive: true, ca: certificate.cert });
      const own = new ClientContextStub({}, agent);
      const contexts = sinon.spy(tls, 'createSecureContext');
      for (let i = 0; i < 3; i += 1) {
        const response = await httpRequest(own, {
          method: 'POST',
          url: `${baseUrl}/telemetry-ext`,
          headers: {},
          body: '{}',
          timeoutMs: 5000,
        });
        expect(response.status).to.equal(200);
      }
      expect(contexts.callCount, 'TLS contexts built for 3 new sockets').to.equal(1);
      agent.destroy();
    });

    it("keeps uploads out of the connection agent's pool, on one kept-alive socket of their own", async () => {
      handler = (_req, res) => res.end('{}');
      // As the driver builds it with a custom CA: every root certificate plus its own.
      const agent = new https.Agent({ keepAlive: true, ca: [...tls.rootCertificates, certificate.cert] });
      const getName = sinon.spy(agent, 'getName');
      const sockets = new Set<unknown>();
      const onConnection = (socket: unknown) => sockets.add(socket);
      server.on('secureConnection', onConnection);
      try {
        for (let i = 0; i < 3; i += 1) {
          const response = await httpRequest(new ClientContextStub({}, agent), {
            method: 'POST',
            url: `${baseUrl}/telemetry-ext`,
            headers: {},
            body: '{}',
            timeoutMs: 5000,
          });
          expect(response.status).to.equal(200);
        }
      } finally {
        server.off('secureConnection', onConnection);
      }
      expect(sockets.size, 'TLS connections for 3 sequential uploads').to.equal(1);
      expect(getName.callCount, 'the connection agent naming its pool (a string holding every CA)').to.equal(0);
      expect(Object.keys(agent.sockets).length + Object.keys(agent.freeSockets).length).to.equal(0);
      agent.destroy();
    });

    it("without a custom CA, uses the connection agent's own warm socket: no TLS handshake of its own", async () => {
      handler = (_req, res) => res.end('{}');
      // The server's CA is trusted process-wide here, as a public CA would be: the agent has no `ca`.
      const agent = new https.Agent({ keepAlive: true });
      const trusted = sinon
        .stub(agent, 'createConnection')
        .callsFake(((options: tls.ConnectionOptions, callback: () => void) =>
          tls.connect({ ...options, ca: certificate.cert }, callback)) as never);
      const sockets = new Set<unknown>();
      const onConnection = (socket: unknown) => sockets.add(socket);
      server.on('secureConnection', onConnection);
      try {
        // The driver's own call warms the socket first.
        await new Promise<void>((resolve, reject) =>
          https
            .get(`${baseUrl}/thrift`, { agent }, (res) => {
              res.resume();
              res.on('end', resolve);
            })
            .on('error', reject),
        );
        for (let i = 0; i < 2; i += 1) {
          const response = await httpRequest(new ClientContextStub({}, agent), {
            method: 'POST',
            url: `${baseUrl}/telemetry-ext`,
            headers: {},
            body: '{}',
            timeoutMs: 5000,
          });
          expect(response.status).to.equal(200);
        }
      } finally {
        server.off('secureConnection', onConnection);
        trusted.restore();
      }
      expect(sockets.size, 'TLS connections for a driver call and two uploads').to.equal(1);
      agent.destroy();
    });

    it('still verifies the server: a context without its CA rejects the certificate', async () => {
      handler = closingHandler;
      const agent = new https.Agent({ keepAlive: true });
      const error = await httpRequest(new ClientContextStub({}, agent), {
        method: 'GET',
        url: `${baseUrl}/x`,
        headers: {},
        timeoutMs: 5000,
      }).catch((e: Error) => e);
      expect(error).to.be.instanceOf(Error);
      expect((error as NodeJS.ErrnoException).code).to.match(/SELF_SIGNED|UNABLE_TO_VERIFY|DEPTH_ZERO/);
      agent.destroy();
    });

    it('leaves an agent whose options make no TLS context to fail on its own, as a rejection', async () => {
      handler = closingHandler;
      const agent = new https.Agent({ ca: 'not a certificate', cert: 'nor this', key: 'nor a key' });
      const error = await httpRequest(new ClientContextStub({}, agent), {
        method: 'GET',
        url: `${baseUrl}/x`,
        headers: {},
        timeoutMs: 5000,
      }).catch((e: Error) => e);
      expect(error).to.be.instanceOf(Error);
      agent.destroy();
    });
  });
});
