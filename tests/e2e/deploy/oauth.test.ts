import { expect } from 'chai';
import sinon from 'sinon';
import DatabricksOAuth from '@databricks/sql/dist/connection/auth/DatabricksOAuth';
import AuthorizationCode from '@databricks/sql/dist/connection/auth/DatabricksOAuth/AuthorizationCode';
import OAuthToken from '@databricks/sql/dist/connection/auth/DatabricksOAuth/OAuthToken';
import { DBSQLClient } from '../../../lib';
import {
  Emulator,
  FaultStep,
  OAUTH_HOST,
  RecordedTelemetryRequest,
  routeHostToEmulator,
  startEmulator,
} from '../../../lib/emulator';
import TelemetryClientProvider from '../../../lib/telemetry/TelemetryClientProvider';
import {
  connectClient,
  connectionLogs,
  driverLog,
  RecordingLogger,
  rejectionOf,
  runQuery,
  sleep,
  waitFor,
} from '../../support/harness';
import { request } from '../emulator/http';

/** What a token in an upload's Authorization header is, as the emulator issued it. */
const bearerOf = (upload: RecordedTelemetryRequest) =>
  String(upload.headers.authorization ?? '').replace(/^Bearer /, '');

const signedIn = (emulator: Emulator) =>
  emulator.telemetry.requests().filter((upload) => upload.path === '/telemetry-ext');

/** Telemetry lines above debug: the house rule allows none. */
const loudTelemetryLines = (logger: RecordingLogger) =>
  logger
    .aboveDebug()
    .map((line) => line.message)
    .filter((message) => /telemetry/i.test(message));

function m2m(emulator: Emulator, host = OAUTH_HOST): Record<string, unknown> {
  return {
    host,
    authType: 'databricks-oauth',
    oauthClientId: emulator.oauth.clientId,
    oauthClientSecret: emulator.oauth.clientSecret,
  };
}

/** An in-memory token store, as an application passes the driver to keep a user signed in. */
function storedSignIn(token?: { accessToken: string; refreshToken: string }) {
  const tokens = new Map<string, OAuthToken>();
  return {
    persistence: {
      read: async (host: string) =>
        tokens.get(host) ??
        (token ? new OAuthToken(token.accessToken, token.refreshToken, ['sql', 'offline_access']) : undefined),
      persist: async (host: string, value: OAuthToken) => {
        tokens.set(host, value);
      },
    },
  };
}

/** openSession() with the token endpoint misbehaving from the start; how long the application waited. */
const failingSignIn =
  (fault: FaultStep, waited: Record<string, number>) => async (emulator: Emulator, client: DBSQLClient) => {
    emulator.faults.set('oauth', { ...fault, times: 'forever' });
    const started = Date.now();
    const error = await rejectionOf(client.openSession());
    waited[emulator.url] = Date.now() - started;
    return { error };
  };

