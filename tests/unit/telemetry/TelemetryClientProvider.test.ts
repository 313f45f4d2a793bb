import { expect } from 'chai';
import sinon from 'sinon';
import CircuitBreaker from '../../../lib/telemetry/CircuitBreaker';
import CircuitBreakerRegistry from '../../../lib/telemetry/CircuitBreakerRegistry';
import ITelemetryContext from '../../../lib/telemetry/contracts/ITelemetryContext';
import TelemetryTarget from '../../../lib/telemetry/contracts/TelemetryTarget';
import FeatureFlagCache, { TELEMETRY_FLAG_NAME } from '../../../lib/telemetry/FeatureFlagCache';
import * as httpRequestModule from '../../../lib/telemetry/httpRequest';
import { HttpRequest, HttpResponse } from '../../../lib/telemetry/httpRequest';
import TelemetryClient from '../../../lib/telemetry/TelemetryClient';
import TelemetryClientProvider from '../../../lib/telemetry/TelemetryClientProvider';
import { TelemetryLog } from '../../../lib/telemetry/types';
import ClientContextStub from '../.stubs/ClientContextStub';
import TelemetryExporterStub from '../.stubs/TelemetryExporterStub';
import { makeTarget } from '../.stubs/TelemetryTargetStub';

/** Stands in for the registry so these tests do not depend on the breaker's behaviour. */
class BreakerRegistryFake {
  public readonly removed: string[] = [];

  private readonly breakers = new Map<string, CircuitBreaker>();

  getCircuitBreaker(hostKey: string): CircuitBreaker {
    if (!this.breakers.has(hostKey)) {
      this.breakers.set(hostKey, { hostKey } as unknown as CircuitBreaker);
    }
    return this.breakers.get(hostKey) as CircuitBreaker;
  }

  removeCircuitBreaker(hostKey: string): void {
    this.removed.push(hostKey);
    this.breakers.delete(hostKey);
  }
}

interface ExporterCall {
  context: ITelemetryContext;
  target: TelemetryTarget;
  breaker: CircuitBreaker;
  exporter: TelemetryExporterStub;
}

