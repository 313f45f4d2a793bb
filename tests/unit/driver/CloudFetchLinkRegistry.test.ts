import { expect } from 'chai';
import sinon from 'sinon';
import { createHash } from 'crypto';
import http from 'http';
import type { AddressInfo } from 'net';
import CloudFetchLinkRegistry from '../../../lib/driver/CloudFetchLinkRegistry';
import OperationObservation from '../../../lib/driver/OperationObservation';
import { unwatchAgent, watchAgent } from '../../../lib/driver/httpDiagnostics';
import TelemetryEventEmitter from '../../../lib/telemetry/TelemetryEventEmitter';
import { TelemetryEvent, TelemetryEventType } from '../../../lib/telemetry/types';
import ClientContextStub from '../.stubs/ClientContextStub';
import { compact, eventsOf, recordEvents } from '../.stubs/DriverThriftClientStub';

const STATEMENT = '01f0a1b2-c3d4-4e5f-8a9b-0c1d2e3f4a5b';
const OTHER_STATEMENT = '01f0a1b2-c3d4-4e5f-8a9b-ffffffffffff';

/** Deterministic chunk bodies: the bytes the server sends for `/chunk/<n>`. */
function chunkBody(n: number): Buffer {
  return Buffer.from(Array.from({ length: 1000 + n * 517 }, (_, i) => (i * 31 + n) & 0xff));
}

interface Fetched {
  status: number;
  body: Buffer;
  headers: http.IncomingHttpHeaders;
}

function observation(statementId: string): OperationObservation {
  return {
    statementId,
    sessionId: 's',
    handle: {},
    startTime: 0,
    pollCount: 0,
    pollLatencyMs: 0,
    chunksPresent: 0,
    retryCount: 0,
    settled: false,
  };
}

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 2000;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Lets pending I/O callbacks run, so an event that should not come has had its chance. */
async function settle(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 20));
}

