import { expect } from 'chai';
import sinon from 'sinon';
import { LogLevel } from '@databricks/sql/dist/contracts/IDBSQLLogger';
import FeatureFlagCache, { TELEMETRY_FLAG_NAME } from '../../../lib/telemetry/FeatureFlagCache';
import * as httpRequestModule from '../../../lib/telemetry/httpRequest';
import { HttpRequest, HttpResponse } from '../../../lib/telemetry/httpRequest';
import ClientContextStub from '../.stubs/ClientContextStub';
import { makeTarget } from '../.stubs/TelemetryTargetStub';

const MINUTE = 60 * 1000;

function response(status: number, body: unknown, headers: Record<string, string> = {}): HttpResponse {
  return { status, header: (name) => headers[name], body: typeof body === 'string' ? body : JSON.stringify(body) };
}

/** A flag answer naming the workspace in `x-databricks-org-id`, as a real workspace does. */
function withOrgId(orgId: string, status = 200, body: unknown = flagBody('true')): HttpResponse {
  return response(status, body, { 'x-databricks-org-id': orgId });
}

function flagBody(value: string, extra: Record<string, unknown> = {}) {
  return { flags: [{ name: TELEMETRY_FLAG_NAME, value }], ...extra };
}

describe('FeatureFlagCache', () => {
  let clock: sinon.SinonFakeTimers;
  let httpStub: sinon.SinonStub;
  let context: ClientContextStub;
  let cache: FeatureFlagCache;

  beforeEach(() => {
    clock = sinon.useFakeTimers({ now: 1_000_000 });
    httpStub = sinon.stub(httpRequestModule, 'default');
    httpStub.resolves(response(200, flagBody('true')));
    context = new ClientContextStub();
    cache = new FeatureFlagCache();
  });

  afterEach(() => {
    clock.restore();
    sinon.restore();
  });

  const settle = () => clock.tickAsync(0);

  describe('reference counting', () => {
    it('should create the host context with ref count 1 on first acquire', () => {
      const target = makeTarget();
      expect(cache.getRefCount(target)).to.equal(0);
      cache.acquire(context, target);
      expect(cache.getRefCount(target)).to.equal(1);
    });

    it('should increment and decrement ref count', () => {
      const target = makeTarget();
      cache.acquire(context, target);
      cache.acquire(context, target);
      expect(cache.getRefCount(target)).to.equal(2);
      cache.release(target);
      expect(cache.getRefCount(target)).to.equal(1);
    });

    it('should keep the cached value while other references remain', async () => {
      const target = makeTarget();
      cache.acquire(context, target);
      cache.acquire(context, makeTarget({ credentialKey: 'credential-b' }));
      await settle();
      cache.release(target);
      expect(cache.getState(target)).to.equal('enabled');
      expect(httpStub.callCount).to.equal(1);
    });

    it('should remove context when ref count reaches zero', async () => {
      const target = makeTarget();
      cache.acquire(context, target);
      await settle();
      expect(cache.getState(target)).to.equal('enabled');
      cache.release(target);
      expect(cache.getRefCount(target)).to.equal(0);
      expect(cache.getState(target)).to.equal('unknown');
      // Acquired again: the forgotten value is fetched afresh.
      cache.acquire(context, target);
      await settle();
      expect(httpStub.callCount).to.equal(2);
    });

    it('should release by host when the exact target object is not the one acquired', () => {
      cache.acquire(context, makeTarget());
      cache.release(makeTarget());
      expect(cache.getRefCount(makeTarget())).to.equal(0);
    });

    it('should ignore a release of a host that was never acquired', () => {
      cache.release(makeTarget({ host: 'other.example.com' }));
      expect(cache.getRefCount(makeTarget({ host: 'other.example.com' }))).to.equal(0);
    });

    it('should make later requests with the credentials of a holder still present', async () => {
      const first = makeTarget({ getAuthHeaders: async () => ({ Authorization: 'Bearer first' }) });
      const second = makeTarget({
        credentialKey: 'b',
        getAuthHeaders: async () => ({ Authorization: 'Bearer second' }),
      });
      cache.acquire(context, first);
      cache.acquire(context, second);
      await settle();
      cache.release(second);
      clock.tick(16 * MINUTE);
      cache.getState(first);
      await settle();
      expect(httpStub.callCount).to.equal(2);
      expect(httpStub.secondCall.args[1].headers.Authorization).to.equal('Bearer first');
    });
  });

  describe('fetching', () => {
    it('should start a background fetch on acquire without blocking the caller', async () => {
      httpStub.returns(new Promise(() => undefined));
      const target = makeTarget();
      cache.acquire(context, target);
      expect(httpStub.callCount).to.equal(0); // still awaiting the auth headers: acquire returned first
      await settle();
      expect(httpStub.callCount).to.equal(1);
      expect(cache.getState(target)).to.equal('unknown');
    });

    it('should request the NODEJS feature-flag endpoint with auth, user agent and org id', async () => {
      const target = makeTarget({ orgId: '1234567890', port: 8443, driverVersion: '2.1.0' });
      const agentContext = new ClientContextStub({ requestTimeoutMs: 3456 });
      cache.acquire(agentContext, target);
      await settle();
      const [usedContext, request] = httpStub.firstCall.args as [ClientContextStub, HttpRequest];
      expect(usedContext).to.equal(agentContext);
      expect(request.method).to.equal('GET');
      expect(request.url).to.equal(
        'https://example.cloud.databricks.com:8443/api/2.0/connector-service/feature-flags/NODEJS/2.1.0',
      );
      expect(request.timeoutMs).to.equal(3456);
      expect(request.headers.Authorization).to.equal('Bearer test-token');
      expect(request.headers['User-Agent']).to.equal(target.userAgent);
      expect(request.headers['x-databricks-org-id']).to.equal('1234567890');
    });

    it('should send no org id header when the target has none', async () => {
      cache.acquire(context, makeTarget());
      await settle();
      expect(httpStub.firstCall.args[1].headers).to.not.have.property('x-databricks-org-id');
    });

    it('should cache feature flag per host', async () => {
      const target = makeTarget();
      cache.acquire(context, target);
      await settle();
      expect(cache.getState(target)).to.equal('enabled');
      expect(cache.getState(target)).to.equal('enabled');
      cache.acquire(context, makeTarget({ credentialKey: 'credential-b' }));
      await settle();
      expect(httpStub.callCount).to.equal(1);
    });

    it('should return the cached value without an HTTP call', async () => {
      const target = makeTarget();
      cache.acquire(context, target);
      await settle();
      clock.tick(14 * MINUTE);
      expect(cache.getState(target)).to.equal('enabled');
      await settle();
      expect(httpStub.callCount).to.equal(1);
    });

    it('should expire cache after 15 minutes and refresh in the background while serving the old value', async () => {
      const target = makeTarget();
      cache.acquire(context, target);
      await settle();
      httpStub.resolves(response(200, flagBody('false')));
      clock.tick(15 * MINUTE);
      expect(cache.getState(target)).to.equal('enabled'); // last known value keeps serving
      expect(cache.getState(target)).to.equal('enabled');
      await settle();
      expect(httpStub.callCount).to.equal(2); // one refresh, not one per read
      expect(cache.getState(target)).to.equal('disabled');
    });

    it('should share one in-flight request between concurrent look-ups', async () => {
      let answer: (value: HttpResponse) => void = () => undefined;
      httpStub.returns(new Promise<HttpResponse>((resolve) => (answer = resolve)));
      const target = makeTarget();
      cache.acquire(context, target);
      cache.acquire(context, makeTarget({ credentialKey: 'b' }));
      cache.getState(target);
      const settled = cache.whenSettled(target, 5000);
      await settle();
      expect(httpStub.callCount).to.equal(1);
      answer(response(200, flagBody('TRUE')));
      expect(await settled).to.equal('enabled');
    });

    it('should handle multiple hosts independently', async () => {
      const a = makeTarget({ host: 'a.example.com' });
      const b = makeTarget({ host: 'b.example.com' });
      httpStub.callsFake(async (_ctx, request: HttpRequest) =>
        response(200, flagBody(request.url.includes('a.example.com') ? 'true' : 'false')),
      );
      cache.acquire(context, a);
      cache.acquire(context, b);
      await settle();
      expect(cache.getState(a)).to.equal('enabled');
      expect(cache.getState(b)).to.equal('disabled');
      cache.release(a);
      expect(cache.getState(a)).to.equal('unknown');
      expect(cache.getState(b)).to.equal('disabled');
    });

    it('should treat the same host on another port as another host', async () => {
      cache.acquire(context, makeTarget());
      cache.acquire(context, makeTarget({ port: 444 }));
      await settle();
      expect(httpStub.callCount).to.equal(2);
    });
  });

  describe('response parsing', () => {
    async function stateFor(body: unknown, status = 200) {
      httpStub.resolves(response(status, body));
      const target = makeTarget();
      cache.acquire(context, target);
      await settle();
      return cache.getState(target);
    }

    it('should read the flag value case-insensitively', async () => {
      expect(await stateFor(flagBody('True'))).to.equal('enabled');
    });

    it('should treat "false" as disabled for the full TTL', async () => {
      const target = makeTarget();
      expect(await stateFor(flagBody('false'))).to.equal('disabled');
      clock.tick(14 * MINUTE);
      cache.getState(target);
      await settle();
      expect(httpStub.callCount).to.equal(1);
    });

    it('should honour ttl_seconds', async () => {
      const target = makeTarget();
      await stateFor(flagBody('true', { ttl_seconds: 120 }));
      clock.tick(119 * 1000);
      cache.getState(target);
      expect(httpStub.callCount).to.equal(1);
      clock.tick(1000);
      cache.getState(target);
      await settle();
      expect(httpStub.callCount).to.equal(2);
    });

    it('should accept ttlSeconds too', async () => {
      const target = makeTarget();
      await stateFor(flagBody('true', { ttlSeconds: 300 }));
      clock.tick(300 * 1000);
      cache.getState(target);
      await settle();
      expect(httpStub.callCount).to.equal(2);
    });

    it('should clamp a tiny server TTL to one minute', async () => {
      const target = makeTarget();
      await stateFor(flagBody('true', { ttl_seconds: 0.001 }));
      clock.tick(59 * 1000);
      cache.getState(target);
      expect(httpStub.callCount).to.equal(1);
      clock.tick(1000);
      cache.getState(target);
      expect(httpStub.callCount).to.equal(1); // the fetch waits for the auth headers first
      await settle();
      expect(httpStub.callCount).to.equal(2);
    });

    it('should clamp a huge server TTL to one day', async () => {
      const target = makeTarget();
      await stateFor(flagBody('true', { ttl_seconds: 1e12 }));
      clock.tick(24 * 60 * MINUTE);
      cache.getState(target);
      await settle();
      expect(httpStub.callCount).to.equal(2);
    });

    it('should use the configured TTL when ttl_seconds is not a positive number', async () => {
      context = new ClientContextStub({ featureFlagTtlMs: 5 * MINUTE });
      const target = makeTarget();
      await stateFor(flagBody('true', { ttl_seconds: '900' }));
      clock.tick(5 * MINUTE);
      cache.getState(target);
      await settle();
      expect(httpStub.callCount).to.equal(2);
    });

    const failures: Array<[string, unknown, number?]> = [
      ['a missing flag', { flags: [{ name: 'some.other.flag', value: 'true' }] }],
      ['no flags array', { flags: 'true' }],
      ['a non-string value', { flags: [{ name: TELEMETRY_FLAG_NAME, value: true }] }],
      ['a JSON null body', 'null'],
      ['a malformed body', '{"flags": ['],
      ['an empty body', ''],
      ['a non-2xx status', flagBody('true'), 503],
      ['a redirect status', flagBody('true'), 302],
    ];
    failures.forEach(([name, body, status]) => {
      it(`should cache 'disabled' briefly for ${name}`, async () => {
        const target = makeTarget();
        expect(await stateFor(body, status)).to.equal('disabled');
        expect(context.logger.has(/feature flag/)).to.equal(true);
        httpStub.resolves(response(200, flagBody('true')));
        clock.tick(59 * 1000);
        cache.getState(target);
        await settle();
        expect(httpStub.callCount).to.equal(1);
        clock.tick(1000); // featureFlagFailureTtlMs (60 s) passed: tried again
        cache.getState(target);
        await settle();
        expect(cache.getState(target)).to.equal('enabled');
      });
    });
  });

  describe('failures', () => {
    it("should answer 'unknown', not 'disabled', while a look-up that failed is tried again", async () => {
      httpStub.rejects(new Error('ECONNRESET'));
      const target = makeTarget();
      cache.acquire(context, target);
      await settle();
      expect(cache.getState(target)).to.equal('disabled');
      let answer: (value: HttpResponse) => void = () => undefined;
      httpStub.returns(new Promise<HttpResponse>((resolve) => (answer = resolve)));
      clock.tick(60 * 1000);
      expect(cache.getState(target)).to.equal('unknown');
      answer(response(200, flagBody('true')));
      await settle();
      expect(cache.getState(target)).to.equal('enabled');
    });

    it("should keep serving a server's 'false' while it is refreshed", async () => {
      httpStub.resolves(response(200, flagBody('false')));
      const target = makeTarget();
      cache.acquire(context, target);
      await settle();
      httpStub.returns(new Promise(() => undefined));
      clock.tick(16 * MINUTE);
      expect(cache.getState(target)).to.equal('disabled');
    });

    it('should fetch with the longest-standing holder, so a newcomer with a bad token cannot turn the flag off', async () => {
      const good = makeTarget({ getAuthHeaders: async () => ({ Authorization: 'Bearer good' }) });
      const bad = makeTarget({ credentialKey: 'b', getAuthHeaders: async () => ({ Authorization: 'Bearer bad' }) });
      cache.acquire(context, good);
      await settle();
      cache.acquire(context, bad);
      clock.tick(16 * MINUTE);
      cache.getState(bad);
      await settle();
      expect(httpStub.secondCall.args[1].headers.Authorization).to.equal('Bearer good');
    });

    it('should cache disabled on a network error and use logger from context for errors', async () => {
      httpStub.rejects(new Error('ECONNREFUSED'));
      const target = makeTarget();
      cache.acquire(context, target);
      await settle();
      expect(cache.getState(target)).to.equal('disabled');
      expect(context.logger.has(/ECONNREFUSED/)).to.equal(true);
      expect(context.logger.aboveDebug()).to.deep.equal([]);
    });

    it('should time out a hanging request and answer disabled', async () => {
      httpStub.returns(new Promise(() => undefined));
      context = new ClientContextStub({ requestTimeoutMs: 2000 });
      const target = makeTarget();
      cache.acquire(context, target);
      await clock.tickAsync(1999);
      expect(cache.getState(target)).to.equal('unknown');
      await clock.tickAsync(1);
      expect(cache.getState(target)).to.equal('disabled');
      expect(context.logger.has(/timed out/)).to.equal(true);
    });

    it('should bound hanging auth headers by the request timeout', async () => {
      context = new ClientContextStub({ requestTimeoutMs: 1000 });
      const target = makeTarget({ getAuthHeaders: () => new Promise(() => undefined) });
      cache.acquire(context, target);
      await clock.tickAsync(1000);
      expect(cache.getState(target)).to.equal('disabled');
      expect(httpStub.callCount).to.equal(0);
    });

    it('should answer disabled when the auth headers throw', async () => {
      const target = makeTarget({
        getAuthHeaders: async () => {
          throw new Error('token expired');
        },
      });
      cache.acquire(context, target);
      await settle();
      expect(cache.getState(target)).to.equal('disabled');
      expect(context.logger.has(/token expired/)).to.equal(true);
    });

    it('should survive a rejection value that cannot be printed', async () => {
      httpStub.callsFake(() =>
        Promise.reject({
          toString() {
            throw new Error('no');
          },
        }),
      );
      const target = makeTarget();
      cache.acquire(context, target);
      await settle();
      expect(cache.getState(target)).to.equal('disabled');
      expect(context.logger.has(/unprintable/)).to.equal(true);
    });

    it('should survive a throwing logger', async () => {
      httpStub.rejects(new Error('down'));
      sinon.stub(context.logger, 'log').throws(new Error('logger broken'));
      const target = makeTarget();
      cache.acquire(context, target);
      await settle();
      expect(cache.getState(target)).to.equal('disabled');
    });

    it('should fall back to a one-minute negative cache when the config cannot be read', async () => {
      sinon.stub(context, 'getTelemetryConfig').throws(new Error('bad config'));
      const target = makeTarget();
      cache.acquire(context, target);
      await settle();
      expect(cache.getState(target)).to.equal('disabled');
      expect(httpStub.callCount).to.equal(0);
      clock.tick(MINUTE);
      cache.getState(target);
      await settle();
      expect(context.logger.lines.filter((line) => /bad config/.test(line.message))).to.have.length(2);
    });
  });

  describe('whenSettled', () => {
    it('should wait for the in-flight fetch', async () => {
      let answer: (value: HttpResponse) => void = () => undefined;
      httpStub.returns(new Promise<HttpResponse>((resolve) => (answer = resolve)));
      const target = makeTarget();
      cache.acquire(context, target);
      const settled = cache.whenSettled(target, 10000);
      await clock.tickAsync(500);
      answer(response(200, flagBody('true')));
      expect(await settled).to.equal('enabled');
    });

    it('should give up after timeoutMs and answer the last known state', async () => {
      httpStub.returns(new Promise(() => undefined));
      const target = makeTarget();
      cache.acquire(context, target);
      let result: string | undefined;
      cache.whenSettled(target, 300).then((state) => (result = state));
      await clock.tickAsync(299);
      expect(result).to.equal(undefined);
      await clock.tickAsync(1);
      expect(result).to.equal('unknown');
    });

    it('should answer at once when nothing is in flight', async () => {
      const target = makeTarget();
      cache.acquire(context, target);
      await settle();
      expect(await cache.whenSettled(target, 1)).to.equal('enabled');
      expect(await cache.whenSettled(makeTarget({ host: 'never.example.com' }), 1)).to.equal('unknown');
    });

    it('should refresh an expired value before answering', async () => {
      const target = makeTarget();
      cache.acquire(context, target);
      await settle();
      httpStub.resolves(response(200, flagBody('false')));
      clock.tick(15 * MINUTE);
      expect(await cache.whenSettled(target, 1000)).to.equal('disabled');
    });
  });

  describe('answer', () => {
    it('waits for the fetch, then gives the state and until when it holds', async () => {
      httpStub.resolves(response(200, flagBody('false')));
      const target = makeTarget();
      cache.acquire(context, target);
      expect(await cache.answer(target)).to.deep.equal({ state: 'disabled', expiresAt: 1_000_000 + 15 * MINUTE });
    });

    it('asks again once the answer expired, and gives the new one', async () => {
      const target = makeTarget();
      cache.acquire(context, target);
      await settle();
      httpStub.resolves(response(200, flagBody('false')));
      clock.tick(15 * MINUTE);
      expect(await cache.answer(target)).to.deep.equal({ state: 'disabled', expiresAt: 1_000_000 + 30 * MINUTE });
      expect(httpStub.callCount).to.equal(2);
    });

    it('answers unknown for a host it does not hold', async () => {
      expect(await cache.answer(makeTarget({ host: 'never.example.com' }))).to.deep.equal({
        state: 'unknown',
        expiresAt: 0,
      });
    });
  });

  describe('the workspace id in the response header', () => {
    it('remembers the x-databricks-org-id of the flag response per host, for every target of the host', async () => {
      httpStub.resolves(withOrgId('1234567890123456'));
      const target = makeTarget();
      expect(FeatureFlagCache.workspaceIdOf(target)).to.equal(undefined);
      cache.acquire(context, target);
      expect(FeatureFlagCache.workspaceIdOf(target)).to.equal(undefined); // not before the answer
      await settle();
      expect(FeatureFlagCache.workspaceIdOf(target)).to.equal('1234567890123456');
      // Another credential on the same host shares the host's answer without a request of its own.
      const other = makeTarget({ credentialKey: 'credential-b' });
      cache.acquire(context, other);
      expect(FeatureFlagCache.workspaceIdOf(other)).to.equal('1234567890123456');
      expect(httpStub.callCount).to.equal(1);
      expect(cache.getState(target)).to.equal('enabled');
    });

    it('keeps hosts apart and knows nothing of a target never acquired', async () => {
      httpStub.callsFake(async (_ctx, request: HttpRequest) =>
        withOrgId(request.url.includes('a.example.com') ? '111' : '222'),
      );
      const a = makeTarget({ host: 'a.example.com' });
      const b = makeTarget({ host: 'b.example.com' });
      cache.acquire(context, a);
      cache.acquire(context, b);
      await settle();
      expect([FeatureFlagCache.workspaceIdOf(a), FeatureFlagCache.workspaceIdOf(b)]).to.deep.equal(['111', '222']);
      expect(FeatureFlagCache.workspaceIdOf(makeTarget({ host: 'a.example.com' }))).to.equal(undefined);
    });

    it('is undefined when the response names no workspace', async () => {
      const target = makeTarget();
      cache.acquire(context, target);
      await settle();
      expect(cache.getState(target)).to.equal('enabled');
      expect(FeatureFlagCache.workspaceIdOf(target)).to.equal(undefined);
      expect(context.logger.has(/org-id/)).to.equal(false);
    });

    it('takes the id from a refused or unreadable answer too: the host named itself', async () => {
      httpStub.resolves(withOrgId('42', 503));
      const target = makeTarget();
      cache.acquire(context, target);
      await settle();
      expect(cache.getState(target)).to.equal('disabled');
      expect(FeatureFlagCache.workspaceIdOf(target)).to.equal('42');

      const other = makeTarget({ host: 'other.example.com' });
      httpStub.resolves(withOrgId('43', 200, '{"flags": ['));
      cache.acquire(context, other);
      await settle();
      expect(FeatureFlagCache.workspaceIdOf(other)).to.equal('43');
    });

    it('trims the value and accepts 1 to 19 digits', async () => {
      for (const [index, [header, expected]] of (
        [
          [' 9876543210987654 ', '9876543210987654'],
          ['9'.repeat(19), '9'.repeat(19)],
          ['7', '7'],
        ] as const
      ).entries()) {
        httpStub.resolves(withOrgId(header));
        const target = makeTarget({ host: `h${index}.example.com` });
        cache.acquire(context, target);
        await settle();
        expect(FeatureFlagCache.workspaceIdOf(target), JSON.stringify(header)).to.equal(expected);
      }
    });

    const malformed = ['', 'abc', '12345678901234567890', '-1', '12 34', '1e5', '0x1F', '１２３', 'DROP TABLE payroll'];
    malformed.forEach((header) => {
      it(`ignores ${JSON.stringify(header)} with a debug log that does not repeat it`, async () => {
        httpStub.resolves(withOrgId(header));
        const target = makeTarget();
        cache.acquire(context, target);
        await settle();
        expect(FeatureFlagCache.workspaceIdOf(target)).to.equal(undefined);
        expect(cache.getState(target)).to.equal('enabled');
        expect(context.logger.has(/malformed x-databricks-org-id header ignored/)).to.equal(true);
        if (header !== '') {
          expect(context.logger.lines.some((line) => line.message.includes(header))).to.equal(false);
        }
        expect(context.logger.aboveDebug()).to.deep.equal([]);
      });
    });

    it('survives a header reader that throws or returns a non-string', async () => {
      httpStub.resolves({
        status: 200,
        header: () => {
          throw new Error('boom');
        },
        body: JSON.stringify(flagBody('true')),
      });
      const target = makeTarget();
      cache.acquire(context, target);
      await settle();
      expect(cache.getState(target)).to.equal('enabled');
      expect(FeatureFlagCache.workspaceIdOf(target)).to.equal(undefined);
      expect(context.logger.has(/unreadable x-databricks-org-id/)).to.equal(true);

      httpStub.resolves({ status: 200, header: () => 42 as any, body: JSON.stringify(flagBody('true')) });
      const other = makeTarget({ host: 'other.example.com' });
      cache.acquire(context, other);
      await settle();
      expect(FeatureFlagCache.workspaceIdOf(other)).to.equal(undefined);
      expect(context.logger.has(/header ignored \(number\)/)).to.equal(true);
    });

    it('keeps the last valid id through answers without one, and follows a new one', async () => {
      httpStub.resolves(withOrgId('1111'));
      const target = makeTarget();
      cache.acquire(context, target);
      await settle();
      httpStub.resolves(response(200, flagBody('true')));
      clock.tick(15 * MINUTE);
      cache.getState(target);
      await settle();
      expect(FeatureFlagCache.workspaceIdOf(target)).to.equal('1111');
      httpStub.resolves(withOrgId('not-an-id'));
      clock.tick(15 * MINUTE);
      cache.getState(target);
      await settle();
      expect(FeatureFlagCache.workspaceIdOf(target)).to.equal('1111');
      httpStub.resolves(withOrgId('2222'));
      clock.tick(15 * MINUTE);
      cache.getState(target);
      await settle();
      expect(httpStub.callCount).to.equal(4);
      expect(FeatureFlagCache.workspaceIdOf(target)).to.equal('2222');
    });

    it('answers undefined for hostile targets', () => {
      expect(FeatureFlagCache.workspaceIdOf(undefined as any)).to.equal(undefined);
      expect(FeatureFlagCache.workspaceIdOf(42 as any)).to.equal(undefined);
      expect(FeatureFlagCache.workspaceIdOf(null as any)).to.equal(undefined);
    });
  });

  describe('hostile input', () => {
    it('should debug-log and do nothing when acquire gets no target', () => {
      cache.acquire(context, undefined as any);
      expect(context.logger.lines.map((line) => line.level)).to.deep.equal([LogLevel.debug]);
      expect(httpStub.callCount).to.equal(0);
    });

    it('should survive acquire with no context at all', () => {
      expect(() => cache.acquire(undefined as any, null as any)).to.not.throw();
    });

    it('should answer unknown for malformed targets', async () => {
      expect(cache.getState(undefined as any)).to.equal('unknown');
      expect(cache.getState(42 as any)).to.equal('unknown');
      expect(await cache.whenSettled(null as any, 10)).to.equal('unknown');
      expect(cache.getRefCount(null as any)).to.equal(0);
      expect(() => cache.release(undefined as any)).to.not.throw();
    });

    it('should handle a huge driver version and host without throwing', async () => {
      const target = makeTarget({ host: 'h'.repeat(100_000), driverVersion: '../'.repeat(10_000) });
      cache.acquire(context, target);
      await settle();
      const url: string = httpStub.firstCall.args[1].url;
      expect(url).to.not.include('../');
      expect(cache.getState(target)).to.equal('enabled');
    });

    it('should treat a hostile config timeout like any other failure', async () => {
      httpStub.returns(new Promise(() => undefined));
      context = new ClientContextStub({ requestTimeoutMs: -5 });
      const target = makeTarget();
      cache.acquire(context, target);
      await clock.tickAsync(1);
      expect(cache.getState(target)).to.equal('disabled');
    });
  });
});

