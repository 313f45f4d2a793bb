import { expect } from 'chai';
import sinon from 'sinon';
import * as httpRequestModule from '../../../../lib/telemetry/httpRequest';
import { HttpRequest, HttpResponse, namedError } from '../../../../lib/telemetry/httpRequest';
import HttpTransport from '../../../../lib/telemetry/export/HttpTransport';
import { UploadBatch } from '../../../../lib/telemetry/contracts/ITelemetryTransport';
import TelemetryTarget from '../../../../lib/telemetry/contracts/TelemetryTarget';
import { TelemetryConfiguration } from '../../../../lib/telemetry/types';
import ClientContextStub from '../../.stubs/ClientContextStub';
import { makeTarget } from '../../.stubs/TelemetryTargetStub';

const NOW = 1760000000500;

function response(status: number, body = '', headers: Record<string, string> = {}): HttpResponse {
  return { status, header: (name) => headers[name.toLowerCase()], body };
}

function batch(overrides: Partial<UploadBatch> = {}): UploadBatch {
  return { count: 2, body: '{"uploadTime":1,"items":[],"protoLogs":["a","b"]}', unauthenticated: false, ...overrides };
}

function systemError(code: string): Error {
  return Object.assign(new Error(`read ${code}`), { code });
}

/** A promise that never settles: a request to a dead endpoint, or an auth provider that hangs. */
function never<T>(): Promise<T> {
  return new Promise<T>(() => undefined);
}