describe('CloudFetchLinkRegistry with httpDiagnostics', () => {
  let server: http.Server;
  let port: number;
  let hits: Map<string, number>;
  let agent: http.Agent;
  let otherAgent: http.Agent;
  let emitter: TelemetryEventEmitter;
  let observations: Map<string, OperationObservation>;
  let registry: CloudFetchLinkRegistry;
  let events: TelemetryEvent[];

  before(async () => {
    server = http.createServer((request, response) => {
      const url = new URL(request.url ?? '/', 'http://placeholder');
      const key = url.pathname;
      const hit = (hits.get(key) ?? 0) + 1;
      hits.set(key, hit);
      const chunk = /^\/chunk\/(\d+)$/.exec(key);
      if (chunk) {
        const body = chunkBody(Number(chunk[1]));
        response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
        response.end(body);
      } else if (key === '/flaky' && hit === 1) {
        response.writeHead(500, { 'content-type': 'text/plain' });
        response.end('try again');
      } else if (key === '/flaky') {
        response.writeHead(200, { 'content-length': 5 });
        response.end('fine!');
      } else if (key === '/fail') {
        response.writeHead(500, { 'content-type': 'text/plain' });
        response.end('internal error');
      } else if (key === '/truncated') {
        response.writeHead(200, { 'content-length': 100000 });
        response.write(Buffer.alloc(1000, 1), () => setTimeout(() => response.destroy(), 10));
      } else if (key === '/forbidden') {
        response.writeHead(403);
        response.end();
      } else {
        response.writeHead(404);
        response.end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  after(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  beforeEach(() => {
    hits = new Map();
    agent = new http.Agent({ keepAlive: true });
    otherAgent = new http.Agent({ keepAlive: true });
    emitter = new TelemetryEventEmitter(new ClientContextStub());
    events = recordEvents(emitter);
    observations = new Map([
      [STATEMENT, observation(STATEMENT)],
      [OTHER_STATEMENT, observation(OTHER_STATEMENT)],
    ]);
    registry = new CloudFetchLinkRegistry(emitter, (statementId) => observations.get(statementId));
    watchAgent(agent, (request) => registry.observeRequest(request));
  });

  afterEach(() => {
    unwatchAgent(agent);
    unwatchAgent(otherAgent);
    agent.destroy();
    otherAgent.destroy();
  });

  function link(path: string): string {
    return `http://127.0.0.1:${port}${path}`;
  }

  function get(path: string, via: http.Agent = agent, targetPort = port): Promise<Fetched> {
    return new Promise((resolve, reject) => {
      const request = http.get({ agent: via, host: '127.0.0.1', port: targetPort, path }, (response) => {
        const parts: Buffer[] = [];
        response.on('data', (part: Buffer) => parts.push(part));
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, body: Buffer.concat(parts), headers: response.headers }),
        );
        response.on('error', reject);
      });
      request.on('error', reject);
    });
  }

  function chunks() {
    return eventsOf(events, TelemetryEventType.CLOUDFETCH_CHUNK);
  }

  function errors() {
    return eventsOf(events, TelemetryEventType.ERROR);
  }

  it('reports a chunk download: statement, chunk index, bytes, latency, compression', async () => {
    observations.get(STATEMENT)!.isCompressed = true;
    registry.register(link('/chunk/3'), STATEMENT, 3);
    const before = Date.now();
    const fetched = await get('/chunk/3');
    await waitFor(() => chunks().length === 1, 'the chunk event');
    const [event] = chunks();
    expect(compact(event)).to.deep.include({
      eventType: TelemetryEventType.CLOUDFETCH_CHUNK,
      statementId: STATEMENT,
      chunkIndex: 3,
      bytes: chunkBody(3).length,
      compressed: true,
    });
    expect(event.latencyMs)
      .to.be.at.least(0)
      .and.at.most(Date.now() - before);
    expect(event.timestamp).to.be.within(before, Date.now());
    expect(observations.get(STATEMENT)!.lastResultAt).to.equal(event.timestamp);
    expect(fetched.body.equals(chunkBody(3))).to.equal(true);
    expect(errors()).to.deep.equal([]);
  });

  it('reports compressed false when the statement or its compression is unknown', async () => {
    registry.register(link('/chunk/1'), 'unknown-statement', 0);
    registry.register(link('/chunk/2'), STATEMENT, 1);
    await get('/chunk/1');
    await get('/chunk/2');
    await waitFor(() => chunks().length === 2, 'two chunk events');
    expect(chunks().map((event) => [event.statementId, event.chunkIndex, event.compressed])).to.deep.equal([
      ['unknown-statement', 0, false],
      [STATEMENT, 1, false],
    ]);
  });

  it('leaves the body the requester reads unchanged', async () => {
    const unobserved = await get('/chunk/7', otherAgent);
    registry.register(link('/chunk/7'), STATEMENT, 0);
    const observed = await get('/chunk/7');
    await waitFor(() => chunks().length === 1, 'the chunk event');
    expect(createHash('sha256').update(observed.body).digest('hex')).to.equal(
      createHash('sha256').update(unobserved.body).digest('hex'),
    );
    expect(observed.body.length).to.equal(chunkBody(7).length);
    expect(observed.headers['content-length']).to.equal(String(chunkBody(7).length));
    expect(observed.status).to.equal(200);
  });

  it('counts a second download of the same link as a retry', async () => {
    registry.register(link('/flaky'), STATEMENT, 4);
    const first = await get('/flaky');
    expect(first.status).to.equal(500);
    expect(first.body.toString()).to.equal('try again');
    await waitFor(() => errors().length === 1, 'the error event');
    expect(observations.get(STATEMENT)!.retryCount).to.equal(0);

    const second = await get('/flaky');
    expect(second.body.toString()).to.equal('fine!');
    await waitFor(() => chunks().length === 1, 'the chunk event');
    expect(observations.get(STATEMENT)!.retryCount).to.equal(1);
    expect(chunks()[0]).to.include({ statementId: STATEMENT, chunkIndex: 4, bytes: 5 });
  });

  it('reports an HTTP 500 as a non-terminal CloudFetchHttp500 error of the chunk', async () => {
    registry.register(link('/fail'), STATEMENT, 2);
    const fetched = await get('/fail');
    expect(fetched.body.toString()).to.equal('internal error');
    await waitFor(() => errors().length === 1, 'the error event');
    expect(compact(errors()[0])).to.deep.include({
      eventType: TelemetryEventType.ERROR,
      statementId: STATEMENT,
      chunkIndex: 2,
      errorName: 'CloudFetchHttp500',
      isTerminal: false,
    });
    expect(chunks()).to.deep.equal([]);
  });

  it('names other HTTP failures by status', async () => {
    registry.register(link('/forbidden'), STATEMENT, 0);
    await get('/forbidden');
    await waitFor(() => errors().length === 1, 'the error event');
    expect(errors()[0].errorName).to.equal('CloudFetchHttp403');
  });

  it('reports a refused connection as a non-terminal CloudFetchConnectionError', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const deadPort = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    registry.register(`http://127.0.0.1:${deadPort}/chunk/1`, STATEMENT, 5);
    const failure = await get('/chunk/1', agent, deadPort).then(
      () => undefined,
      (error: Error) => error,
    );
    expect((failure as NodeJS.ErrnoException | undefined)?.code).to.equal('ECONNREFUSED');
    await waitFor(() => errors().length === 1, 'the error event');
    expect(errors()[0]).to.include({
      statementId: STATEMENT,
      chunkIndex: 5,
      errorName: 'CloudFetchConnectionError',
      isTerminal: false,
    });
  });

  it('reports a download cut off mid-body as a non-terminal error of the chunk', async () => {
    registry.register(link('/truncated'), STATEMENT, 6);
    const failure = await get('/truncated').then(
      () => undefined,
      (error: Error) => error,
    );
    expect(failure).to.be.instanceOf(Error);
    await settle();
    expect(chunks()).to.deep.equal([]);
    expect(errors().map((event) => [event.statementId, event.chunkIndex, event.isTerminal])).to.deep.equal([
      [STATEMENT, 6, false],
    ]);
  });

  it('ignores requests on another agent and requests to links it was not told about', async () => {
    registry.register(link('/chunk/1'), STATEMENT, 0);
    await get('/chunk/1', otherAgent);
    await get('/chunk/2');
    await get('/nothing');
    await settle();
    expect(events).to.deep.equal([]);
    // The registered link is still waiting for its download.
    await get('/chunk/1');
    await waitFor(() => chunks().length === 1, 'the chunk event');
  });

  it('stops observing once the agent is unwatched', async () => {
    registry.register(link('/chunk/1'), STATEMENT, 0);
    unwatchAgent(agent);
    const fetched = await get('/chunk/1');
    await settle();
    expect(fetched.body.equals(chunkBody(1))).to.equal(true);
    expect(events).to.deep.equal([]);
    watchAgent(agent, (request) => registry.observeRequest(request));
    await get('/chunk/1');
    await waitFor(() => chunks().length === 1, 'the chunk event after watching again');
  });

  it('keeps other agents watched when one is unwatched', async () => {
    const otherEvents: number[] = [];
    watchAgent(otherAgent, () => otherEvents.push(1));
    unwatchAgent(agent);
    await get('/chunk/1', otherAgent);
    expect(otherEvents).to.deep.equal([1]);
    unwatchAgent(otherAgent);
    unwatchAgent(otherAgent);
    await get('/chunk/1', otherAgent);
    expect(otherEvents).to.deep.equal([1]);
  });

  it('does not disturb the request when the listener throws', async () => {
    unwatchAgent(agent);
    watchAgent(agent, () => {
      throw new Error('listener failure');
    });
    const fetched = await get('/chunk/2');
    expect(fetched.body.equals(chunkBody(2))).to.equal(true);
  });

  it('does not disturb the download when reporting it throws', async () => {
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown) => uncaught.push(error);
    process.prependListener('uncaughtException', onUncaught);
    let reported = 0;
    sinon.stub(emitter, 'emitCloudFetchChunk').callsFake(() => {
      reported += 1;
      throw new Error('observer broke');
    });
    try {
      registry.register(link('/chunk/3'), STATEMENT, 0);
      const fetched = await get('/chunk/3');
      await waitFor(() => reported === 1, 'the report attempt');
      expect(fetched.body.equals(chunkBody(3))).to.equal(true);
      expect(uncaught).to.deep.equal([]);
    } finally {
      process.off('uncaughtException', onUncaught);
      sinon.restore();
    }
  });

  it('reports a download once: the link is forgotten after success', async () => {
    registry.register(link('/chunk/1'), STATEMENT, 0);
    await get('/chunk/1');
    await waitFor(() => chunks().length === 1, 'the chunk event');
    await get('/chunk/1');
    await settle();
    expect(chunks()).to.have.length(1);
    expect(observations.get(STATEMENT)!.retryCount).to.equal(0);
  });

  it('matches presigned links by path and query', async () => {
    registry.register(link('/chunk/1?X-Amz-Signature=abc&X-Amz-Expires=900'), STATEMENT, 0);
    await get('/chunk/1?X-Amz-Signature=other');
    await settle();
    expect(events).to.deep.equal([]);
    await get('/chunk/1?X-Amz-Signature=abc&X-Amz-Expires=900');
    await waitFor(() => chunks().length === 1, 'the chunk event');
    expect(chunks()[0].bytes).to.equal(chunkBody(1).length);
  });

  it('matches an absolute-form request path, as sent through an HTTP proxy', async () => {
    registry.register(link('/chunk/4'), STATEMENT, 1);
    const fetched = await get(link('/chunk/4'));
    expect(fetched.body.equals(chunkBody(4))).to.equal(true);
    await waitFor(() => chunks().length === 1, 'the chunk event');
    expect(chunks()[0]).to.include({ statementId: STATEMENT, chunkIndex: 1 });
  });

  it('forgets the links of a statement', async () => {
    registry.register(link('/chunk/1'), STATEMENT, 0);
    registry.register(link('/chunk/2'), OTHER_STATEMENT, 0);
    registry.forget(STATEMENT);
    await get('/chunk/1');
    await get('/chunk/2');
    await waitFor(() => chunks().length === 1, 'the chunk event');
    await settle();
    expect(chunks().map((event) => event.statementId)).to.deep.equal([OTHER_STATEMENT]);
  });

  it('ignores links that are not URL strings', async () => {
    for (const bad of [undefined, null, 42, {}, 'not a url', '']) {
      registry.register(bad, STATEMENT, 0);
    }
    await get('/chunk/1');
    await settle();
    expect(events).to.deep.equal([]);
  });

  it('tells its owner once, at the first link announced, so the owner watches requests only from then on', () => {
    let told = 0;
    const own = new CloudFetchLinkRegistry(
      emitter,
      () => undefined,
      () => (told += 1),
    );
    own.register('not a url', STATEMENT, 0);
    own.register(undefined, STATEMENT, 0);
    expect(told, 'no link yet').to.equal(0);
    own.register(link('/chunk/1'), STATEMENT, 0);
    own.register(link('/chunk/2'), STATEMENT, 1);
    own.forget(STATEMENT);
    own.register(link('/chunk/3'), OTHER_STATEMENT, 0);
    expect(told).to.equal(1);
  });

  it('holds at most 50000 links', async () => {
    for (let i = 0; i < 50000; i += 1) {
      registry.register(`http://127.0.0.1:${port}/bulk/${i}`, OTHER_STATEMENT, i);
    }
    registry.register(link('/chunk/1'), STATEMENT, 0);
    await get('/chunk/1');
    await settle();
    expect(events).to.deep.equal([]);
    registry.forget(OTHER_STATEMENT);
    registry.register(link('/chunk/1'), STATEMENT, 0);
    await get('/chunk/1');
    await waitFor(() => chunks().length === 1, 'the chunk event');
  });
});
