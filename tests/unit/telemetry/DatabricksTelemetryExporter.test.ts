import { expect } from 'chai';
import fs from 'fs';
import os from 'os';
import path from 'path';
import sinon from 'sinon';
import { LogLevel } from '@databricks/sql/dist/contracts/IDBSQLLogger';
import * as httpRequestModule from '../../../lib/telemetry/httpRequest';
import { HttpRequest, HttpResponse } from '../../../lib/telemetry/httpRequest';
import CircuitBreaker, { CircuitBreakerPermit, CircuitBreakerState } from '../../../lib/telemetry/CircuitBreaker';
import DatabricksTelemetryExporter from '../../../lib/telemetry/DatabricksTelemetryExporter';
import TelemetryTarget from '../../../lib/telemetry/contracts/TelemetryTarget';
import { TelemetryConfiguration, TelemetryLog } from '../../../lib/telemetry/types';
import ClientContextStub from '../.stubs/ClientContextStub';
import { makeTarget } from '../.stubs/TelemetryTargetStub';

type PermitOutcome = 'success' | 'failure' | 'abandon';

/** A host breaker whose answer the test sets, recording how each permit it gave was settled (first report only). */
class BreakerFake extends CircuitBreaker {
  public allowed = true;

  public acquired = 0;

  public readonly outcomes: PermitOutcome[] = [];

  constructor() {
    super(new ClientContextStub());
  }

  get successes(): number {
    return this.outcomes.filter((outcome) => outcome === 'success').length;
  }

  get failures(): number {
    return this.outcomes.filter((outcome) => outcome === 'failure').length;
  }

  isRequestAllowed(): boolean {
    return this.allowed;
  }

  tryAcquire(): CircuitBreakerPermit | undefined {
    if (!this.allowed) {
      return undefined;
    }
    this.acquired += 1;
    let settled = false;
    const settle = (outcome: PermitOutcome) => () => {
      if (!settled) {
        settled = true;
        this.outcomes.push(outcome);
      }
    };
    return { onSuccess: settle('success'), onFailure: settle('failure'), onAbandon: settle('abandon') };
  }
}

const SESSION_ID = '01f0a1b2-c3d4-1e5f-8a9b-0c1d2e3f4a5b';

function log(overrides: Partial<TelemetryLog> = {}): TelemetryLog {
  return {
    kind: 'statement',
    eventId: '9b2f6c1e-4a57-4c1e-9d8e-2b1f0c7a6d55',
    timestamp: 1760000000100,
    workspaceId: '1234567890123456',
    sessionId: SESSION_ID,
    statementId: '01f0a1b2-c3d4-1e5f-8a9b-ffffffffffff',
    operationLatencyMs: 10,
    statement: { statementType: 'QUERY', chunksIterated: 0, chunkSumLatencyMs: 0, bytesDownloaded: 0 },
    ...overrides,
  };
}

function response(status: number, body?: string, headers: Record<string, string> = {}): HttpResponse {
  return {
    status,
    header: (name) => headers[name.toLowerCase()],
    body: body ?? '',
  };
}

function ok(accepted: number): HttpResponse {
  return response(
    200,
    JSON.stringify({ errors: [], numSuccess: accepted, numProtoSuccess: accepted, numRealtimeSuccess: 0 }),
  );
}

/** A request that only ends when its signal aborts, like one to a dead endpoint. */
function hangUntilAborted(_context: unknown, request: HttpRequest): Promise<HttpResponse> {
  return new Promise((_resolve, reject) => {
    request.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
  });
}

function systemError(code: string): Error {
  return Object.assign(new Error(`read ${code}`), { code });
}