describe('FeatureFlagCache.getStats', () => {
  let clock: sinon.SinonFakeTimers;
  let httpStub: sinon.SinonStub;
  let context: ClientContextStub;
  let cache: FeatureFlagCache;

  beforeEach(() => {
    clock = sinon.useFakeTimers({ now: 1_000_000 });
    httpStub = sinon.stub(httpRequestModule, 'default').resolves(response(200, flagBody('true')));
    context = new ClientContextStub();
    cache = new FeatureFlagCache();
  });

  afterEach(() => {
    clock.restore();
    sinon.restore();
  });

  it('should count host entries and their holders, and be back to none once every holder released', () => {
    const a = makeTarget();
    const b = makeTarget({ credentialKey: 'credential-b' });
    const other = makeTarget({ host: 'other.cloud.databricks.com' });
    expect(cache.getStats()).to.deep.equal({ hosts: 0, holders: 0 });
    cache.acquire(context, a);
    cache.acquire(context, b);
    cache.acquire(context, other);
    expect(cache.getStats()).to.deep.equal({ hosts: 2, holders: 3 });
    cache.release(a);
    expect(cache.getStats()).to.deep.equal({ hosts: 2, holders: 2 });
    cache.release(b);
    cache.release(other);
    expect(cache.getStats()).to.deep.equal({ hosts: 0, holders: 0 });
  });

  it('should start no refresh of an expired entry, unlike a read of the flag', async () => {
    const target = makeTarget();
    cache.acquire(context, target);
    await clock.tickAsync(0);
    expect(httpStub.callCount).to.equal(1);
    await clock.tickAsync(25 * 60 * MINUTE);
    cache.getStats();
    await clock.tickAsync(0);
    expect(httpStub.callCount).to.equal(1);
    cache.getState(target);
    await clock.tickAsync(0);
    expect(httpStub.callCount).to.equal(2);
  });
});