describe('TelemetryClientProvider', () => {
  let clock: sinon.SinonFakeTimers;
  let httpStub: sinon.SinonStub;
  let context: ClientContextStub;
  let flags: FeatureFlagCache;
  let breakers: BreakerRegistryFake;
  let exporters: ExporterCall[];
  let provider: TelemetryClientProvider;

  beforeEach(() => {
    clock = sinon.useFakeTimers({ now: 1_000_000 });
    httpStub = sinon.stub(httpRequestModule, 'default').resolves({
      status: 200,
      header: () => undefined,
      body: JSON.stringify({ flags: [{ name: TELEMETRY_FLAG_NAME, value: 'true' }] }),
    });
    context = new ClientContextStub({ closeTimeoutMs: 2000 });
    flags = new FeatureFlagCache();
    breakers = new BreakerRegistryFake();
    exporters = [];
    provider = new TelemetryClientProvider(
      flags,
      breakers as unknown as CircuitBreakerRegistry,
      (ctx, target, breaker) => {
        const exporter = new TelemetryExporterStub();
        exporters.push({ context: ctx, target, breaker, exporter });
        return exporter;
      },
    );
  });

  afterEach(() => {
    clock.restore();
    sinon.restore();
  });

  it('should create one client per host and credential', () => {
    const client = provider.getOrCreateClient(context, makeTarget());
    expect(client).to.be.instanceOf(TelemetryClient);
    expect(exporters).to.have.length(1);
    expect(provider.getRefCount(makeTarget())).to.equal(1);
  });

  it('should share client across multiple connections of one credential', () => {
    const first = provider.getOrCreateClient(context, makeTarget());
    const second = provider.getOrCreateClient(new ClientContextStub(), makeTarget());
    expect(second).to.equal(first);
    expect(exporters).to.have.length(1);
  });

  it('should never share a client between two credentials on one host', () => {
    const a = provider.getOrCreateClient(context, makeTarget({ credentialKey: 'tenant-a' }));
    const b = provider.getOrCreateClient(context, makeTarget({ credentialKey: 'tenant-b' }));
    expect(a).to.not.equal(b);
    expect(exporters.map((call) => call.target.credentialKey)).to.deep.equal(['tenant-a', 'tenant-b']);
    // ...but the host's breaker and feature flag are shared.
    expect(exporters[0].breaker).to.equal(exporters[1].breaker);
    expect(flags.getRefCount(makeTarget())).to.equal(2);
  });

  it('should keep hosts apart', () => {
    provider.getOrCreateClient(context, makeTarget({ host: 'a.example.com' }));
    provider.getOrCreateClient(context, makeTarget({ host: 'b.example.com' }));
    expect(exporters[0].breaker).to.not.equal(exporters[1].breaker);
  });

  it('should make exactly one client for many connections opened at once', async () => {
    const clients = await Promise.all(
      Array.from({ length: 10 }, async () => provider.getOrCreateClient(new ClientContextStub(), makeTarget())),
    );
    expect(new Set(clients).size).to.equal(1);
    expect(provider.getRefCount(makeTarget())).to.equal(10);
  });

  it('should increment ref count on getOrCreateClient and acquire the host feature flag', async () => {
    provider.getOrCreateClient(context, makeTarget());
    provider.getOrCreateClient(context, makeTarget());
    expect(provider.getRefCount(makeTarget())).to.equal(2);
    expect(flags.getRefCount(makeTarget())).to.equal(2);
    await clock.tickAsync(0);
    expect(flags.getState(makeTarget())).to.equal('enabled');
    expect(httpStub.callCount).to.equal(1);
  });

  it('should pass context to TelemetryClient and the exporter', async () => {
    const own = new ClientContextStub({ batchSize: 1 });
    const client = provider.getOrCreateClient(own, makeTarget()) as TelemetryClient;
    expect(exporters[0].context).to.equal(own);
    client.enqueue(undefined as any);
    expect(own.logger.has(/telemetry client/)).to.equal(true);
    await clock.tickAsync(0);
    client.enqueue({ kind: 'error', eventId: 'e', timestamp: 1 });
    await clock.tickAsync(0);
    expect(exporters[0].exporter.batches).to.have.length(1); // batchSize 1 came from this context
  });

  it('should decrement ref count on releaseClient and not close while other connections exist', async () => {
    const client = provider.getOrCreateClient(context, makeTarget()) as TelemetryClient;
    provider.getOrCreateClient(context, makeTarget());
    await provider.releaseClient(makeTarget());
    expect(provider.getRefCount(makeTarget())).to.equal(1);
    expect(flags.getRefCount(makeTarget())).to.equal(1);
    expect(exporters[0].exporter.shutdownCalls).to.equal(0);
    await clock.tickAsync(0);
    client.enqueue({ kind: 'error', eventId: 'e', timestamp: 1 });
    expect(client.getStats().queued).to.equal(1); // still accepting
  });

  it('should close client when ref count reaches zero, flushing what it held', async () => {
    const client = provider.getOrCreateClient(context, makeTarget()) as TelemetryClient;
    await clock.tickAsync(0);
    client.enqueue({ kind: 'error', eventId: 'e', timestamp: 1 });
    await provider.releaseClient(makeTarget());
    expect(exporters[0].exporter.logs.map((log) => log.eventId)).to.deep.equal(['e']);
    expect(exporters[0].exporter.shutdownCalls).to.equal(1);
    expect(provider.getRefCount(makeTarget())).to.equal(0);
    expect(flags.getRefCount(makeTarget())).to.equal(0);
    // A later connection gets a fresh client.
    expect(provider.getOrCreateClient(context, makeTarget())).to.not.equal(client);
  });

  it('should forget the host breaker only when the last credential on the host is released', async () => {
    provider.getOrCreateClient(context, makeTarget({ credentialKey: 'a' }));
    provider.getOrCreateClient(context, makeTarget({ credentialKey: 'b' }));
    await provider.releaseClient(makeTarget({ credentialKey: 'a' }));
    expect(breakers.removed).to.deep.equal([]);
    await provider.releaseClient(makeTarget({ credentialKey: 'b' }));
    expect(breakers.removed).to.deep.equal(['example.cloud.databricks.com:443']);
  });

  it('should bound releaseClient by the close deadline when the exporter hangs', async () => {
    const client = provider.getOrCreateClient(context, makeTarget()) as TelemetryClient;
    await clock.tickAsync(0);
    exporters[0].exporter.hang();
    client.enqueue({ kind: 'error', eventId: 'e', timestamp: 1 });
    let released = false;
    provider.releaseClient(makeTarget()).then(() => (released = true));
    await clock.tickAsync(1999);
    expect(released).to.equal(false);
    await clock.tickAsync(1);
    expect(released).to.equal(true);
    expect(exporters[0].exporter.shutdownCalls).to.be.greaterThan(0);
  });

  it('should ignore a release of an unknown or already released target', async () => {
    provider.getOrCreateClient(context, makeTarget());
    await provider.releaseClient(makeTarget({ credentialKey: 'other' }));
    await provider.releaseClient(makeTarget());
    await provider.releaseClient(makeTarget());
    expect(provider.getRefCount(makeTarget())).to.equal(0);
    expect(exporters[0].exporter.shutdownCalls).to.equal(1);
  });

  describe('two credentials on one host, real breakers and exporters', () => {
    const FLAGS_ON = JSON.stringify({ flags: [{ name: TELEMETRY_FLAG_NAME, value: 'true' }] });
    /** Telemetry uploads per token, in order. */
    let uploads: Record<string, number>;
    /** What the telemetry endpoint answers each token. */
    let statusFor: Record<string, number>;
    let real: TelemetryClientProvider;

    const answer = (status: number, body = ''): HttpResponse => ({ status, header: () => undefined, body });
    const target = (key: string) =>
      makeTarget({ credentialKey: key, getAuthHeaders: async () => ({ Authorization: `Bearer token-${key}` }) });
    let sequence = 0;
    const statementLog = (): TelemetryLog => {
      sequence += 1;
      return {
        kind: 'statement',
        eventId: `9b2f6c1e-4a57-4c1e-9d8e-${String(sequence).padStart(12, '0')}`,
        timestamp: Date.now(),
        sessionId: '01f0a1b2-c3d4-1e5f-8a9b-0c1d2e3f4a5b',
        statementId: '01f0a1b2-c3d4-1e5f-8a9b-ffffffffffff',
        operationLatencyMs: 10,
        statement: { statementType: 'QUERY', chunksIterated: 0, chunkSumLatencyMs: 0, bytesDownloaded: 0 },
      };
    };

    beforeEach(() => {
      uploads = { a: 0, b: 0 };
      statusFor = { a: 200, b: 200 };
      httpStub.callsFake(async (_context: unknown, request: HttpRequest) => {
        if (!request.url.includes('/telemetry-ext')) {
          return answer(200, FLAGS_ON);
        }
        const key = (request.headers?.Authorization ?? '').replace('Bearer token-', '');
        uploads[key] += 1;
        return answer(statusFor[key], JSON.stringify({ numProtoSuccess: 1 }));
      });
      context = new ClientContextStub({
        batchSize: 1,
        maxRetries: 0,
        circuitBreakerThreshold: 3,
        circuitBreakerTimeoutMs: 60_000,
      });
      real = new TelemetryClientProvider(flags);
    });

    /** Each log is its own batch (batchSize 1), sent in turn. */
    async function send(client: TelemetryClient, count: number): Promise<void> {
      for (let i = 0; i < count; i += 1) {
        client.enqueue(statementLog());
        await clock.tickAsync(0);
      }
    }

    it("one credential's 401s, beyond the threshold, never stop the other credential's uploads", async () => {
      const a = real.getOrCreateClient(context, target('a')) as TelemetryClient;
      const b = real.getOrCreateClient(context, target('b')) as TelemetryClient;
      await clock.tickAsync(0);
      statusFor.a = 401;
      await send(a, 10);
      await send(b, 5);
      expect(uploads).to.deep.equal({ a: 3, b: 5 }); // A stopped at its own threshold; B sent every batch
      await send(a, 2);
      await send(b, 2);
      expect(uploads).to.deep.equal({ a: 3, b: 7 });
    });

    it("503s open the host's breaker for both credentials", async () => {
      const a = real.getOrCreateClient(context, target('a')) as TelemetryClient;
      const b = real.getOrCreateClient(context, target('b')) as TelemetryClient;
      await clock.tickAsync(0);
      statusFor.a = 503;
      await send(a, 5);
      await send(b, 5);
      expect(uploads).to.deep.equal({ a: 3, b: 0 });
    });
  });

  describe('default instance', () => {
    it('should be one process-wide instance that starts no timers and sends nothing', async () => {
      const timersBefore = clock.countTimers();
      const instance = TelemetryClientProvider.getDefault();
      expect(TelemetryClientProvider.getDefault()).to.equal(instance);
      await clock.tickAsync(0);
      expect(clock.countTimers()).to.equal(timersBefore);
      expect(httpStub.callCount).to.equal(0);
    });

    it('should build real exporters and breakers by default', async () => {
      const own = new TelemetryClientProvider();
      const client = own.getOrCreateClient(context, makeTarget());
      expect(client).to.be.instanceOf(TelemetryClient);
      await own.releaseClient(makeTarget());
      expect(own.getRefCount(makeTarget())).to.equal(0);
    });
  });

  describe('hostile input', () => {
    it('should answer undefined with a debug log for a missing target', () => {
      expect(provider.getOrCreateClient(context, undefined as any)).to.equal(undefined);
      expect(context.logger.has(/creating a telemetry client failed/)).to.equal(true);
      expect(context.logger.aboveDebug()).to.deep.equal([]);
      expect(exporters).to.deep.equal([]);
    });

    it('should answer undefined when the exporter cannot be created, and track nothing', () => {
      provider = new TelemetryClientProvider(flags, breakers as unknown as CircuitBreakerRegistry, () => {
        throw new Error('exporter exploded');
      });
      expect(provider.getOrCreateClient(context, makeTarget())).to.equal(undefined);
      expect(provider.getRefCount(makeTarget())).to.equal(0);
      expect(flags.getRefCount(makeTarget())).to.equal(0);
      expect(context.logger.has(/exporter exploded/)).to.equal(true);
    });

    it('should survive no context and a throwing logger', () => {
      expect(provider.getOrCreateClient(undefined as any, undefined as any)).to.equal(undefined);
      sinon.stub(context.logger, 'log').throws(new Error('logger broken'));
      expect(provider.getOrCreateClient(context, null as any)).to.equal(undefined);
    });

    it('should resolve releaseClient for malformed targets', async () => {
      await provider.releaseClient(undefined as any);
      await provider.releaseClient(42 as any);
      expect(provider.getRefCount(undefined as any)).to.equal(0);
    });

    it('should keep huge credential keys apart', () => {
      const a = provider.getOrCreateClient(context, makeTarget({ credentialKey: `${'k'.repeat(100_000)}a` }));
      const b = provider.getOrCreateClient(context, makeTarget({ credentialKey: `${'k'.repeat(100_000)}b` }));
      expect(a).to.not.equal(b);
    });
  });
});