describe('deploy: OAuth sign-in with telemetry on', function () {
  // The hanging token endpoint costs the driver's own request timeout (a few seconds).
  this.timeout(20000);

  const emulators: Emulator[] = [];
  const unroutes: (() => void)[] = [];
  const sandbox = sinon.createSandbox();

  afterEach(async () => {
    sandbox.restore();
    unroutes.splice(0).forEach((undo) => undo());
    await Promise.all(emulators.splice(0).map((emulator) => emulator.close()));
  });

  /** An emulator answering for `host`, closed and unrouted after the test. */
  async function emulatorFor(options: Parameters<typeof startEmulator>[0] = {}, host = OAUTH_HOST): Promise<Emulator> {
    const emulator = await startEmulator(options);
    emulators.push(emulator);
    unroutes.push(routeHostToEmulator(emulator, host));
    return emulator;
  }

  interface Outcome {
    error?: Error;
    closeMs: number;
    emulator: Emulator;
    logger: RecordingLogger;
  }

  /**
   * The same scenario with telemetry on and off, side by side on two emulators (each under a host
   * name of its own), so their request counts and timings can be compared.
   */
  async function onAndOff(
    scenario: (emulator: Emulator, client: DBSQLClient) => Promise<{ error?: Error }>,
    oauth: { tokenTtlSeconds?: number } = {},
  ) {
    const run = async (telemetryEnabled: boolean): Promise<Outcome> => {
      const host = `${telemetryEnabled ? 'on' : 'off'}.${OAUTH_HOST}`;
      const emulator = await emulatorFor({ oauth }, host);
      const logger = new RecordingLogger();
      const client = await connectClient(emulator, { logger, options: { ...m2m(emulator, host), telemetryEnabled } });
      const { error } = await scenario(emulator, client);
      const closing = Date.now();
      await client.close();
      const closeMs = Date.now() - closing;
      // A request telemetry started late would have arrived by now.
      await sleep(150);
      return { error, closeMs, emulator, logger };
    };
    const [on, off] = await Promise.all([run(true), run(false)]);
    return { on, off };
  }

  it('machine-to-machine: queries run, and every upload carries the token the connection holds, across renewals', async () => {
    const emulator = await emulatorFor({ oauth: { tokenTtlSeconds: 1 } });
    const logger = new RecordingLogger();
    const client = await connectClient(emulator, { logger, options: m2m(emulator) });
    const session = await client.openSession();
    const statementIds: string[] = [];
    const started = Date.now();
    // Longer than the first token can live (two seconds at most): the driver renews at least once.
    while (Date.now() - started < 2500) {
      const { rows, operation } = await runQuery(session, 'SELECT 1');
      expect(rows).to.have.length(1);
      statementIds.push(operation.id);
      await sleep(100);
    }
    await session.close();
    await client.close();

    const issued = emulator.oauth.tokens().map((token) => token.accessToken);
    expect(issued.length, 'tokens the driver obtained').to.be.at.least(2);
    const uploads = signedIn(emulator);
    expect(emulator.requestCounts().telemetryExt, 'uploads refused by the workspace').to.equal(uploads.length);
    const order = uploads.map((upload) => issued.indexOf(bearerOf(upload)));
    expect(order, 'each upload carries an issued token').not.to.include(-1);
    // Never an older token after a newer one: each upload used what the connection had then.
    expect(order).to.deep.equal([...order].sort((a, b) => a - b));
    expect(new Set(order).size, 'uploads before and after a renewal').to.be.at.least(2);
    const reported = new Set(emulator.telemetry.logs().map((log) => driverLog(log).sql_statement_id));
    // A batch ready after its token expired and before the driver renewed it has no usable
    // credentials: it is dropped with a debug line, never sent with the expired token.
    const dropped = logger.lines
      .map((line) => /telemetry export: dropped (\d+) logs: authentication headers unavailable/.exec(line.message))
      .reduce((sum, match) => sum + (match ? Number(match[1]) : 0), 0);
    expect(
      statementIds.filter((id) => !reported.has(id)).length,
      'statements neither reported nor dropped at debug level',
    ).to.be.at.most(dropped);
    expect(statementIds.filter((id) => reported.has(id)).length, 'statements reported').to.be.at.least(
      statementIds.length / 2,
    );
    // The first token has expired by now: uploads passed on the current one, not on a lax check.
    const stale = await request(emulator, {
      method: 'POST',
      path: '/telemetry-ext',
      headers: { Authorization: `Bearer ${issued[0]}`, 'Content-Type': 'application/json' },
      body: '{"protoLogs":[]}',
    });
    expect(stale.status).to.equal(401);
    expect(loudTelemetryLines(logger)).to.deep.equal([]);
  });

  for (const [name, fault] of [
    ['fails (503)', { kind: 'status', status: 503 }],
    ['hangs', { kind: 'hang' }],
  ] as const) {
    it(`a token endpoint that ${name}: the application sees what it sees with telemetry off, and telemetry never signs in itself`, async () => {
      const waited: Record<string, number> = {};
      const { on, off } = await onAndOff(failingSignIn(fault, waited));
      expect(on.error?.name).to.equal(off.error?.name);
      expect(on.error?.message).to.equal(off.error?.message);
      // Margins for a shared machine; a sign-in of telemetry's own would cost far more (a hung request, a close deadline).
      expect(waited[on.emulator.url], 'openSession() ms').to.be.below(waited[off.emulator.url] + 400);
      expect(on.closeMs, 'close() ms').to.be.below(off.closeMs + 400);
      const [onCounts, offCounts] = [on.emulator.requestCounts(), off.emulator.requestCounts()];
      expect(onCounts.oauthToken, 'token requests').to.equal(offCounts.oauthToken).and.to.be.at.least(1);
      expect(onCounts.oauthDiscovery, 'discovery requests').to.equal(offCounts.oauthDiscovery);
      // Nothing was signed in, and the host's flag was never known: nothing to upload (see docs/TELEMETRY.md).
      expect(onCounts.telemetryExt + onCounts.telemetryUnauth, 'uploads').to.equal(0);
      expect(loudTelemetryLines(on.logger)).to.deep.equal([]);
    });
  }

  it('a token that expires while the token endpoint fails: the next call fails as without telemetry, no token request is added, no upload carries the expired token', async () => {
    const expiredMidRun = async (emulator: Emulator, client: DBSQLClient) => {
      const session = await client.openSession();
      await runQuery(session, 'SELECT 1');
      emulator.faults.set('oauth', { kind: 'status', status: 503, times: 'forever' });
      const { expiresAt } = emulator.oauth.tokens().at(-1)!;
      // Past the expiry and the emulator's grace: the driver must renew, and cannot.
      await sleep(Math.max(0, expiresAt - Date.now()) + 400);
      const error = await rejectionOf(runQuery(session, 'SELECT 1'));
      // Still connected while the failure's log is uploaded (errors go at once).
      await sleep(300);
      await session.close().catch(() => undefined);
      return { error };
    };
    const { on, off } = await onAndOff(expiredMidRun, { tokenTtlSeconds: 1 });
    expect(on.error?.name).to.equal(off.error?.name);
    expect(on.emulator.requestCounts().oauthToken, 'token requests').to.equal(off.emulator.requestCounts().oauthToken);
    expect(on.closeMs, 'close() ms').to.be.below(off.closeMs + 400);
    const uploads = signedIn(on.emulator);
    expect(uploads.length, 'logs from before the expiry').to.be.at.least(1);
    expect(on.emulator.requestCounts().telemetryExt, 'uploads refused (an expired token sent)').to.equal(
      uploads.length,
    );
    // The failed statement's log has no usable credentials left: dropped, at debug level only.
    expect(
      on.logger.lines.some((line) =>
        /telemetry export: dropped \d+ logs: authentication headers unavailable/.test(line.message),
      ),
    ).to.equal(true);
    expect(loudTelemetryLines(on.logger)).to.deep.equal([]);
  });

  it('once the host flag is known, a session open whose sign-in fails is reported on /telemetry-unauth without credentials', async () => {
    const emulator = await emulatorFor();
    const provider = new TelemetryClientProvider();
    // A healthy connection to the same host first: the flag is then known to be on.
    const healthy = await connectClient(emulator, { provider, options: { host: OAUTH_HOST } });
    const session = await healthy.openSession();
    await runQuery(session, 'SELECT 1');
    await waitFor(() => signedIn(emulator));
    emulator.faults.set('oauth', { kind: 'status', status: 503, times: 'forever' });
    const failing = await connectClient(emulator, { provider, options: m2m(emulator) });
    try {
      await rejectionOf(failing.openSession());
      const unauth = await waitFor(() =>
        emulator.telemetry.requests().filter((upload) => upload.path === '/telemetry-unauth'),
      );
      expect(unauth).to.have.length(1);
      expect(unauth[0].headers.authorization).to.equal(undefined);
      expect(driverLog(unauth[0].logs[0]).error_info?.error_name).to.be.a('string').and.not.empty;
      expect(emulator.requestCounts().oauthToken, 'token requests (the driver alone)').to.equal(1);
    } finally {
      await failing.close();
      await session.close();
      await healthy.close();
    }
  });

  it('browser sign-in: connect() makes no auth call, and telemetry never starts the browser flow, even when the sign-in fails', async () => {
    // fetch() is where the driver starts its callback server and opens the browser.
    const browser = sandbox
      .stub(AuthorizationCode.prototype, 'fetch')
      .rejects(new Error('the user closed the sign-in window'));
    const authenticate = sandbox.spy(DatabricksOAuth.prototype, 'authenticate');
    // One after the other: the stub and the spy count for the whole process.
    const outcome = async (telemetryEnabled: boolean) => {
      const host = `${telemetryEnabled ? 'on' : 'off'}.${OAUTH_HOST}`;
      const emulator = await emulatorFor({}, host);
      browser.resetHistory();
      authenticate.resetHistory();
      const logger = new RecordingLogger();
      const client = await connectClient(emulator, {
        logger,
        options: { host, authType: 'databricks-oauth', ...storedSignIn(), telemetryEnabled },
      });
      // Longer than the flush interval: a timer started by connect() would have fired.
      await sleep(150);
      const afterConnect = { authenticate: authenticate.callCount, requests: emulator.requestCounts() };
      const error = await rejectionOf(client.openSession());
      await client.close();
      await sleep(150);
      return { afterConnect, error, browser: browser.callCount, counts: emulator.requestCounts(), logger };
    };
    const off = await outcome(false);
    const on = await outcome(true);
    expect(on.afterConnect.authenticate, 'auth calls during connect()').to.equal(0);
    expect(
      on.afterConnect.requests.oauthDiscovery + on.afterConnect.requests.oauthToken,
      'OAuth requests during connect()',
    ).to.equal(0);
    expect(on.error.message).to.equal(off.error.message);
    expect(off.browser, 'browser flows started by the application').to.equal(1);
    expect(on.browser, 'browser flows started with telemetry on').to.equal(off.browser);
    expect(on.counts.oauthDiscovery).to.equal(off.counts.oauthDiscovery);
    expect(on.counts.telemetryExt, 'uploads with credentials').to.equal(0);
    expect(loudTelemetryLines(on.logger)).to.deep.equal([]);
  });

  it('auth_type, auth_mech and auth_flow name each flow; browser sign-in from a stored token opens no browser and uploads carry the user token', async () => {
    const emulator = await emulatorFor();
    const browser = sandbox.stub(AuthorizationCode.prototype, 'fetch').rejects(new Error('no browser in tests'));
    const user = emulator.oauth.signInUser();
    const flows = {
      pat: { options: { host: OAUTH_HOST }, expected: ['pat', 'PAT', 'TOKEN_PASSTHROUGH'] },
      m2m: { options: m2m(emulator), expected: ['oauth-m2m', 'OAUTH', 'CLIENT_CREDENTIALS'] },
      u2m: {
        options: { host: OAUTH_HOST, authType: 'databricks-oauth', ...storedSignIn(user) },
        expected: ['oauth-u2m', 'OAUTH', 'BROWSER_BASED_AUTHENTICATION'],
      },
    };
    const sessions: Record<string, string> = {};
    for (const [name, flow] of Object.entries(flows)) {
      const client = await connectClient(emulator, { options: flow.options });
      const session = await client.openSession();
      sessions[name] = session.id;
      await runQuery(session, 'SELECT 1');
      await session.close();
      await client.close();
    }
    for (const [name, flow] of Object.entries(flows)) {
      const [log] = connectionLogs(emulator, sessions[name]);
      expect(log, `${name} connection log`).to.not.equal(undefined);
      const params = log.driver_connection_params ?? {};
      expect([log.auth_type, params.auth_mech, params.auth_flow], name).to.deep.equal(flow.expected);
    }
    expect(browser.callCount, 'browser flows').to.equal(0);
    const userUploads = signedIn(emulator).filter((upload) => JSON.stringify(upload.logs).includes(sessions.u2m));
    expect(userUploads.length).to.be.at.least(1);
    expect(userUploads.map(bearerOf)).to.deep.equal(userUploads.map(() => user.accessToken));
  });
});
