import { expect } from 'chai';
import { DEFAULT_ORG_ID, Emulator, NODEJS_TELEMETRY_FLAG, startEmulator } from '../../../lib/emulator';
import { authHeaders, json, request, uploadBody } from './http';

const FLAG_PATH = '/api/2.0/connector-service/feature-flags/NODEJS/2.1.0';

describe('emulator: telemetry collector and feature flags', () => {
  let emulator: Emulator;

  before(async () => {
    emulator = await startEmulator();
  });

  after(async () => {
    await emulator.close();
  });

  beforeEach(() => {
    emulator.telemetry.clear();
    emulator.resetRequestCounts();
  });

  it('records authenticated uploads and decodes their protoLogs', async () => {
    const response = await request(emulator, {
      method: 'POST',
      path: '/telemetry-ext',
      headers: authHeaders(emulator),
      body: uploadBody(3),
    });
    expect(response.status).to.equal(200);
    expect(json(response)).to.deep.equal({ errors: [], numSuccess: 3, numProtoSuccess: 3, numRealtimeSuccess: 3 });
    const [recorded] = emulator.telemetry.requests();
    expect(recorded.path).to.equal('/telemetry-ext');
    expect(recorded.headers.authorization).to.equal(`Bearer ${emulator.token}`);
    expect((recorded.body as { items: unknown[] }).items).to.deep.equal([]);
    expect(emulator.telemetry.logs()).to.deep.equal(
      [0, 1, 2].map((n) => ({ frontend_log_event_id: `log-${n}`, entry: { sql_driver_log: { n } } })),
    );
    expect(emulator.requestCounts().telemetryExt).to.equal(1);
  });

  it('refuses /telemetry-ext without the token and accepts /telemetry-unauth without one', async () => {
    const refused = await request(emulator, { method: 'POST', path: '/telemetry-ext', body: uploadBody(1) });
    expect(refused.status).to.equal(401);
    const accepted = await request(emulator, { method: 'POST', path: '/telemetry-unauth', body: uploadBody(2) });
    expect(json(accepted).numProtoSuccess).to.equal(2);
    expect(emulator.telemetry.requests().map((r) => r.path)).to.deep.equal(['/telemetry-unauth']);
    expect(emulator.requestCounts()).to.include({ telemetryExt: 1, telemetryUnauth: 1 });
  });

  it('answers the feature-flag endpoint with a settable value and TTL', async () => {
    const first = await request(emulator, { path: FLAG_PATH, headers: authHeaders(emulator) });
    expect(json(first)).to.deep.equal({ flags: [{ name: NODEJS_TELEMETRY_FLAG, value: 'true' }], ttl_seconds: 900 });
    emulator.featureFlag.set(false, 5);
    const second = await request(emulator, { path: FLAG_PATH, headers: authHeaders(emulator) });
    expect(json(second)).to.deep.equal({ flags: [{ name: NODEJS_TELEMETRY_FLAG, value: 'false' }], ttl_seconds: 5 });
    expect((await request(emulator, { path: FLAG_PATH })).status).to.equal(401);
    expect(emulator.requestCounts().featureFlags).to.equal(3);
    emulator.featureFlag.set(true, 900);
  });

  it('names its workspace in x-databricks-org-id on workspace responses, like a real one', async () => {
    const orgId = (response: { headers: Record<string, unknown> }) => response.headers['x-databricks-org-id'];
    expect(emulator.orgId).to.equal(DEFAULT_ORG_ID);
    const flags = await request(emulator, { path: FLAG_PATH, headers: authHeaders(emulator) });
    expect(orgId(flags)).to.equal(DEFAULT_ORG_ID);
    expect(orgId(await request(emulator, { path: FLAG_PATH }))).to.equal(DEFAULT_ORG_ID); // a 401 too
    const upload = await request(emulator, {
      method: 'POST',
      path: '/telemetry-ext',
      headers: authHeaders(emulator),
      body: uploadBody(1),
    });
    expect(orgId(upload)).to.equal(DEFAULT_ORG_ID);
    expect(orgId(await request(emulator, { method: 'POST', path: '/telemetry-unauth', body: uploadBody(1) }))).to.equal(
      DEFAULT_ORG_ID,
    );
    expect(
      orgId(
        await request(emulator, { method: 'POST', path: emulator.path, headers: authHeaders(emulator), body: 'x' }),
      ),
    ).to.equal(DEFAULT_ORG_ID);
    emulator.faults.set('featureFlags', { kind: 'status', status: 503 });
    expect(orgId(await request(emulator, { path: FLAG_PATH, headers: authHeaders(emulator) }))).to.equal(
      DEFAULT_ORG_ID,
    );
    emulator.faults.clear();
    // Not from cloud storage (CloudFetch files), nor on the emulator's own control API.
    expect(orgId(await request(emulator, { path: '/cloudfetch/00000000-0000-4000-8000-000000000000/0' }))).to.equal(
      undefined,
    );
    const control = await request(emulator, { path: '/emulator' });
    expect(orgId(control)).to.equal(undefined);
    expect(json(control).orgId).to.equal(DEFAULT_ORG_ID);
  });

  it('sends the org id it is given, or none', async () => {
    for (const [given, sent] of [
      ['9876543210987654', '9876543210987654'],
      ['not-an-id', 'not-an-id'],
      [null, undefined],
    ] as const) {
      const other = await startEmulator({ orgId: given });
      try {
        expect(other.orgId).to.equal(given);
        const response = await request(other, { path: FLAG_PATH, headers: authHeaders(other) });
        expect(response.headers['x-databricks-org-id'], String(given)).to.equal(sent);
      } finally {
        await other.close();
      }
    }
  });

  it('offers all of it through the JSON control API', async () => {
    const post = (path: string, body: unknown) =>
      request(emulator, { method: 'POST', path, body: JSON.stringify(body) });
    expect(json(await request(emulator, { path: '/emulator' })).path).to.equal(emulator.path);
    expect((await post('/emulator/feature-flag', { enabled: false, ttlSeconds: 1 })).status).to.equal(200);
    expect(json(await request(emulator, { path: FLAG_PATH, headers: authHeaders(emulator) })).ttl_seconds).to.equal(1);
    expect((await post('/emulator/feature-flag', { enabled: 'yes' })).status).to.equal(400);
    expect(
      (await post('/emulator/faults', { target: 'telemetry', sequence: [{ kind: 'status', status: 503 }] })).status,
    ).to.equal(200);
    expect((await post('/emulator/faults', { target: 'telemetry', sequence: { kind: 'explode' } })).status).to.equal(
      400,
    );
    const upload = () =>
      request(emulator, {
        method: 'POST',
        path: '/telemetry-ext',
        headers: authHeaders(emulator),
        body: uploadBody(1),
      });
    expect((await upload()).status).to.equal(503);
    expect((await upload()).status).to.equal(200);
    const recorded = json(await request(emulator, { path: '/emulator/telemetry' }));
    expect(recorded.logs).to.have.length(1);
    expect(json(await request(emulator, { path: '/emulator/requests' }))).to.include({
      telemetryExt: 2,
      featureFlags: 1,
    });
    await request(emulator, { method: 'DELETE', path: '/emulator/telemetry' });
    expect(emulator.telemetry.logs()).to.deep.equal([]);
    expect(
      (
        await post('/emulator/faults', {
          target: 'featureFlags',
          sequence: { kind: 'status', status: 500, times: 'forever' },
        })
      ).status,
    ).to.equal(200);
    await request(emulator, { method: 'DELETE', path: '/emulator/faults?target=featureFlags' });
    expect((await request(emulator, { path: FLAG_PATH, headers: authHeaders(emulator) })).status).to.equal(200);
    emulator.featureFlag.set(true, 900);
  });
});
