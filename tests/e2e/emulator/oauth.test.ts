import { expect } from 'chai';
import { createHash, randomBytes } from 'crypto';
import https from 'https';
import sinon from 'sinon';
import { Emulator, OAUTH_HOST, routeHostToEmulator, startEmulator } from '../../../lib/emulator';
import { connect, query } from './driver';
import { json, request, uploadBody } from './http';

const FLAG_PATH = '/api/2.0/connector-service/feature-flags/NODEJS/2.1.0';

const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

const claims = (token: string) =>
  JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8')) as Record<string, unknown>;

describe('emulator: OAuth', () => {
  let emulator: Emulator;

  const tokenRequest = (form: Record<string, string>, authorization?: string, timeoutMs?: number) =>
    request(emulator, {
      method: 'POST',
      path: '/oidc/v1/token',
      headers: {
        'Content-Type': 'application/x-www-form-urlencoded',
        ...(authorization ? { Authorization: authorization } : {}),
      },
      body: new URLSearchParams(form).toString(),
      timeoutMs,
    });
  const clientCredentials = () =>
    tokenRequest(
      { grant_type: 'client_credentials', scope: 'all-apis' },
      basic(emulator.oauth.clientId, emulator.oauth.clientSecret),
    );
  const accessTokenOf = async () => json(await clientCredentials()).access_token as string;
  const bearer = (token: string) => ({ Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' });
  const upload = (token: string) =>
    request(emulator, { method: 'POST', path: '/telemetry-ext', headers: bearer(token), body: uploadBody(1) });
  const flags = (token: string) => request(emulator, { path: FLAG_PATH, headers: bearer(token) });

  before(async () => {
    emulator = await startEmulator({
      oauth: { clientId: 'sp-client', clientSecret: 's3cret/+ value', tokenTtlSeconds: 60 },
    });
  });

  after(async () => {
    await emulator.close();
  });

  beforeEach(() => {
    emulator.faults.clear();
    emulator.telemetry.clear();
    emulator.resetRequestCounts();
  });

  it('serves discovery on port 443 of a routed host name, naming its endpoints on that host', async () => {
    const undo = routeHostToEmulator(emulator);
    let response: { status: number; body: Buffer };
    try {
      // As the driver asks: the workspace's name, no port.
      response = await new Promise((resolve, reject) => {
        https
          .get(
            { host: OAUTH_HOST, path: '/oidc/.well-known/oauth-authorization-server', ca: emulator.ca, agent: false },
            (res) => {
              const parts: Buffer[] = [];
              res.on('data', (part: Buffer) => parts.push(part));
              res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts) }));
            },
          )
          .on('error', reject);
      });
    } finally {
      undo();
    }
    expect(response.status).to.equal(200);
    expect(JSON.parse(response.body.toString())).to.deep.include({
      issuer: `https://${OAUTH_HOST}/oidc`,
      token_endpoint: `https://${OAUTH_HOST}/oidc/v1/token`,
      authorization_endpoint: `https://${OAUTH_HOST}/oidc/v1/authorize`,
    });
    expect(emulator.requestCounts().oauthDiscovery).to.equal(1);
    const direct = json(await request(emulator, { path: '/oidc/.well-known/oauth-authorization-server' }));
    expect(direct.token_endpoint).to.equal(`${emulator.url}/oidc/v1/token`);
    expect(direct.grant_types_supported).to.include('client_credentials');
  });

  it('issues a short-lived JWT for client credentials (HTTP Basic or form) and refuses a wrong secret', async () => {
    const issuedBefore = emulator.oauth.tokens().length;
    const response = await clientCredentials();
    expect(response.status).to.equal(200);
    const body = json(response);
    expect(body).to.include({ token_type: 'Bearer', expires_in: 60, scope: 'all-apis' });
    const exp = claims(body.access_token as string).exp as number;
    // The driver renews from `exp` on: it must be about the lifetime away, in whole seconds.
    expect(exp * 1000 - Date.now()).to.be.within(59_000, 61_000);

    const form = await tokenRequest({
      grant_type: 'client_credentials',
      client_id: 'sp-client',
      client_secret: 's3cret/+ value',
    });
    expect(form.status).to.equal(200);
    const wrong = await tokenRequest({ grant_type: 'client_credentials' }, basic('sp-client', 'not-the-secret'));
    expect(wrong.status).to.equal(401);
    expect(json(wrong).error).to.equal('invalid_client');
    expect((await tokenRequest({ grant_type: 'password' }, basic('sp-client', 's3cret/+ value'))).status).to.equal(400);
    expect(emulator.oauth.tokens().length - issuedBefore).to.equal(2);
    expect(emulator.requestCounts().oauthToken).to.equal(4);
  });

  it('accepts an issued token like the PAT on telemetry, feature flags and the warehouse, and records which token each upload carried', async () => {
    const token = await accessTokenOf();
    expect((await upload(token)).status).to.equal(200);
    expect((await flags(token)).status).to.equal(200);
    expect((await upload(emulator.token)).status, 'the PAT still works').to.equal(200);
    expect((await upload(`${token}x`)).status, 'a token it never issued').to.equal(401);
    expect((await flags('not-a-token')).status).to.equal(401);
    // On the warehouse, auth comes before the body is read as Thrift: 400 means the token passed.
    const thrift = (bearerToken: string) =>
      request(emulator, { method: 'POST', path: emulator.path, headers: bearer(bearerToken), body: 'not thrift' });
    expect((await thrift(token)).status).to.equal(400);
    expect((await thrift('not-a-token')).status).to.equal(401);
    expect(emulator.telemetry.requests().map((recorded) => recorded.headers.authorization)).to.deep.equal([
      `Bearer ${token}`,
      `Bearer ${emulator.token}`,
    ]);
  });

  it('rejects a token once it has expired (after a short grace), while a renewed one passes', async () => {
    const clock = sinon.useFakeTimers({ now: Date.now(), toFake: ['Date'] });
    try {
      emulator.oauth.setTokenTtl(1);
      const old = await accessTokenOf();
      const { expiresAt } = emulator.oauth.tokens().at(-1)!;
      clock.setSystemTime(expiresAt + 100);
      expect((await upload(old)).status, 'within the grace').to.equal(200);
      clock.setSystemTime(expiresAt + 1000);
      expect((await upload(old)).status, 'expired').to.equal(401);
      expect((await flags(old)).status).to.equal(401);
      const renewed = await accessTokenOf();
      expect((await upload(renewed)).status).to.equal(200);
      expect((await upload(old)).status, 'still expired after the renewal').to.equal(401);
    } finally {
      emulator.oauth.setTokenTtl(60);
      clock.restore();
    }
  });

  it('injects faults on the token endpoint (status, hang) and on discovery', async () => {
    const issuedBefore = emulator.oauth.tokens().length;
    emulator.faults.set('oauth', [{ kind: 'status', status: 503 }, { kind: 'hang' }]);
    expect((await clientCredentials()).status).to.equal(503);
    const hung = await tokenRequest(
      { grant_type: 'client_credentials' },
      basic('sp-client', 's3cret/+ value'),
      200,
    ).catch((error: Error) => error);
    expect(hung).to.be.instanceOf(Error).with.property('message', 'client timeout');
    expect((await clientCredentials()).status, 'then normal again').to.equal(200);
    emulator.faults.set('oauthDiscovery', { kind: 'status', status: 500 });
    expect((await request(emulator, { path: '/oidc/.well-known/oauth-authorization-server' })).status).to.equal(500);
    expect(emulator.oauth.tokens().length - issuedBefore, 'failed requests issue nothing').to.equal(1);
  });

  it('signs a user in with an authorization code and PKCE, then refreshes with a rotating refresh token', async () => {
    const verifier = randomBytes(32).toString('base64url');
    const redirectUri = 'http://localhost:8030';
    const authorize = async () => {
      const response = await request(emulator, {
        path: `/oidc/v1/authorize?${new URLSearchParams({
          response_type: 'code',
          client_id: 'databricks-sql-connector',
          redirect_uri: redirectUri,
          scope: 'sql offline_access',
          state: 'state-1',
          code_challenge: createHash('sha256').update(verifier).digest('base64url'),
          code_challenge_method: 'S256',
        })}`,
      });
      expect(response.status).to.equal(302);
      const location = new URL(String(response.headers.location));
      expect(location.origin).to.equal(redirectUri);
      expect(location.searchParams.get('state')).to.equal('state-1');
      return {
        grant_type: 'authorization_code',
        client_id: 'databricks-sql-connector',
        code: location.searchParams.get('code') ?? '',
        redirect_uri: redirectUri,
      };
    };

    const issuedBefore = emulator.oauth.tokens().length;
    const first = await authorize();
    expect((await tokenRequest({ ...first, code_verifier: 'wrong' })).status, 'wrong verifier').to.equal(400);
    expect(
      (await tokenRequest({ ...first, code_verifier: verifier })).status,
      'a code is spent by its first use',
    ).to.equal(400);

    const signedIn = await tokenRequest({ ...(await authorize()), code_verifier: verifier });
    expect(signedIn.status).to.equal(200);
    const { access_token: accessToken, refresh_token: refreshToken } = json(signedIn) as Record<string, string>;
    expect(refreshToken).to.be.a('string');
    expect((await upload(accessToken)).status).to.equal(200);

    const refresh = (token: string) =>
      tokenRequest({ grant_type: 'refresh_token', client_id: 'databricks-sql-connector', refresh_token: token });
    const refreshed = await refresh(refreshToken);
    expect(refreshed.status).to.equal(200);
    expect(json(refreshed).refresh_token).to.be.a('string').and.not.equal(refreshToken);
    expect((await upload(json(refreshed).access_token as string)).status).to.equal(200);
    expect((await refresh(refreshToken)).status, 'the old refresh token is spent').to.equal(400);
    expect(
      emulator.oauth
        .tokens()
        .slice(issuedBefore)
        .map((token) => token.grant),
    ).to.deep.equal(['authorization_code', 'refresh_token']);

    // signInUser() ends where the browser flow does.
    const user = emulator.oauth.signInUser();
    expect((await upload(user.accessToken)).status).to.equal(200);
    expect((await refresh(user.refreshToken)).status).to.equal(200);
  });

  it('connects the real driver with machine-to-machine OAuth: discovery once, then a token used on every Thrift call', async () => {
    const undo = routeHostToEmulator(emulator);
    try {
      const client = await connect(emulator, {
        host: OAUTH_HOST,
        authType: 'databricks-oauth',
        oauthClientId: emulator.oauth.clientId,
        oauthClientSecret: emulator.oauth.clientSecret,
      });
      try {
        const session = await client.openSession();
        expect(await query(session, 'SELECT 1')).to.have.length(1);
        await session.close();
      } finally {
        await client.close();
      }
      const counts = emulator.requestCounts();
      expect(counts).to.include({ oauthDiscovery: 1, oauthToken: 1 });
      expect(counts.thriftMethods.OpenSession).to.equal(1);
      expect(emulator.oauth.tokens().at(-1)?.grant).to.equal('client_credentials');
    } finally {
      undo();
    }
  });

  it('a driver with a wrong secret gets no session, and nothing it sends is accepted', async () => {
    const undo = routeHostToEmulator(emulator);
    try {
      const client = await connect(emulator, {
        host: OAUTH_HOST,
        authType: 'databricks-oauth',
        oauthClientId: 'sp-client',
        oauthClientSecret: 'wrong',
      });
      try {
        const error = await client.openSession().then(
          () => undefined,
          (failure: unknown) => failure,
        );
        expect(error).to.be.instanceOf(Error);
      } finally {
        await client.close();
      }
      expect(emulator.requestCounts().thrift, 'no Thrift call without a token').to.equal(0);
    } finally {
      undo();
    }
  });

  it('lists the client and issued tokens on the control API, and sets the lifetime there', async () => {
    const response = await request(emulator, { path: '/emulator/oauth' });
    expect(json(response)).to.include({ clientId: 'sp-client' });
    expect(
      (
        await request(emulator, {
          method: 'POST',
          path: '/emulator/oauth',
          body: JSON.stringify({ tokenTtlSeconds: 5 }),
        })
      ).status,
    ).to.equal(200);
    expect(json(await clientCredentials()).expires_in).to.equal(5);
    expect((await request(emulator, { method: 'POST', path: '/emulator/oauth', body: '{}' })).status).to.equal(400);
    emulator.oauth.setTokenTtl(60);
  });

  it('refuses invalid OAuth options before listening', async () => {
    const error = await startEmulator({ oauth: { tokenTtlSeconds: 0 } }).then(
      (started) => started.close().then(() => undefined),
      (failure: unknown) => failure,
    );
    expect(error).to.be.instanceOf(Error);
  });
});
