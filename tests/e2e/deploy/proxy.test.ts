import { spawn } from 'child_process';
import dns from 'dns';
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { connect as netConnect } from 'net';
import { tmpdir } from 'os';
import { join, resolve } from 'path';
import { expect } from 'chai';
import { Emulator, startEmulator } from '../../../lib/emulator';
import { getCertificate } from '../../../lib/emulator/tls';
import { ForwardProxy, Verdict } from '../../support/forwardProxy';
import { connectClient, connectionLogs, rejectionOf } from '../../support/harness';
import { FAST_TELEMETRY, maskIds } from '../proof/support';

/*
 * Our client through a real HTTP forward proxy (the `proxy` package) with the driver's `proxy`
 * option. The client runs in a child process that trusts the emulator's CA through
 * NODE_EXTRA_CA_CERTS (through a proxy the driver does not apply customCaCert), and it knows the
 * emulator by a name that only the proxy resolves: a request that bypassed the proxy could not
 * reach the emulator at all.
 */

const SCRIPT = resolve(__dirname, '../../support/proxiedClient.ts');
const HOST = 'proxied.emulator.test';
const HARD_LIMIT_MS = 15000;
const TELEMETRY_PATH = /^\/telemetry-(ext|unauth)/;

const EXPECTED_APP = {
  rows: [[{ 1: 1 }], [{ id: 0 }, { id: 1 }, { id: 2 }]],
  errors: ['[TABLE_OR_VIEW_NOT_FOUND] The table or view `missing_table` cannot be found.'],
};

interface LoggedLine {
  level: string;
  message: string;
}

interface ChildRun {
  code: number | null;
  sessionId: string;
  app: { rows: unknown[]; errors: string[] };
  closeMs: number;
  lines: LoggedLine[];
  rejections: string[];
}

interface RunSpec {
  proxy: ForwardProxy;
  auth?: { username: string; password: string };
  /** Telemetry options; default telemetry on with a short flush interval. */
  options?: Record<string, unknown>;
  /** Runs once the session is closed, before `client.close()`. */
  onSessionClosed?: () => void;
}

/** `-r` hooks this mocha run was given (the 1.x driver redirect), so the child loads the same driver. */
function hookArgs(): string[] {
  const hook = process.env.DBSQL_TELEMETRY_DRIVER_HOOK;
  return hook ? ['-r', hook] : [];
}

function resolves(name: string): Promise<boolean> {
  return new Promise((done) => {
    dns.lookup(name, (error) => done(!error));
  });
}