describe('TelemetryClientProvider.getStats', () => {
  let clock: sinon.SinonFakeTimers;
  let httpStub: sinon.SinonStub;
  let context: ClientContextStub;

  beforeEach(() => {
    clock = sinon.useFakeTimers({ now: 1_000_000 });
    httpStub = sinon.stub(httpRequestModule, 'default').resolves({
      status: 200,
      header: () => undefined,
      body: JSON.stringify({ flags: [{ name: TELEMETRY_FLAG_NAME, value: 'true' }] }),
    });
    context = new ClientContextStub({ closeTimeoutMs: 2000 });
  });

  afterEach(() => {
    clock.restore();
    sinon.restore();
  });

  /** A provider with a real feature-flag cache and breaker registry, and exporters that send nothing. */
  const realProvider = () =>
    new TelemetryClientProvider(
      new FeatureFlagCache(),
      new CircuitBreakerRegistry(),
      () => new TelemetryExporterStub(),
    );

  it('should count clients, their connections and hosts, flag entries and breakers, and be back to none once all are released', async () => {
    const provider = realProvider();
    const a1 = makeTarget({ credentialKey: 'a' });
    const a2 = makeTarget({ credentialKey: 'a' });
    const b = makeTarget({ credentialKey: 'b' });
    const other = makeTarget({ host: 'other.cloud.databricks.com' });
    expect(provider.getStats()).to.deep.equal({
      clients: 0,
      connections: 0,
      hosts: 0,
      flagHosts: 0,
      flagHolders: 0,
      breakers: 0,
    });
    for (const target of [a1, a2, b, other]) {
      provider.getOrCreateClient(context, target);
    }
    expect(provider.getStats()).to.deep.equal({
      clients: 3,
      connections: 4,
      hosts: 2,
      flagHosts: 2,
      flagHolders: 4,
      breakers: 2,
    });
    await provider.releaseClient(a1);
    expect(provider.getStats()).to.deep.equal({
      clients: 3,
      connections: 3,
      hosts: 2,
      flagHosts: 2,
      flagHolders: 3,
      breakers: 2,
    });
    await Promise.all([a2, b, other].map((target) => provider.releaseClient(target)));
    expect(provider.getStats()).to.deep.equal({
      clients: 0,
      connections: 0,
      hosts: 0,
      flagHosts: 0,
      flagHolders: 0,
      breakers: 0,
    });
  });

  it('should only read: no request, no reference taken or dropped', async () => {
    const provider = realProvider();
    const target = makeTarget();
    provider.getOrCreateClient(context, target);
    await clock.tickAsync(0);
    const requests = httpStub.callCount;
    // Past the flag's expiry: a read of the flag would start a refresh.
    clock.setSystemTime(Date.now() + 25 * 60 * 60 * 1000);
    const first = provider.getStats();
    expect(provider.getStats()).to.deep.equal(first);
    await clock.tickAsync(0);
    expect(httpStub.callCount).to.equal(requests);
    expect(provider.getRefCount(target)).to.equal(1);
  });

  it('should not throw with a substituted registry that keeps no counts, and count what it can', () => {
    const provider = new TelemetryClientProvider(
      new FeatureFlagCache(),
      {} as CircuitBreakerRegistry,
      () => new TelemetryExporterStub(),
    );
    expect(provider.getStats()).to.deep.equal({
      clients: 0,
      connections: 0,
      hosts: 0,
      flagHosts: 0,
      flagHolders: 0,
      breakers: 0,
    });
  });
});
