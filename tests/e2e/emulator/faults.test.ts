import { expect } from 'chai';
import { createServer } from 'net';
import { Emulator, startEmulator } from '../../../lib/emulator';
import { connect, query, withSession } from './driver';
import { authHeaders, json, request, uploadBody } from './http';

const FLAG_PATH = '/api/2.0/connector-service/feature-flags/NODEJS/2.1.0';
/** Fast driver retries, so retried faults do not cost seconds. */
const QUICK_RETRIES = { retryDelayMin: 10, retryDelayMax: 20 };

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  return expect.fail('expected a failure');
}

describe('emulator: fault injection', () => {
  let emulator: Emulator;
  const upload = (count = 1, timeoutMs?: number) =>
    request(emulator, {
      method: 'POST',
      path: '/telemetry-ext',
      headers: authHeaders(emulator),
      body: uploadBody(count),
      timeoutMs,
    });
  const flags = (timeoutMs?: number) =>
    request(emulator, { path: FLAG_PATH, headers: authHeaders(emulator), timeoutMs });

  before(async () => {
    emulator = await startEmulator();
  });

  after(async () => {
    await emulator.close();
  });

  beforeEach(() => {
    emulator.faults.clear();
    emulator.telemetry.clear();
    emulator.resetRequestCounts();
  });

  describe('telemetry', () => {
    it('fails 6 times, then succeeds', async () => {
      emulator.faults.set('telemetry', { kind: 'status', status: 503, times: 6 });
      const statuses = [];
      for (let i = 0; i < 7; i += 1) {
        statuses.push((await upload()).status);
      }
      expect(statuses).to.deep.equal([503, 503, 503, 503, 503, 503, 200]);
      expect(emulator.telemetry.logs()).to.have.length(1);
    });

    it('plays a mixed sequence: 429 with Retry-After, 500, 401, 403, 404, then normal', async () => {
      emulator.faults.set('telemetry', [
        { kind: 'status', status: 429, retryAfterSeconds: 2 },
        { kind: 'status', status: 500 },
        { kind: 'status', status: 401 },
        { kind: 'status', status: 403 },
        { kind: 'status', status: 404 },
      ]);
      const throttled = await upload();
      expect(throttled.status).to.equal(429);
      expect(throttled.headers['retry-after']).to.equal('2');
      const rest = [];
      for (let i = 0; i < 5; i += 1) {
        rest.push((await upload()).status);
      }
      expect(rest).to.deep.equal([500, 401, 403, 404, 200]);
    });

    it('reports a partial success and records only the accepted logs', async () => {
      emulator.faults.set('telemetry', { kind: 'partial', accepted: 2 });
      const response = await upload(5);
      expect(json(response)).to.include({ numProtoSuccess: 2, numSuccess: 2 });
      expect(emulator.telemetry.logs()).to.have.length(2);
    });

    it('delays, drips, resets, hangs and answers garbage', async () => {
      emulator.faults.set('telemetry', [
        { kind: 'delay', ms: 300 },
        { kind: 'drip', intervalMs: 2 },
        { kind: 'reset' },
        { kind: 'hang' },
        { kind: 'malformed' },
      ]);
      const delayed = await upload();
      expect(delayed.status).to.equal(200);
      expect(delayed.elapsedMs).to.be.at.least(290);
      const dripped = await upload();
      expect(json(dripped).numProtoSuccess).to.equal(1);
      expect(dripped.elapsedMs).to.be.at.least(dripped.body.length * 2 - 20);
      expect((await failure(upload())).message).to.match(/socket hang up|ECONNRESET/);
      expect((await failure(upload(1, 300))).message).to.equal('client timeout');
      const garbage = await upload();
      expect(garbage.status).to.equal(200);
      expect(() => json(garbage)).to.throw(SyntaxError);
      expect(emulator.telemetry.logs()).to.have.length(2);
    });

    it('keeps a fault forever until cleared', async () => {
      emulator.faults.set('telemetry', { kind: 'status', status: 503, times: 'forever' });
      for (let i = 0; i < 10; i += 1) {
        expect((await upload()).status).to.equal(503);
      }
      emulator.faults.clear('telemetry');
      expect((await upload()).status).to.equal(200);
    });

    it('rejects fault specs it cannot honour', () => {
      expect(() => emulator.faults.set('telemetry', { kind: 'status', status: 42 })).to.throw(/HTTP status/);
      expect(() => emulator.faults.set('telemetry', { kind: 'status', status: 500, times: -1 })).to.throw(/times/);
      expect(() => emulator.faults.set('telemetry', { kind: 'nope' } as never)).to.throw(/Unknown fault kind/);
    });
  });

  describe('feature flags', () => {
    it('fails, hangs and answers garbage, then recovers', async () => {
      emulator.faults.set('featureFlags', [
        { kind: 'status', status: 500, times: 2 },
        { kind: 'hang' },
        { kind: 'malformed' },
        { kind: 'delay', ms: 200 },
      ]);
      expect((await flags()).status).to.equal(500);
      expect((await flags()).status).to.equal(500);
      expect((await failure(flags(300))).message).to.equal('client timeout');
      const garbage = await flags();
      expect(() => json(garbage)).to.throw(SyntaxError);
      const slow = await flags();
      expect(slow.elapsedMs).to.be.at.least(190);
      expect(json(slow).flags).to.have.length(1);
      expect(emulator.requestCounts().featureFlags).to.equal(5);
    });
  });

  describe('CloudFetch downloads', () => {
    const cloudFetchQuery = '/* emulator: format=cloudfetch chunks=2 */ SELECT * FROM range(1000)';

    it('fails the statement when a file answers 404', async () => {
      emulator.faults.set('cloudFetch', { kind: 'status', status: 404 });
      const error = await failure(withSession(emulator, (session) => query(session, cloudFetchQuery)));
      expect(error.message).to.contain('CloudFetch HTTP error 404');
    });

    it('is retried by the driver after a 503 and a reset, then succeeds', async () => {
      emulator.faults.set('cloudFetch', [{ kind: 'status', status: 503 }, { kind: 'reset' }]);
      const rows = await withSession(emulator, (session) => query(session, cloudFetchQuery), QUICK_RETRIES);
      expect(rows).to.have.length(1000);
      expect(emulator.requestCounts().cloudFetch).to.equal(4);
    });

    it('delays and drips downloads without corrupting them', async () => {
      emulator.faults.set('cloudFetch', [
        { kind: 'delay', ms: 200 },
        { kind: 'drip', intervalMs: 0 },
      ]);
      const started = Date.now();
      const rows = await withSession(emulator, (session) =>
        query(session, '/* emulator: format=cloudfetch chunks=2 */ SELECT * FROM range(100)'),
      );
      expect(rows.map((row) => Number(row.id))).to.deep.equal(Array.from({ length: 100 }, (_, i) => i));
      expect(Date.now() - started).to.be.at.least(200);
    });

    it('fails the statement on a malformed file', async () => {
      emulator.faults.set('cloudFetch', { kind: 'malformed' });
      await failure(withSession(emulator, (session) => query(session, cloudFetchQuery)));
    });
  });

  describe('Thrift calls', () => {
    it('fails one RPC with a status the driver does not retry', async () => {
      emulator.faults.set('thrift:ExecuteStatement', { kind: 'status', status: 503 });
      await withSession(emulator, async (session) => {
        const error = await failure(query(session, 'SELECT 1'));
        expect(error.message).to.contain('503');
        expect(await query(session, 'SELECT 1')).to.deep.equal([{ 1: 1 }]);
      });
    });

    it('fails a retryable RPC twice; the driver retries and succeeds', async () => {
      emulator.faults.set('thrift:GetOperationStatus', { kind: 'status', status: 503, times: 2 });
      const rows = await withSession(
        emulator,
        (session) => query(session, '/* emulator: sleep=100 */ SELECT 1'),
        QUICK_RETRIES,
      );
      expect(rows).to.deep.equal([{ 1: 1 }]);
      expect(emulator.requestCounts().thriftMethods.GetOperationStatus).to.be.at.least(3);
    });

    it('drips, delays and answers garbage to any call', async () => {
      const client = await connect(emulator, { socketTimeout: 2000 });
      try {
        emulator.faults.set('thrift', [
          { kind: 'drip', intervalMs: 0 },
          { kind: 'delay', ms: 200 },
        ]);
        const session = await client.openSession();
        const started = Date.now();
        expect(await query(session, '/* emulator: direct=off */ SELECT 1')).to.deep.equal([{ 1: 1 }]);
        expect(Date.now() - started).to.be.at.least(200);
        emulator.faults.set('thrift', { kind: 'malformed' });
        await failure(session.executeStatement('SELECT 1'));
        emulator.faults.set('thrift', { kind: 'reset' });
        await failure(session.executeStatement('SELECT 1'));
        await session.close();
      } finally {
        await client.close();
      }
    });

    it('hangs a call until the driver gives up', async () => {
      const client = await connect(emulator, { socketTimeout: 300 });
      try {
        const session = await client.openSession();
        emulator.faults.set('thrift:ExecuteStatement', { kind: 'hang' });
        await failure(session.executeStatement('SELECT 1'));
        await session.close();
      } finally {
        await client.close();
      }
    });
  });

  it('close() ends hanging requests at once and frees the port', async () => {
    const own = await startEmulator();
    own.faults.set('telemetry', { kind: 'hang', times: 'forever' });
    const hanging = failure(
      request(own, { method: 'POST', path: '/telemetry-ext', headers: authHeaders(own), body: uploadBody(1) }),
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = Date.now();
    await own.close();
    await own.close();
    expect(Date.now() - started).to.be.below(2000);
    expect((await hanging).message).to.match(/socket hang up|ECONNRESET/);
    const probe = createServer();
    await new Promise<void>((resolve, reject) =>
      probe.once('error', reject).listen(own.port, own.host, () => resolve()),
    );
    await new Promise((resolve) => probe.close(resolve));
  });
});