/** The status a CONNECT without credentials gets from the proxy. */
function bareConnectStatus(proxy: ForwardProxy, target: string): Promise<number> {
  return new Promise((done, fail) => {
    const socket = netConnect(proxy.port, proxy.host, () =>
      socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`),
    );
    socket.once('data', (data: Buffer) => {
      socket.destroy();
      done(Number(/^HTTP\/1\.1 (\d+)/.exec(data.toString('latin1'))?.[1]));
    });
    socket.once('error', fail);
  });
}

/** Lines above debug, ids masked and sorted, so two runs compare. */
function aboveDebug(run: ChildRun): string[] {
  return run.lines
    .filter((line) => line.level !== 'debug')
    .map((line) => `${line.level}: ${maskIds(line.message)}`)
    .sort();
}

/** Whether `text` holds `value` as a number of its own, not as part of a longer number or id. */
function holdsNumber(text: string, value: number): boolean {
  return new RegExp(`(?<![0-9a-z])${value}(?![0-9a-z])`, 'i').test(text);
}

describe('deploy e2e: through a real HTTP forward proxy', function () {
  this.timeout(20000);

  let emulator: Emulator;
  let caDir: string;
  let caFile: string;

  before(async () => {
    emulator = await startEmulator();
    caDir = mkdtempSync(join(tmpdir(), 'dbsql-proxy-ca-'));
    caFile = join(caDir, 'emulator-ca.pem');
    writeFileSync(caFile, emulator.ca);
  });

  after(async () => {
    await emulator?.close();
    if (caDir) {
      rmSync(caDir, { recursive: true, force: true });
    }
  });

  const hosts = (): Record<string, string> => ({ [HOST]: emulator.host });

  /** The workload in a child process, through `spec.proxy`; the emulator's counts and recordings are reset first. */
  function runProxied(spec: RunSpec): Promise<ChildRun> {
    emulator.resetRequestCounts();
    emulator.telemetry.clear();
    const connect = {
      host: HOST,
      port: emulator.port,
      path: emulator.path,
      token: emulator.token,
      proxy: {
        protocol: 'http',
        host: spec.proxy.host,
        port: spec.proxy.port,
        ...(spec.auth ? { auth: spec.auth } : {}),
      },
    };
    const options = spec.options ?? { telemetryEnabled: true, telemetryFlushIntervalMs: 50 };
    return new Promise((done, fail) => {
      const child = spawn(process.execPath, [...hookArgs(), '-r', 'ts-node/register/transpile-only', SCRIPT], {
        cwd: resolve(__dirname, '../../..'),
        env: { ...process.env, NODE_EXTRA_CA_CERTS: caFile, PROXIED_CLIENT: JSON.stringify({ connect, options }) },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      const run: ChildRun = {
        code: null,
        sessionId: '',
        app: { rows: [], errors: [] },
        closeMs: -1,
        lines: [],
        rejections: [],
      };
      let pending = '';
      let stderr = '';
      let failure = '';
      const onEvent = (event: Record<string, any>): void => {
        if (event.event === 'open') {
          run.sessionId = event.sessionId;
        } else if (event.event === 'sessionClosed') {
          spec.onSessionClosed?.();
          child.stdin.write('\n');
        } else if (event.event === 'result') {
          run.app = { rows: event.rows, errors: event.errors };
          run.closeMs = event.closeMs;
        } else if (event.event === 'logs') {
          run.lines = event.lines;
        } else if (event.event === 'rejection') {
          run.rejections.push(event.reason);
        } else if (event.event === 'failed') {
          failure = event.message;
        }
      };
      child.stdin.on('error', () => undefined);
      child.stdout.on('data', (part: Buffer) => {
        pending += part.toString();
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        lines.filter((line) => line.trim() !== '').forEach((line) => onEvent(JSON.parse(line)));
      });
      child.stderr.on('data', (part: Buffer) => {
        stderr += part.toString();
      });
      const killer = setTimeout(() => child.kill('SIGKILL'), HARD_LIMIT_MS);
      child.on('error', fail);
      child.on('close', (code) => {
        clearTimeout(killer);
        run.code = code;
        if (code !== 0 || run.closeMs < 0) {
          fail(new Error(`the proxied client failed (code ${code}): ${failure} ${stderr}`));
        } else {
          done(run);
        }
      });
    });
  }

  /** Every byte of every telemetry request the emulator accepted: path, headers and body. */
  function telemetryBytes(): string[] {
    return emulator.telemetry
      .requests()
      .map((request) => `${request.path}\n${JSON.stringify(request.headers)}\n${JSON.stringify(request.body)}`);
  }

  it('carries the Thrift calls, the feature-flag request and the uploads; reports use_proxy, never the proxy address', async () => {
    // The premise of the proof: here the emulator's name resolves through the proxy only.
    expect(await resolves(HOST), `${HOST} resolves without the proxy`).to.equal(false);
    const proxy = await ForwardProxy.start({ hosts: hosts() });
    try {
      const run = await runProxied({ proxy });
      expect(run.app).to.deep.equal(EXPECTED_APP);

      const counts = emulator.requestCounts();
      expect(counts.thriftMethods).to.include({ OpenSession: 1, ExecuteStatement: 3, CloseSession: 1 });
      expect(counts.featureFlags, 'feature-flag requests').to.be.at.least(1);
      expect(counts.telemetryExt, 'uploads').to.be.at.least(1);
      expect(proxy.targets()).to.not.be.empty;
      expect(new Set(proxy.targets())).to.deep.equal(new Set([`${HOST}:${emulator.port}`]));

      const [connection] = connectionLogs(emulator, run.sessionId);
      expect(connection?.driver_connection_params?.use_proxy, 'use_proxy in the connection log').to.equal(true);
      const bytes = telemetryBytes();
      expect(bytes).to.have.length(counts.telemetryExt);
      for (const text of bytes) {
        expect(text).to.not.include(proxy.host);
        expect(holdsNumber(text, proxy.port), `the proxy's port ${proxy.port} in ${text}`).to.equal(false);
      }
    } finally {
      await proxy.close();
    }
  });

  it('with basic authentication: every CONNECT carries the credentials, no telemetry byte does', async () => {
    const tag = Date.now().toString(36);
    const auth = { username: `proxyuser${tag}`, password: `proxysecret${tag}` };
    const basic = Buffer.from(`${auth.username}:${auth.password}`).toString('base64');
    const proxy = await ForwardProxy.start({ hosts: hosts(), auth });
    try {
      const run = await runProxied({ proxy, auth });
      expect(run.app).to.deep.equal(EXPECTED_APP);
      expect(emulator.requestCounts().telemetryExt, 'uploads').to.be.at.least(1);
      expect(proxy.connects).to.not.be.empty;
      expect(proxy.connects.map((record) => record.proxyAuthorization)).to.deep.equal(
        proxy.connects.map(() => `Basic ${basic}`),
      );
      // The credentials were needed: without them the proxy refuses.
      expect(await bareConnectStatus(proxy, `${HOST}:${emulator.port}`)).to.equal(407);

      for (const text of telemetryBytes().map((bytes) => bytes.toLowerCase())) {
        for (const secret of [auth.username, auth.password, basic]) {
          expect(text).to.not.include(secret.toLowerCase());
        }
      }
    } finally {
      await proxy.close();
    }
  });

  it('does not apply customCaCert through a proxy: a private CA has to come from NODE_EXTRA_CA_CERTS', async () => {
    // Documents a driver limit: when this starts failing, the driver trusts customCaCert through proxies and the docs can say so.
    const proxy = await ForwardProxy.start({ hosts: hosts() });
    emulator.resetRequestCounts();
    try {
      const client = await connectClient(emulator, {
        options: {
          host: HOST,
          telemetryEnabled: false,
          proxy: { protocol: 'http', host: proxy.host, port: proxy.port },
        },
      });
      const error = await rejectionOf(client.openSession());
      await client.close();
      expect(error.message).to.match(/self[- ]signed certificate/i);
      expect(proxy.targets()).to.include(`${HOST}:${emulator.port}`);
      expect(emulator.requestCounts().thrift).to.equal(0);
    } finally {
      await proxy.close();
    }
  });

  describe('the proxy refusing or dropping the telemetry requests', () => {
    let baseline: { run: ChildRun; connects: number; proxy: ForwardProxy };

    /**
     * A TLS-inspecting proxy: the CONNECT is still handled by the `proxy` package, but tunnels to
     * the emulator end at a server holding the emulator's certificate (which the child trusts),
     * so single requests can be refused or dropped by path. A plain tunnel cannot do that: the
     * driver and the uploads share one keep-alive pool of identical CONNECTs (see the last test).
     */
    async function inspectingProxy(): Promise<ForwardProxy> {
      const { key, cert } = await getCertificate();
      return ForwardProxy.start({
        hosts: hosts(),
        inspect: { upstream: { host: emulator.host, port: emulator.port }, key, cert, ca: emulator.ca },
      });
    }

    before(async () => {
      const proxy = await inspectingProxy();
      try {
        const run = await runProxied({ proxy, options: FAST_TELEMETRY });
        baseline = { run, connects: proxy.connects.length, proxy };
      } finally {
        await proxy.close();
      }
      expect(baseline.run.app).to.deep.equal(EXPECTED_APP);
      expect(
        baseline.proxy.inspected.filter((request) => request.path === '/telemetry-ext'),
        'uploads in the run without fault',
      ).to.not.be.empty;
    });

    /** What must hold whatever the proxy does to telemetry. */
    function expectHarmless(run: ChildRun): void {
      expect(run.app, 'rows and errors').to.deep.equal(baseline.run.app);
      expect(aboveDebug(run), 'lines above debug').to.deep.equal(aboveDebug(baseline.run));
      expect(run.rejections, 'unhandled rejections').to.deep.equal([]);
      expect(run.closeMs, 'close()').to.be.at.most(FAST_TELEMETRY.telemetryCloseTimeoutMs + 500);
    }

    for (const verdict of ['refuse', 'drop'] as Verdict[]) {
      const what = verdict === 'refuse' ? 'answers 403 to' : 'cuts the tunnel on';
      it(`the proxy ${what} every telemetry request: the application is unaffected, uploads stay bounded`, async () => {
        const proxy = await inspectingProxy();
        // Only telemetry paths are touched, so the policy can hold from the start.
        proxy.requestPolicy = (_method, path) => (TELEMETRY_PATH.test(path) ? verdict : 'pass');
        try {
          const run = await runProxied({ proxy, options: FAST_TELEMETRY });
          expectHarmless(run);
          const blocked = proxy.inspected.filter((request) => TELEMETRY_PATH.test(request.path));
          expect(blocked.length, 'telemetry requests tried').to.be.within(
            1,
            FAST_TELEMETRY.telemetryCircuitBreakerThreshold,
          );
          expect(blocked.every((request) => request.verdict === verdict)).to.equal(true);
          expect(emulator.requestCounts().featureFlags, 'the flag request passed, so uploads were due').to.be.at.least(
            1,
          );
          expect(emulator.requestCounts().telemetryExt).to.equal(0);
          // Each cut tunnel costs at most one new CONNECT.
          expect(proxy.connects.length, 'CONNECTs').to.be.at.most(baseline.connects + blocked.length);
        } finally {
          await proxy.close();
        }
      });
    }

    it('the proxy cuts every tunnel and refuses every CONNECT once the session is closed: close() stays bounded, so do the attempts', async () => {
      const proxy = await ForwardProxy.start({ hosts: hosts() });
      try {
        const run = await runProxied({
          proxy,
          // Everything waits for close(), which must open a new tunnel to upload.
          options: { ...FAST_TELEMETRY, telemetryFlushIntervalMs: 60000 },
          onSessionClosed: () => {
            proxy.connectPolicy = () => 'refuse';
            proxy.cutAll();
          },
        });
        expectHarmless(run);
        const refused = proxy.connects.filter((record) => record.verdict === 'refuse');
        expect(refused.length, 'refused CONNECTs').to.be.within(1, FAST_TELEMETRY.telemetryMaxRetries + 1);
        expect(emulator.requestCounts().telemetryExt).to.equal(0);
      } finally {
        await proxy.close();
      }
    });

    it('a CONNECT-level filter cannot single telemetry out: every CONNECT is the same request', () => {
      // Tunnels carried the driver's Thrift calls and the uploads alike...
      const paths = new Set(baseline.proxy.inspected.map((request) => request.path));
      expect([...paths]).to.include.members([emulator.path, '/telemetry-ext']);
      // ...and nothing in the CONNECTs that opened them tells them apart: a target and two fixed headers.
      expect(baseline.connects).to.be.at.least(1);
      expect(new Set(baseline.proxy.connects.map((record) => record.request))).to.deep.equal(
        new Set([
          `CONNECT ${HOST}:${emulator.port} HTTP/1.1\nHost: ${HOST}:${emulator.port}\nProxy-Connection: Keep-Alive\n`,
        ]),
      );
    });
  });
});