describe('DatabricksTelemetryExporter', () => {
  let http: sinon.SinonStub<Parameters<typeof httpRequestModule.default>, ReturnType<typeof httpRequestModule.default>>;
  let clock: sinon.SinonFakeTimers;
  let context: ClientContextStub;
  let breaker: BreakerFake;

  function exporter(
    config: Partial<TelemetryConfiguration> = {},
    target: TelemetryTarget = makeTarget(),
    cb: CircuitBreaker = breaker,
  ) {
    context.config = { ...context.config, ...config };
    return new DatabricksTelemetryExporter(context, target, cb);
  }

  function request(index: number): HttpRequest {
    return http.getCall(index).args[1];
  }

  function body(index: number): { uploadTime: number; items: unknown[]; protoLogs: string[] } {
    return JSON.parse(request(index).body as string);
  }

  beforeEach(() => {
    clock = sinon.useFakeTimers({ now: 1760000000500 });
    context = new ClientContextStub();
    breaker = new BreakerFake();
    http = sinon.stub(httpRequestModule, 'default');
    http.resolves(ok(1));
  });

  afterEach(() => {
    sinon.restore();
    clock.restore();
    expect(context.logger.aboveDebug(), 'log lines above debug').to.be.empty;
  });

  describe('endpoint, headers and body', () => {
    it('should export metrics to correct endpoint', async () => {
      await exporter().export([log()]);
      expect(http.callCount).to.equal(1);
      expect(request(0)).to.include({ method: 'POST', url: 'https://example.cloud.databricks.com:443/telemetry-ext' });
    });

    it('DatabricksTelemetryExporter_ExportAsync_Authenticated_UsesCorrectEndpoint: headers from the target', async () => {
      await exporter({}, makeTarget({ orgId: '1234567890123456', port: 8443 })).export([log()]);
      expect(request(0).url).to.equal('https://example.cloud.databricks.com:8443/telemetry-ext');
      expect(request(0).headers).to.deep.equal({
        Authorization: 'Bearer test-token',
        'Content-Type': 'application/json',
        Accept: 'application/json',
        'User-Agent': 'NodejsDatabricksSqlConnector/2.1.0 (Node.js 20)',
        'x-databricks-org-id': '1234567890123456',
      });
    });

    it('sends whatever headers a custom auth scheme produces, without requiring Authorization', async () => {
      const target = makeTarget({ getAuthHeaders: async () => ({ 'X-Custom-Auth': 'abc', 'X-Tenant': 't1' }) });
      await exporter({}, target).export([log()]);
      expect(request(0).headers).to.include({ 'X-Custom-Auth': 'abc', 'X-Tenant': 't1' });
      expect(request(0).headers).not.to.have.property('Authorization');
      expect(breaker.successes).to.equal(1);
    });

    it('ignores non-string header values and non-object header sets', async () => {
      const target = makeTarget({ getAuthHeaders: async () => ({ Good: 'yes', Bad: 42 }) as any });
      await exporter({}, target).export([log()]);
      expect(request(0).headers).to.include({ Good: 'yes' }).and.not.to.have.property('Bad');

      const weird = makeTarget({ getAuthHeaders: async () => 'Bearer x' as any });
      await exporter({}, weird).export([log()]);
      expect(Object.keys(request(1).headers).sort()).to.deep.equal(['Accept', 'Content-Type', 'User-Agent']);
    });

    it('should format payload correctly and include workspace_id and session_id', async () => {
      await exporter().export([log(), log({ kind: 'connection', statementId: undefined })]);
      const sent = body(0);
      expect(sent.uploadTime).to.equal(1760000000500);
      expect(sent.items).to.deep.equal([]);
      expect(sent.protoLogs).to.have.length(2);
      const first = JSON.parse(sent.protoLogs[0]);
      expect(first.workspace_id).to.equal(1234567890123456);
      expect(first.entry.sql_driver_log.session_id).to.equal(SESSION_ID);
      expect(first.context.client_context.user_agent).to.equal('NodejsDatabricksSqlConnector/2.1.0 (Node.js 20)');
    });

    it('should use connection provider from context: the context, timeout and an abort signal go to httpRequest', async () => {
      await exporter({ requestTimeoutMs: 1234 }).export([log()]);
      expect(http.getCall(0).args[0]).to.equal(context);
      expect(request(0).timeoutMs).to.equal(1234);
      expect(request(0).signal).to.be.instanceOf(AbortSignal);
    });

    it('sends nothing for an empty batch', async () => {
      await exporter().export([]);
      expect(http.called).to.be.false;
    });
  });

  describe('unauthenticated export', () => {
    it('DatabricksTelemetryExporter_ExportAsync_Unauthenticated_UsesCorrectEndpoint: no credentials at all', async () => {
      const getAuthHeaders = sinon.spy(async () => ({ Authorization: 'Bearer test-token' }));
      await exporter({}, makeTarget({ orgId: '42', getAuthHeaders })).export([
        log({ kind: 'error', errorName: 'AuthenticationError', unauthenticated: true }),
      ]);
      expect(http.callCount).to.equal(1);
      expect(request(0).url).to.equal('https://example.cloud.databricks.com:443/telemetry-unauth');
      expect(request(0).headers).to.deep.equal({
        'Content-Type': 'application/json',
        Accept: 'application/json',
        'User-Agent': 'NodejsDatabricksSqlConnector/2.1.0 (Node.js 20)',
      });
      expect(getAuthHeaders.called).to.be.false;
      expect(request(0).body).not.to.match(/session_id|workspace_id|sql_statement_id|1234567890123456/);
    });

    it('splits a mixed batch between the two endpoints', async () => {
      await exporter().export([log(), log({ unauthenticated: true }), log()]);
      expect(http.callCount).to.equal(2);
      expect(request(0).url).to.match(/\/telemetry-ext$/);
      expect(body(0).protoLogs).to.have.length(2);
      expect(request(1).url).to.match(/\/telemetry-unauth$/);
      expect(body(1).protoLogs).to.have.length(1);
    });

    it('authenticatedExport: false sends everything unauthenticated', async () => {
      await exporter({ authenticatedExport: false }).export([log(), log()]);
      expect(http.callCount).to.equal(1);
      expect(request(0).url).to.match(/\/telemetry-unauth$/);
      expect(request(0).headers).not.to.have.property('Authorization');
      expect(request(0).body).not.to.contain(SESSION_ID);
    });
  });

  describe('retries', () => {
    it('DatabricksTelemetryExporter_ExportAsync_TransientFailure_Retries (503 then 200)', async () => {
      http.onFirstCall().resolves(response(503));
      const e = exporter({ maxRetries: 3 });
      const done = e.export([log()]);
      await clock.tickAsync(1000);
      await done;
      expect(http.callCount).to.equal(2);
      expect(breaker.failures).to.equal(1);
      expect(breaker.successes).to.equal(1);
      expect(e.getStats()).to.deep.equal({ requests: 2, logsDelivered: 1, logsDropped: 0, partialRejections: 0 });
      // The retry re-sends the same logs (same event ids), not new ones.
      expect(request(1).body).to.equal(request(0).body);
    });

    it('should retry on retryable errors (network errors, timeouts, 429/5xx)', async () => {
      for (const failure of [systemError('ECONNRESET'), systemError('ETIMEDOUT'), new Error('socket hang up')]) {
        http.reset();
        http.onFirstCall().rejects(failure);
        http.resolves(ok(1));
        const done = exporter().export([log()]);
        await clock.tickAsync(1000);
        await done;
        expect(http.callCount, failure.message).to.equal(2);
      }
      for (const status of [429, 500, 502, 504]) {
        http.reset();
        http.onFirstCall().resolves(response(status));
        http.resolves(ok(1));
        const done = exporter().export([log()]);
        await clock.tickAsync(1000);
        await done;
        expect(http.callCount, String(status)).to.equal(2);
      }
    });

    it('fetches fresh auth headers for every attempt', async () => {
      let n = 0;
      const target = makeTarget({ getAuthHeaders: async () => ({ Authorization: `Bearer token-${(n += 1)}` }) });
      http.onFirstCall().resolves(response(503));
      const done = exporter({}, target).export([log()]);
      await clock.tickAsync(1000);
      await done;
      expect(request(0).headers.Authorization).to.equal('Bearer token-1');
      expect(request(1).headers.Authorization).to.equal('Bearer token-2');
    });

    it('should not retry on terminal errors', async () => {
      for (const status of [400, 401, 403, 404]) {
        http.reset();
        http.resolves(response(status));
        const e = exporter({ maxRetries: 3 });
        await e.export([log(), log()]);
        expect(http.callCount, String(status)).to.equal(1);
        expect(e.getStats(), String(status)).to.include({ logsDropped: 2, logsDelivered: 0 });
      }
      expect(context.logger.has(/not retryable \(TelemetryHttpError HTTP 401\)/)).to.be.true;
    });

    it('does not retry unclassified failures (413, unknown errors)', async () => {
      http.resolves(response(413));
      await exporter().export([log()]);
      http.reset();
      http.rejects(new Error('weird'));
      await exporter().export([log()]);
      expect(http.callCount).to.equal(1);
    });

    it('DatabricksTelemetryExporter_ExportAsync_MaxRetries_DoesNotThrow: 1 + maxRetries attempts, then gives up', async () => {
      http.resolves(response(503));
      const e = exporter({ maxRetries: 2 });
      const done = e.export([log(), log(), log()]);
      await clock.tickAsync(10_000);
      await done;
      expect(http.callCount).to.equal(3);
      expect(breaker.failures).to.equal(3);
      expect(e.getStats()).to.deep.equal({ requests: 3, logsDelivered: 0, logsDropped: 3, partialRejections: 0 });
      expect(context.logger.has(/retries exhausted/)).to.be.true;
    });

    it('maxRetries 0 makes exactly one attempt', async () => {
      http.resolves(response(503));
      await exporter({ maxRetries: 0 }).export([log()]);
      expect(http.callCount).to.equal(1);
    });

    it('waits full-jitter exponential backoff: random * min(max, base * 2^attempt)', async () => {
      sinon.stub(Math, 'random').returns(0.5);
      http.resolves(response(503));
      const done = exporter({ maxRetries: 3, backoffBaseMs: 100, backoffMaxMs: 300 }).export([log()]);
      await clock.tickAsync(0);
      expect(http.callCount).to.equal(1);
      await clock.tickAsync(49); // 0.5 * 100
      expect(http.callCount).to.equal(1);
      await clock.tickAsync(1);
      expect(http.callCount).to.equal(2);
      await clock.tickAsync(99); // 0.5 * 200
      expect(http.callCount).to.equal(2);
      await clock.tickAsync(1);
      expect(http.callCount).to.equal(3);
      await clock.tickAsync(149); // 0.5 * min(300, 400)
      expect(http.callCount).to.equal(3);
      await clock.tickAsync(1);
      expect(http.callCount).to.equal(4);
      await done;
    });

    it("honours the server's Retry-After in seconds", async () => {
      http.onFirstCall().resolves(response(429, '', { 'retry-after': '2' }));
      const done = exporter({ retryAfterMaxMs: 10_000 }).export([log()]);
      await clock.tickAsync(1999);
      expect(http.callCount).to.equal(1);
      await clock.tickAsync(1);
      expect(http.callCount).to.equal(2);
      await done;
    });

    it('honours Retry-After as an HTTP date', async () => {
      // HTTP dates have whole seconds.
      const at = Math.ceil((Date.now() + 3000) / 1000) * 1000;
      http.onFirstCall().resolves(response(503, '', { 'retry-after': new Date(at).toUTCString() }));
      const done = exporter().export([log()]);
      await clock.tickAsync(at - Date.now() - 1);
      expect(http.callCount).to.equal(1);
      await clock.tickAsync(1);
      expect(http.callCount).to.equal(2);
      await done;
    });

    it('caps Retry-After at retryAfterMaxMs', async () => {
      http.onFirstCall().resolves(response(503, '', { 'retry-after': '3600' }));
      const done = exporter({ retryAfterMaxMs: 500 }).export([log()]);
      await clock.tickAsync(499);
      expect(http.callCount).to.equal(1);
      await clock.tickAsync(1);
      expect(http.callCount).to.equal(2);
      await done;
    });

    it('falls back to backoff for an unreadable Retry-After, and retries at once for a past date', async () => {
      sinon.stub(Math, 'random').returns(0);
      http.onFirstCall().resolves(response(503, '', { 'retry-after': 'soon, maybe' }));
      http.onSecondCall().resolves(response(503, '', { 'retry-after': new Date(0).toUTCString() }));
      const done = exporter().export([log()]);
      await clock.tickAsync(1);
      expect(http.callCount).to.equal(3);
      await done;
    });

    it('a request that outlives requestTimeoutMs counts as a retryable failure', async () => {
      http.onFirstCall().callsFake(() => new Promise<HttpResponse>(() => undefined));
      const done = exporter({ requestTimeoutMs: 5000 }).export([log()]);
      await clock.tickAsync(4999);
      expect(http.callCount).to.equal(1);
      await clock.tickAsync(1000 + 1);
      await done;
      expect(http.callCount).to.equal(2);
      expect(breaker.failures).to.equal(1);
    });
  });

  describe('circuit breaker', () => {
    it('should respect circuit breaker state: no request while it refuses', async () => {
      breaker.allowed = false;
      const e = exporter();
      await e.export([log(), log()]);
      expect(http.called).to.be.false;
      expect(e.getStats()).to.include({ requests: 0, logsDropped: 2 });
      expect(context.logger.has(/circuit breaker open/)).to.be.true;
    });

    it('a dead endpoint sees exactly `threshold` requests before the breaker opens', async () => {
      http.resolves(response(503));
      const real = new CircuitBreaker(context);
      const e = exporter(
        { circuitBreakerThreshold: 3, maxRetries: 10, circuitBreakerTimeoutMs: 60_000 },
        makeTarget(),
        real,
      );
      const first = e.export([log()]);
      await clock.tickAsync(60_000 - 1);
      await first;
      expect(http.callCount).to.equal(3);
      expect(real.getState()).to.equal(CircuitBreakerState.OPEN);

      await e.export([log()]);
      expect(http.callCount).to.equal(3);
      expect(e.getStats()).to.include({ requests: 3, logsDropped: 2 });
    });

    it('after the open period one trial request goes through and success closes it again', async () => {
      http.resolves(response(503));
      const real = new CircuitBreaker(context);
      const e = exporter(
        { circuitBreakerThreshold: 1, maxRetries: 0, circuitBreakerTimeoutMs: 1000, circuitBreakerSuccessThreshold: 1 },
        makeTarget(),
        real,
      );
      await e.export([log()]);
      expect(real.getState()).to.equal(CircuitBreakerState.OPEN);
      clock.tick(1000);
      http.resolves(ok(1));
      await e.export([log()]);
      expect(http.callCount).to.equal(2);
      expect(real.getState()).to.equal(CircuitBreakerState.CLOSED);
    });
  });

  describe('circuit breaker permits', () => {
    it('settles every permit it takes exactly once, whatever ends the attempt', async () => {
      const scenarios: Array<[string, () => Promise<unknown>]> = [
        ['success', () => exporter().export([log()])],
        [
          '503 then success',
          async () => {
            http.onFirstCall().resolves(response(503));
            const done = exporter().export([log()]);
            await clock.tickAsync(1000);
            return done;
          },
        ],
        [
          '401',
          () => {
            http.resolves(response(401));
            return exporter().export([log()]);
          },
        ],
        [
          'headers fail',
          () =>
            exporter({}, makeTarget({ getAuthHeaders: async () => Promise.reject(new Error('x')) })).export([log()]),
        ],
        [
          'shutdown mid-request',
          async () => {
            http.callsFake(hangUntilAborted);
            const e = exporter({ requestTimeoutMs: 60_000 });
            const done = e.export([log()]);
            await clock.tickAsync(10);
            e.shutdown();
            return done;
          },
        ],
        [
          'request timeout',
          async () => {
            http.callsFake(() => new Promise<HttpResponse>(() => undefined));
            const done = exporter({ requestTimeoutMs: 100, maxRetries: 0 }).export([log()]);
            await clock.tickAsync(100);
            return done;
          },
        ],
      ];
      for (const [label, run] of scenarios) {
        breaker = new BreakerFake();
        http.reset();
        http.resolves(ok(1));
        await run();
        expect(breaker.acquired, label).to.be.greaterThan(0);
        expect(breaker.outcomes, label).to.have.length(breaker.acquired);
      }
    });

    it('a shutdown during a request abandons its permit instead of failing it', async () => {
      http.callsFake(hangUntilAborted);
      const e = exporter({ requestTimeoutMs: 60_000 });
      const done = e.export([log()]);
      await clock.tickAsync(10);
      e.shutdown();
      await done;
      expect(breaker.outcomes).to.deep.equal(['abandon']);
    });

    it('503s, timeouts and network errors count against the host breaker', async () => {
      http.onCall(0).resolves(response(503));
      http.onCall(1).rejects(systemError('ECONNRESET'));
      http.onCall(2).callsFake(() => new Promise<HttpResponse>(() => undefined));
      const done = exporter({ maxRetries: 3, requestTimeoutMs: 1000 }).export([log()]);
      await clock.tickAsync(10_000);
      await done;
      expect(breaker.outcomes).to.deep.equal(['failure', 'failure', 'failure', 'success']);
    });

    it('a 401 or 403 does not count against the host breaker', async () => {
      for (const status of [401, 403]) {
        breaker = new BreakerFake();
        http.resolves(response(status));
        await exporter({ circuitBreakerThreshold: 1 }).export([log()]);
        expect(breaker.outcomes, String(status)).to.deep.equal(['abandon']);
      }
    });

    it('a credential refused `threshold` times pauses its own signed-in uploads for the open period, not /telemetry-unauth', async () => {
      http.resolves(response(401));
      const e = exporter({
        circuitBreakerThreshold: 3,
        circuitBreakerTimeoutMs: 60_000,
        circuitBreakerSuccessThreshold: 1,
      });
      for (let i = 0; i < 10; i += 1) {
        await e.export([log()]);
      }
      expect(http.callCount).to.equal(3);
      expect(context.logger.has(/credential refused by the server; paused/)).to.be.true;
      expect(breaker.failures).to.equal(0);

      http.resolves(ok(1));
      await e.export([log({ unauthenticated: true })]);
      expect(http.callCount).to.equal(4);
      expect(request(3).url).to.match(/\/telemetry-unauth$/);

      await clock.tickAsync(60_000 - 1);
      await e.export([log()]);
      expect(http.callCount).to.equal(4);
      await clock.tickAsync(1);
      await e.export([log()]);
      await e.export([log()]);
      expect(http.callCount).to.equal(6); // the trial succeeded and closed the credential's breaker
      expect(request(5).url).to.match(/\/telemetry-ext$/);
      expect(e.getStats()).to.include({ requests: 6, logsDelivered: 3, logsDropped: 11 });
    });

    describe('half-open host breaker shared by two credentials', () => {
      let host: CircuitBreaker;
      let pending: Array<(value: HttpResponse) => void>;

      beforeEach(async () => {
        context.config = {
          ...context.config,
          circuitBreakerThreshold: 1,
          circuitBreakerTimeoutMs: 1000,
          circuitBreakerSuccessThreshold: 2,
        };
        host = new CircuitBreaker(context);
        http.resolves(response(503));
        await exporter({ maxRetries: 0 }, makeTarget(), host).export([log()]);
        await clock.tickAsync(1000);
        expect(host.getState()).to.equal(CircuitBreakerState.HALF_OPEN);
        http.reset();
        pending = [];
        http.callsFake(() => new Promise<HttpResponse>((resolve) => pending.push(resolve)));
      });

      const credential = (key: string, overrides: Partial<TelemetryTarget> = {}) =>
        exporter({ maxRetries: 0 }, makeTarget({ credentialKey: key, ...overrides }), host);

      it('admits one trial at a time: the other credential is refused until it is settled', async () => {
        const a = credential('a');
        const b = credential('b');
        const first = a.export([log()]);
        await clock.tickAsync(0);
        await b.export([log(), log()]);
        const second = b.export([log()]);
        await clock.tickAsync(0);
        expect(http.callCount).to.equal(1);
        expect(b.getStats()).to.include({ requests: 0, logsDropped: 3 });

        pending[0](ok(1));
        await first;
        expect(host.getState()).to.equal(CircuitBreakerState.HALF_OPEN);
        await second;
        const third = b.export([log()]);
        await clock.tickAsync(0);
        expect(http.callCount).to.equal(2);
        pending[1](ok(1));
        await third;
        expect(host.getState()).to.equal(CircuitBreakerState.CLOSED);
      });

      it('a trial cut by shutdown frees the slot for the other credential', async () => {
        const a = credential('a');
        const b = credential('b');
        const cut = a.export([log()]);
        await clock.tickAsync(0);
        expect(host.isRequestAllowed()).to.be.false;
        a.shutdown();
        await cut;
        expect(host.getState()).to.equal(CircuitBreakerState.HALF_OPEN);
        const trial = b.export([log()]);
        await clock.tickAsync(0);
        expect(http.callCount).to.equal(2);
        pending[1](ok(1));
        await trial;
        expect(b.getStats()).to.include({ logsDelivered: 1 });
      });

      it('a trial whose auth headers fail frees the slot', async () => {
        const broken = credential('a', {
          getAuthHeaders: async () => Promise.reject(new Error('token refresh failed')),
        });
        await broken.export([log()]);
        expect(http.callCount).to.equal(0);
        const trial = credential('b').export([log()]);
        await clock.tickAsync(0);
        expect(http.callCount).to.equal(1);
        pending[0](ok(1));
        await trial;
      });

      it("a trial refused with 401 frees the slot without re-opening the host's breaker", async () => {
        const refused = credential('a').export([log()]);
        await clock.tickAsync(0);
        pending[0](response(401));
        await refused;
        expect(host.getState()).to.equal(CircuitBreakerState.HALF_OPEN);
        const trial = credential('b').export([log()]);
        await clock.tickAsync(0);
        expect(http.callCount).to.equal(2);
        pending[1](ok(1));
        await trial;
      });
    });
  });

  describe('responses', () => {
    it('partial success is counted and never re-sent', async () => {
      http.resolves(ok(1));
      const e = exporter({ maxRetries: 3 });
      const done = e.export([log(), log(), log()]);
      await clock.tickAsync(10_000);
      await done;
      expect(http.callCount).to.equal(1);
      expect(e.getStats()).to.deep.equal({ requests: 1, logsDelivered: 1, logsDropped: 2, partialRejections: 1 });
      expect(context.logger.has(/kept 1 of 3/)).to.be.true;
      expect(breaker.successes).to.equal(1);
    });

    it('a malformed 2xx body counts as delivered', async () => {
      for (const text of ['not json', '', 'null', '{"numProtoSuccess":"3"}', '{"numProtoSuccess":-1}', '[]']) {
        http.resolves(response(200, text));
        const e = exporter();
        await e.export([log(), log()]);
        expect(e.getStats(), text).to.include({ logsDelivered: 2, logsDropped: 0, partialRejections: 0 });
      }
      expect(context.logger.has(/unreadable success response/)).to.be.true;
    });

    it('a server claiming more than it was sent is capped', async () => {
      http.resolves(ok(50));
      const e = exporter();
      await e.export([log()]);
      expect(e.getStats()).to.include({ logsDelivered: 1, partialRejections: 0 });
    });

    it('a 204 with no body counts as delivered', async () => {
      http.resolves(response(204));
      const e = exporter();
      await e.export([log()]);
      expect(e.getStats().logsDelivered).to.equal(1);
    });
  });

  describe('shutdown', () => {
    it('aborts a hanging request and export resolves', async () => {
      http.callsFake(hangUntilAborted);
      const e = exporter({ requestTimeoutMs: 60_000 });
      const done = e.export([log()]);
      await clock.tickAsync(10);
      expect(http.callCount).to.equal(1);
      e.shutdown();
      await done;
      expect(request(0).signal?.aborted).to.be.true;
      expect(http.callCount).to.equal(1);
      expect(e.getStats()).to.include({ logsDropped: 1, logsDelivered: 0 });
    });

    it('ends the wait even when the request ignores its signal', async () => {
      http.callsFake(() => new Promise<HttpResponse>(() => undefined));
      const e = exporter({ requestTimeoutMs: 60_000 });
      const done = e.export([log()]);
      await clock.tickAsync(10);
      e.shutdown();
      await done;
      expect(http.callCount).to.equal(1);
    });

    it('cancels a backoff wait', async () => {
      http.resolves(response(503, '', { 'retry-after': '10' }));
      const e = exporter({ retryAfterMaxMs: 10_000 });
      const done = e.export([log()]);
      await clock.tickAsync(100);
      expect(clock.countTimers()).to.equal(1);
      e.shutdown();
      await done;
      expect(clock.countTimers()).to.equal(0);
      expect(http.callCount).to.equal(1);
    });

    it('cancels a hanging getAuthHeaders', async () => {
      const e = exporter({}, makeTarget({ getAuthHeaders: () => new Promise(() => undefined) }));
      const done = e.export([log()]);
      await clock.tickAsync(10);
      e.shutdown();
      await done;
      expect(http.called).to.be.false;
    });

    it('a shutdown while auth headers are fetched sends nothing usable', async () => {
      const target = makeTarget({
        getAuthHeaders: async () => {
          e.shutdown();
          return { Authorization: 'Bearer test-token' };
        },
      });
      const e = exporter({}, target);
      await e.export([log()]);
      expect(http.callCount <= 1 && (http.callCount === 0 || request(0).signal?.aborted)).to.be.true;
      expect(e.getStats()).to.include({ logsDelivered: 0, logsDropped: 1 });
    });

    it('is idempotent, and later exports resolve at once without a request', async () => {
      const e = exporter();
      e.shutdown();
      e.shutdown();
      await e.export([log()]);
      expect(http.called).to.be.false;
      expect(e.getStats().requests).to.equal(0);
    });

    it('leaves no timer behind after a normal export', async () => {
      await exporter().export([log()]);
      expect(clock.countTimers()).to.equal(0);
    });
  });

  describe('audit file', () => {
    let dir: string;
    let file: string;

    beforeEach(async () => {
      dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'dbsql-exporter-audit-'));
      file = path.join(dir, 'audit.jsonl');
    });

    afterEach(async () => {
      await fs.promises.rm(dir, { recursive: true, force: true });
    });

    /** The file's lines once it holds `count` of them (appends run on the real disk, not the fake clock). */
    async function auditLines(count: number): Promise<string[]> {
      for (let i = 0; i < 500; i += 1) {
        const text = await fs.promises.readFile(file, 'utf8').catch(() => '');
        const lines = text.split('\n').filter((line) => line !== '');
        if (lines.length >= count) {
          return lines;
        }
      }
      throw new Error(`audit file never reached ${count} lines`);
    }

    it('holds exactly the protoLogs sent, one line each, on both endpoints', async () => {
      await exporter({ auditFile: file }).export([log(), log({ unauthenticated: true }), log({ eventId: 'abcdef' })]);
      const sent = [...body(0).protoLogs, ...body(1).protoLogs];
      expect(sent).to.have.length(3);
      expect(await auditLines(3)).to.deep.equal(sent);
    });

    it('forceFlush settles once the file holds every log exported so far', async () => {
      const e = exporter({ auditFile: file });
      await e.export([log(), log({ eventId: 'abcdef' })]);
      await e.export([log({ eventId: 'fedcba' })]);
      await e.forceFlush();
      const lines = fs
        .readFileSync(file, 'utf8')
        .split('\n')
        .filter((line) => line !== '');
      expect(lines).to.deep.equal([...body(0).protoLogs, ...body(1).protoLogs]);
      expect(lines).to.have.length(3);
    });

    it('forceFlush settles at once without an audit file', async () => {
      const e = exporter();
      await e.export([log()]);
      let settled = false;
      e.forceFlush().then(() => (settled = true));
      await Promise.resolve();
      expect(settled).to.equal(true);
    });

    it('writes a batch once before its first attempt, whatever the outcome', async () => {
      http.resolves(response(503));
      const e = exporter({ auditFile: file, maxRetries: 2 });
      const done = e.export([log()]);
      await clock.tickAsync(5000);
      await done;
      expect(http.callCount).to.equal(3);
      http.resolves(ok(1));
      await e.export([log({ eventId: 'abcdef' })]);
      const lines = await auditLines(2);
      expect(lines).to.deep.equal([body(0).protoLogs[0], body(3).protoLogs[0]]);
    });

    it('writes nothing that is not sent (breaker open, shut down)', async () => {
      breaker.allowed = false;
      const e = exporter({ auditFile: file });
      await e.export([log()]);
      e.shutdown();
      breaker.allowed = true;
      await e.export([log()]);
      expect(http.callCount).to.equal(0);
      await new Promise((resolve) => fs.stat(file, resolve));
      expect(fs.existsSync(file)).to.equal(false);
    });

    it('a bad path costs one debug line and the upload goes on', async () => {
      const e = exporter({ auditFile: path.join(dir, 'missing', 'audit.jsonl') });
      await e.export([log()]);
      for (let i = 0; i < 500 && !context.logger.has(/audit file/); i += 1) {
        await fs.promises.stat(dir);
      }
      await e.export([log()]);
      expect(http.callCount).to.equal(2);
      expect(e.getStats().logsDelivered).to.equal(2);
      expect(context.logger.lines.filter((line) => /audit file/.test(line.message))).to.have.length(1);
    });

    it('is off when auditFile is empty', async () => {
      await exporter({ auditFile: '' }).export([log()]);
      expect(await fs.promises.readdir(dir)).to.be.empty;
    });
  });

  describe('failure isolation', () => {
    it('throwing getAuthHeaders drops the batch with a debug line and sends nothing about it', async () => {
      const syncThrow = makeTarget({
        getAuthHeaders: () => {
          throw new Error('token refresh failed for dapi-secret');
        },
      });
      const rejecting = makeTarget({ getAuthHeaders: async () => Promise.reject(new Error('oauth down')) });
      for (const target of [syncThrow, rejecting]) {
        const e = exporter({}, target);
        await e.export([log(), log()]);
        expect(e.getStats()).to.include({ requests: 0, logsDropped: 2 });
      }
      expect(http.called).to.be.false;
      expect(breaker.failures).to.equal(0);
      expect(context.logger.has(/authentication headers unavailable/)).to.be.true;
      expect(context.logger.has(/dapi-secret|oauth down/)).to.be.false;
    });

    it('a getAuthHeaders that never settles times out after requestTimeoutMs', async () => {
      const e = exporter(
        { requestTimeoutMs: 2000 },
        makeTarget({ getAuthHeaders: () => new Promise(() => undefined) }),
      );
      const done = e.export([log()]);
      await clock.tickAsync(2000);
      await done;
      expect(http.called).to.be.false;
      expect(e.getStats().logsDropped).to.equal(1);
    });

    it('a throwing logger does not stop delivery', async () => {
      sinon.stub(context.logger, 'log').throws(new Error('logger down'));
      http.onFirstCall().resolves(response(503));
      const e = exporter();
      const done = e.export([log(), 'junk' as any]);
      await clock.tickAsync(1000);
      await done;
      expect(e.getStats()).to.include({ logsDelivered: 1, logsDropped: 1 });
    });

    it('swallows all exceptions: export never rejects', async () => {
      const cases: Array<[string, () => Promise<void>]> = [
        [
          'httpRequest throws synchronously',
          () => {
            http.throws(new Error('sync'));
            return exporter().export([log()]);
          },
        ],
        [
          'getTelemetryConfig throws',
          () => {
            const e = exporter();
            sinon.stub(context, 'getTelemetryConfig').throws(new Error('config'));
            return e.export([log()]);
          },
        ],
        ['logs is not an array', () => exporter().export('logs' as any)],
        ['logs is undefined', () => exporter().export(undefined as any)],
        ['logs hold junk', () => exporter().export([null, 42, { kind: 'nope' }, log()] as any)],
        [
          'a log with a throwing getter',
          () => {
            const hostile = Object.defineProperty(log(), 'unauthenticated', {
              get: () => {
                throw new Error('getter');
              },
            });
            return exporter().export([hostile]);
          },
        ],
        [
          'the breaker throws',
          () => {
            const throwing = new BreakerFake();
            sinon.stub(throwing, 'tryAcquire').throws(new Error('breaker'));
            return exporter({}, makeTarget(), throwing).export([log()]);
          },
        ],
        ['an invalid maxRetries', () => exporter({ maxRetries: -1 }).export([log()])],
      ];
      for (const [label, run] of cases) {
        sinon.restore();
        http = sinon.stub(httpRequestModule, 'default').resolves(ok(1));
        context = new ClientContextStub();
        let outcome = 'resolved';
        try {
          await run();
        } catch {
          outcome = 'rejected';
        }
        expect(outcome, label).to.equal('resolved');
      }
    });

    it('counts unusable logs as dropped and sends the rest', async () => {
      const e = exporter();
      await e.export([null, log(), { kind: 'nope' }] as any);
      expect(body(0).protoLogs).to.have.length(1);
      expect(e.getStats()).to.include({ logsDelivered: 1, logsDropped: 2 });
    });

    it('an invalid maxRetries still counts the batch as dropped', async () => {
      const e = exporter({ maxRetries: NaN });
      await e.export([log()]);
      expect(http.called).to.be.false;
      expect(e.getStats().logsDropped).to.equal(1);
    });

    it('logs only at debug level and never the token', async () => {
      http.onFirstCall().resolves(response(503));
      http.onSecondCall().resolves(response(401));
      const done = exporter().export([log()]);
      await clock.tickAsync(1000);
      await done;
      expect(context.logger.lines.length).to.be.greaterThan(0);
      expect(context.logger.lines.every((line) => line.level === LogLevel.debug)).to.be.true;
      expect(context.logger.has(/test-token|Bearer/)).to.be.false;
    });

    it('getStats returns a copy', () => {
      const e = exporter();
      const stats = e.getStats();
      stats.requests = 99;
      expect(e.getStats().requests).to.equal(0);
    });
  });
});