describe('HttpTransport', () => {
  let http: sinon.SinonStub<Parameters<typeof httpRequestModule.default>, ReturnType<typeof httpRequestModule.default>>;
  let clock: sinon.SinonFakeTimers;
  let context: ClientContextStub;
  let shutdown: AbortController;

  function transport(config: Partial<TelemetryConfiguration> = {}, target: TelemetryTarget = makeTarget()) {
    context.config = { ...context.config, ...config };
    return new HttpTransport(context, target, shutdown.signal);
  }

  function request(index = 0): HttpRequest {
    return http.getCall(index).args[1];
  }

  beforeEach(() => {
    clock = sinon.useFakeTimers({ now: NOW });
    context = new ClientContextStub();
    shutdown = new AbortController();
    http = sinon.stub(httpRequestModule, 'default');
    http.resolves(response(200, JSON.stringify({ numProtoSuccess: 2 })));
  });

  afterEach(() => {
    sinon.restore();
    clock.restore();
    expect(context.logger.aboveDebug(), 'log lines above debug').to.be.empty;
  });

  describe('request', () => {
    it('POSTs a signed-in batch to /telemetry-ext with the target headers, its org id and the body', async () => {
      const t = transport({ requestTimeoutMs: 1234 }, makeTarget({ orgId: '1234567890123456', port: 8443 }));
      const body = batch().body;
      await t.send(batch(), 0);
      expect(http.callCount).to.equal(1);
      expect(http.getCall(0).args[0]).to.equal(context);
      expect(request()).to.include({
        method: 'POST',
        url: 'https://example.cloud.databricks.com:8443/telemetry-ext',
        body,
        timeoutMs: 1234,
        signal: shutdown.signal,
      });
      expect(request().headers).to.deep.equal({
        Authorization: 'Bearer test-token',
        'x-databricks-org-id': '1234567890123456',
        'Content-Type': 'application/json',
        Accept: 'application/json',
        'User-Agent': 'NodejsDatabricksSqlConnector/2.1.0 (Node.js 20)',
      });
    });

    it('sends an unauthenticated batch to /telemetry-unauth with no credentials and no org id', async () => {
      const getAuthHeaders = sinon.spy(async () => ({ Authorization: 'Bearer test-token' }));
      const t = transport({}, makeTarget({ orgId: '1234567890123456', getAuthHeaders }));
      const result = await t.send(batch({ unauthenticated: true }), 0);
      expect(result.outcome).to.equal('success');
      expect(getAuthHeaders.called, 'auth headers asked for').to.be.false;
      expect(request().url).to.equal('https://example.cloud.databricks.com:443/telemetry-unauth');
      expect(request().headers).to.deep.equal({
        'Content-Type': 'application/json',
        Accept: 'application/json',
        'User-Agent': 'NodejsDatabricksSqlConnector/2.1.0 (Node.js 20)',
      });
    });

    it('sends no org id header when the target has none', async () => {
      await transport().send(batch(), 0);
      expect(request().headers).not.to.have.property('x-databricks-org-id');
      expect(request().headers).to.include({ Authorization: 'Bearer test-token' });
    });

    it('passes on whatever headers a custom auth scheme produces, keeping only string values', async () => {
      const target = makeTarget({ getAuthHeaders: async () => ({ 'X-Custom-Auth': 'abc', Bad: 42 }) as any });
      await transport({}, target).send(batch(), 0);
      expect(request().headers).to.include({ 'X-Custom-Auth': 'abc' });
      expect(request().headers).not.to.have.property('Bad');
      expect(request().headers).not.to.have.property('Authorization');
    });

    it('ignores an auth header set that is not an object', async () => {
      const target = makeTarget({ getAuthHeaders: async () => 'Bearer x' as any });
      await transport({}, target).send(batch(), 0);
      expect(Object.keys(request().headers).sort()).to.deep.equal(['Accept', 'Content-Type', 'User-Agent']);
    });

    it('asks the target for headers on every attempt (a refreshed token is used)', async () => {
      let token = 'first';
      const t = transport({}, makeTarget({ getAuthHeaders: async () => ({ Authorization: `Bearer ${token}` }) }));
      await t.send(batch(), 0);
      token = 'second';
      await t.send(batch(), 1);
      expect(request(0).headers.Authorization).to.equal('Bearer first');
      expect(request(1).headers.Authorization).to.equal('Bearer second');
    });

    it('calls onSending with the attempt number just before the request, and counts requests', async () => {
      const onSending = sinon.spy();
      const t = transport();
      expect(t.requests).to.equal(0);
      await t.send(batch({ onSending }), 0);
      await t.send(batch({ onSending }), 2);
      expect(onSending.args).to.deep.equal([[0], [2]]);
      expect(onSending.getCall(0).calledBefore(http.getCall(0))).to.be.true;
      expect(onSending.getCall(1).calledBefore(http.getCall(1))).to.be.true;
      expect(http.getCall(0).calledBefore(onSending.getCall(1))).to.be.true;
      expect(t.requests).to.equal(2);
    });

    it('counts failed and timed-out requests too', async () => {
      http.onFirstCall().resolves(response(503));
      http.onSecondCall().rejects(systemError('ECONNRESET'));
      http.onThirdCall().callsFake(() => never());
      const t = transport({ requestTimeoutMs: 100 });
      await t.send(batch(), 0);
      await t.send(batch(), 1);
      const pending = t.send(batch(), 2);
      await clock.tickAsync(100);
      await pending;
      expect(t.requests).to.equal(3);
    });
  });

  describe('auth headers unavailable', () => {
    it('drops the attempt without a request when getAuthHeaders rejects', async () => {
      const onSending = sinon.spy();
      const t = transport({}, makeTarget({ getAuthHeaders: () => Promise.reject(new Error('token expired')) }));
      const result = await t.send(batch({ onSending }), 0);
      expect(result).to.deep.equal({ outcome: 'dropped', reason: 'authentication headers unavailable' });
      expect(http.called).to.be.false;
      expect(onSending.called).to.be.false;
      expect(t.requests).to.equal(0);
    });

    it('drops the attempt when getAuthHeaders throws synchronously', async () => {
      const target = makeTarget({
        getAuthHeaders: () => {
          throw new Error('no provider');
        },
      });
      const result = await transport({}, target).send(batch(), 0);
      expect(result).to.deep.equal({ outcome: 'dropped', reason: 'authentication headers unavailable' });
      expect(http.called).to.be.false;
    });

    it('gives up on a getAuthHeaders that hangs after requestTimeoutMs', async () => {
      const t = transport({ requestTimeoutMs: 500 }, makeTarget({ getAuthHeaders: () => never() }));
      let result: unknown;
      t.send(batch(), 0).then((r) => (result = r));
      await clock.tickAsync(499);
      expect(result).to.be.undefined;
      await clock.tickAsync(1);
      expect(result).to.deep.equal({ outcome: 'dropped', reason: 'authentication headers unavailable' });
      expect(http.called).to.be.false;
    });

    it('a shutdown during a hanging getAuthHeaders ends the attempt at once, with no request', async () => {
      const t = transport({ requestTimeoutMs: 60_000 }, makeTarget({ getAuthHeaders: () => never() }));
      const pending = t.send(batch(), 0);
      await clock.tickAsync(10);
      shutdown.abort();
      const result = await pending;
      expect(result).to.deep.equal({ outcome: 'dropped', reason: 'shut down' });
      expect(Date.now()).to.equal(NOW + 10);
      expect(http.called).to.be.false;
      expect(t.requests).to.equal(0);
    });
  });

  describe('success', () => {
    it('reads numProtoSuccess as kept', async () => {
      http.resolves(response(200, JSON.stringify({ errors: [], numSuccess: 2, numProtoSuccess: 1 })));
      expect(await transport().send(batch(), 0)).to.deep.equal({ outcome: 'success', kept: 1 });
    });

    it('accepts kept = 0 and any 2xx status', async () => {
      http.resolves(response(202, JSON.stringify({ numProtoSuccess: 0 })));
      expect(await transport().send(batch(), 0)).to.deep.equal({ outcome: 'success', kept: 0 });
    });

    for (const [label, body] of [
      ['an empty body', ''],
      ['a body that is not JSON', '<html>ok</html>'],
      ['JSON null', 'null'],
      ['no numProtoSuccess', '{"numSuccess":2}'],
      ['a negative count', '{"numProtoSuccess":-1}'],
      ['a fractional count', '{"numProtoSuccess":1.5}'],
      ['a count as a string', '{"numProtoSuccess":"2"}'],
    ]) {
      it(`leaves kept undefined for ${label}`, async () => {
        http.resolves(response(200, body));
        const result = await transport().send(batch(), 0);
        expect(result.outcome).to.equal('success');
        expect(result).to.have.property('kept', undefined);
      });
    }
  });

  describe('HTTP errors', () => {
    for (const status of [429, 500, 502, 503, 504]) {
      it(`HTTP ${status} is retryable`, async () => {
        http.resolves(response(status, 'some body that must not leak'));
        expect(await transport().send(batch(), 0)).to.deep.equal({
          outcome: 'retryable',
          reason: `TelemetryHttpError HTTP ${status}`,
          retryAfterMs: undefined,
        });
      });
    }

    for (const status of [401, 403]) {
      it(`HTTP ${status} is a failure that refuses the credential`, async () => {
        http.resolves(response(status, 'denied'));
        expect(await transport().send(batch(), 0)).to.deep.equal({
          outcome: 'failure',
          reason: `TelemetryHttpError HTTP ${status}`,
          credentialRefused: true,
        });
      });
    }

    for (const status of [400, 404, 501, 302, 418]) {
      it(`HTTP ${status} is a failure that says nothing of the credential`, async () => {
        http.resolves(response(status));
        expect(await transport().send(batch(), 0)).to.deep.equal({
          outcome: 'failure',
          reason: `TelemetryHttpError HTTP ${status}`,
          credentialRefused: false,
        });
      });
    }

    it('ignores Retry-After on a response that is not retryable', async () => {
      http.resolves(response(400, '', { 'retry-after': '5' }));
      expect(await transport().send(batch(), 0)).to.deep.equal({
        outcome: 'failure',
        reason: 'TelemetryHttpError HTTP 400',
        credentialRefused: false,
      });
    });
  });

  describe('Retry-After', () => {
    async function retryAfter(value: string, config: Partial<TelemetryConfiguration> = {}) {
      http.resolves(response(503, '', { 'retry-after': value }));
      const result = await transport(config).send(batch(), 0);
      expect(result.outcome).to.equal('retryable');
      return (result as { retryAfterMs?: number }).retryAfterMs;
    }

    it('reads seconds as milliseconds', async () => {
      expect(await retryAfter('2')).to.equal(2000);
    });

    it('trims whitespace around seconds', async () => {
      expect(await retryAfter(' 7 ')).to.equal(7000);
    });

    it('reads zero seconds as no wait', async () => {
      expect(await retryAfter('0')).to.equal(0);
    });

    it('reads an HTTP date as the time left until it', async () => {
      const at = NOW - (NOW % 1000) + 4000; // HTTP dates have whole seconds
      expect(await retryAfter(new Date(at).toUTCString())).to.equal(at - NOW);
    });

    it('reads a past HTTP date as no wait', async () => {
      expect(await retryAfter(new Date(0).toUTCString())).to.equal(0);
    });

    it('caps seconds and dates at retryAfterMaxMs', async () => {
      expect(await retryAfter('3600', { retryAfterMaxMs: 500 })).to.equal(500);
      expect(await retryAfter(new Date(NOW + 3_600_000).toUTCString(), { retryAfterMaxMs: 750 })).to.equal(750);
    });

    it('leaves the wait undefined for an unreadable value', async () => {
      expect(await retryAfter('soon, maybe')).to.be.undefined;
      expect(await retryAfter('')).to.be.undefined;
    });

    it('never takes a number that is not whole seconds for a date (which would mean no wait)', async () => {
      for (const value of ['1.5', '-5', '2e3', '0x10', '12 13']) {
        expect(await retryAfter(value), value).to.be.undefined;
      }
    });

    it('reads the header on a 429 too', async () => {
      http.resolves(response(429, '', { 'retry-after': '3' }));
      expect(await transport().send(batch(), 0)).to.deep.equal({
        outcome: 'retryable',
        reason: 'TelemetryHttpError HTTP 429',
        retryAfterMs: 3000,
      });
    });
  });

  describe('network errors and timeouts', () => {
    it('a reset connection is retryable, reported by class name only', async () => {
      http.rejects(systemError('ECONNRESET'));
      expect(await transport().send(batch(), 0)).to.deep.equal({
        outcome: 'retryable',
        reason: 'Error',
        retryAfterMs: undefined,
      });
    });

    it('an unresolvable host is a failure that says nothing of the credential', async () => {
      http.rejects(systemError('ENOTFOUND'));
      expect(await transport().send(batch(), 0)).to.deep.equal({
        outcome: 'failure',
        reason: 'Error',
        credentialRefused: false,
      });
    });

    it("httpRequest's own TimeoutError is retryable", async () => {
      http.rejects(namedError('TimeoutError', 'telemetry request timed out'));
      expect(await transport().send(batch(), 0)).to.deep.equal({
        outcome: 'retryable',
        reason: 'TimeoutError',
        retryAfterMs: undefined,
      });
    });

    it('a request that outlives requestTimeoutMs ends as a retryable TimeoutError', async () => {
      http.callsFake(() => never());
      const t = transport({ requestTimeoutMs: 5000 });
      let result: unknown;
      t.send(batch(), 0).then((r) => (result = r));
      await clock.tickAsync(4999);
      expect(result).to.be.undefined;
      await clock.tickAsync(1);
      expect(result).to.deep.equal({ outcome: 'retryable', reason: 'TimeoutError', retryAfterMs: undefined });
    });
  });

  describe('shutdown', () => {
    it('a shutdown during a request ends it at once as dropped, not as a failure', async () => {
      http.callsFake(() => never());
      const t = transport({ requestTimeoutMs: 60_000 });
      const pending = t.send(batch(), 0);
      await clock.tickAsync(10);
      expect(http.callCount).to.equal(1);
      shutdown.abort();
      expect(await pending).to.deep.equal({ outcome: 'dropped', reason: 'shut down' });
      expect(Date.now()).to.equal(NOW + 10);
      expect(t.requests).to.equal(1);
    });

    it('a request aborted by the shutdown signal is dropped, not retryable', async () => {
      http.callsFake(
        (_context, req) =>
          new Promise<HttpResponse>((_resolve, reject) => {
            req.signal?.addEventListener('abort', () => reject(namedError('AbortError', 'aborted')));
          }),
      );
      const pending = transport().send(batch({ unauthenticated: true }), 0);
      await clock.tickAsync(0);
      shutdown.abort();
      expect(await pending).to.deep.equal({ outcome: 'dropped', reason: 'shut down' });
    });

    it('an error response that arrives after shutdown is dropped', async () => {
      let answer: (value: HttpResponse) => void = () => undefined;
      http.callsFake(() => new Promise<HttpResponse>((resolve) => (answer = resolve)));
      const pending = transport().send(batch({ unauthenticated: true }), 0);
      await clock.tickAsync(0);
      shutdown.abort();
      answer(response(503));
      expect(await pending).to.deep.equal({ outcome: 'dropped', reason: 'shut down' });
    });

    it('an AbortError without a shutdown is an ordinary retryable failure', async () => {
      http.rejects(namedError('AbortError', 'aborted elsewhere'));
      expect(await transport().send(batch(), 0)).to.deep.equal({
        outcome: 'retryable',
        reason: 'AbortError',
        retryAfterMs: undefined,
      });
    });
  });
});
