import { expect } from 'chai';
import dns from 'dns';
import { createServer, request as httpsRequest, Server } from 'https';
import { AddressInfo } from 'net';
import tls from 'tls';
import sinon from 'sinon';
import { Emulator, startEmulator } from '../../../lib/emulator';
import { getCertificate } from '../../../lib/emulator/tls';
import TelemetryClientProvider from '../../../lib/telemetry/TelemetryClientProvider';
import { ForwardProxy } from '../../support/forwardProxy';
import { connectClient, RecordingLogger, RejectionWatch, sleep, waitFor } from './support';

/*
 * Privacy canary: unique secrets go everywhere an application can put them (SQL text, query
 * parameters, the token, the user-agent entry, the host name, the warehouse in the HTTP path,
 * metadata patterns, server error messages, the credentials of the forward proxy every connection
 * goes through); every kind of statement and failure runs; then no
 * byte sent to a telemetry endpoint may hold any of them, with one exception: the workspace's own
 * address and HTTP path, in exactly `driver_connection_params.host_info.host_url` and
 * `driver_connection_params.http_path` of signed-in connection logs sent to that same host. The
 * bytes are captured by an HTTPS proxy in front of the emulator, exactly as received (raw header
 * lines and body).
 */

const tag = Date.now().toString(36);
const PROXY_USER = `cnryproxyuser${tag}`;
const PROXY_PASSWORD = `cnryproxypassword${tag}`;
const CANARY = {
  sqlComment: `cnrysqlcomment${tag}`,
  invalidSql: `cnryinvalidsql${tag}`,
  namedParam: `cnrynamedparam${tag}`,
  ordinalParam: `cnryordinalparam${tag}`,
  token: `dapicnrytoken${tag}`,
  wrongToken: `dapicnrywrongtoken${tag}`,
  userAgent: `cnryuseragent${tag}`,
  host: `cnryhost${tag}.example`,
  warehouse: `cnrywarehouse${tag}`,
  table: `cnrytable${tag}`,
  schema: `cnryschema${tag}`,
  column: `cnrycolumn${tag}`,
  func: `cnryfunction${tag}`,
  cloudFetch: `cnrycloudfetch${tag}`,
  cancelled: `cnrycancelled${tag}`,
  proxyUser: PROXY_USER,
  proxyPassword: PROXY_PASSWORD,
  // As the Proxy-Authorization header carries them.
  proxyBasic: Buffer.from(`${PROXY_USER}:${PROXY_PASSWORD}`).toString('base64'),
};

interface Captured {
  method: string;
  path: string;
  /** Header lines exactly as received: [name, value]. */
  headers: Array<[string, string]>;
  body: Buffer;
}

const TELEMETRY_PATH = /^\/(telemetry-ext|telemetry-unauth|api\/2\.0\/connector-service\/feature-flags\/)/;

/** An HTTPS proxy that records every request (the driver's and telemetry's) and forwards it to the emulator. */
async function recordingProxy(emulator: Emulator): Promise<{ server: Server; port: number; captured: Captured[] }> {
  const certificate = await getCertificate();
  const captured: Captured[] = [];
  const server = createServer({ key: certificate.key, cert: certificate.cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const headers: Array<[string, string]> = [];
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        headers.push([req.rawHeaders[i], req.rawHeaders[i + 1]]);
      }
      const body = Buffer.concat(chunks);
      captured.push({ method: req.method ?? '', path: req.url ?? '', headers, body });
      const upstream = httpsRequest(
        {
          host: emulator.host,
          port: emulator.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
          ca: emulator.ca,
          servername: 'localhost',
        },
        (reply) => {
          res.writeHead(reply.statusCode ?? 502, reply.headers);
          reply.pipe(res);
        },
      );
      upstream.on('error', () => res.destroy());
      upstream.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return { server, port: (server.address() as AddressInfo).port, captured };
}

/** `"key":"value"` as it appears inside a `protoLogs` string of the raw body (quotes escaped). */
function rawField(key: string, value: string): string {
  return JSON.stringify(`${JSON.stringify(key)}:${JSON.stringify(value)}`).slice(1, -1);
}

function findCanaries(text: string): string[] {
  const lower = text.toLowerCase();
  return Object.entries(CANARY)
    .filter(([, value]) => lower.includes(value.toLowerCase()))
    .map(([name]) => name);
}

describe('proof: privacy canaries never reach a telemetry endpoint', function () {
  this.timeout(30000);

  let emulator: Emulator;
  let proxy: Awaited<ReturnType<typeof recordingProxy>>;
  let forward: ForwardProxy;
  const sandbox = sinon.createSandbox();

  before(async () => {
    // The canary host name resolves to loopback, and the emulator's certificate is accepted for it.
    const lookup = dns.lookup as unknown as (...args: unknown[]) => void;
    sandbox.stub(dns, 'lookup').callsFake(((hostname: string, options: unknown, callback?: unknown) => {
      const done = (typeof options === 'function' ? options : callback) as (...args: unknown[]) => void;
      const all = typeof options === 'object' && options !== null && (options as { all?: boolean }).all;
      if (hostname.toLowerCase() === CANARY.host) {
        return all ? done(null, [{ address: '127.0.0.1', family: 4 }]) : done(null, '127.0.0.1', 4);
      }
      return lookup(hostname, options, callback);
    }) as never);
    const check = tls.checkServerIdentity;
    sandbox
      .stub(tls, 'checkServerIdentity')
      .callsFake((hostname, cert) => (hostname.toLowerCase() === CANARY.host ? undefined : check(hostname, cert)));
    emulator = await startEmulator({ token: CANARY.token, warehouseId: CANARY.warehouse });
    proxy = await recordingProxy(emulator);
    forward = await ForwardProxy.start({ auth: { username: CANARY.proxyUser, password: CANARY.proxyPassword } });
    // Through a proxy the driver does not apply customCaCert: its tunnels trust the emulator's CA here.
    const connect = tls.connect;
    sandbox
      .stub(tls, 'connect')
      .callsFake(((options: unknown, ...rest: unknown[]) =>
        typeof options === 'object' && options !== null && (options as tls.ConnectionOptions).ca === undefined
          ? (connect as (...args: unknown[]) => tls.TLSSocket)({ ...options, ca: emulator.ca }, ...rest)
          : (connect as (...args: unknown[]) => tls.TLSSocket)(options, ...rest)) as never);
  });

  after(async () => {
    await new Promise<void>((resolve) => {
      proxy?.server.close(() => resolve());
      proxy?.server.closeAllConnections();
    });
    await forward?.close();
    await emulator?.close();
    sandbox.restore();
  });

  it('runs every kind of statement and failure; no canary in any telemetry byte', async () => {
    const provider = new TelemetryClientProvider();
    const logger = new RecordingLogger();
    const watch = new RejectionWatch();
    watch.install();
    const options = {
      host: CANARY.host,
      telemetryEnabled: true,
      telemetryFlushIntervalMs: 50,
      userAgentEntry: CANARY.userAgent,
      proxy: {
        protocol: 'http' as const,
        host: forward.host,
        port: forward.port,
        auth: { username: CANARY.proxyUser, password: CANARY.proxyPassword },
      },
    };
    const appErrors: string[] = [];
    const statementIds: string[] = [];
    try {
      const client = await connectClient({ emulator, logger, provider, port: proxy.port, options });
      const session = await client.openSession();
      const run = async (operation: Awaited<ReturnType<typeof session.executeStatement>>, expectedRows?: unknown[]) => {
        statementIds.push(operation.id);
        const rows = await operation.fetchAll();
        if (expectedRows) {
          expect(rows).to.deep.equal(expectedRows);
        }
        await operation.close();
        return rows;
      };
      const failing = async (promise: Promise<unknown>) => {
        try {
          await promise;
        } catch (error) {
          appErrors.push((error as Error).message);
          return;
        }
        expect.fail('expected a failure');
      };

      // Queries: SQL text, parameters, CloudFetch.
      await run(await session.executeStatement(`SELECT 1 /* ${CANARY.sqlComment} */`), [{ 1: 1 }]);
      await run(await session.executeStatement('SELECT 1', { namedParameters: { p: CANARY.namedParam } }), [{ 1: 1 }]);
      await run(await session.executeStatement('SELECT 1', { ordinalParameters: [CANARY.ordinalParam] }), [{ 1: 1 }]);
      const cloudFetchRows = await run(
        await session.executeStatement(
          `SELECT * FROM range(30000) /* emulator: format=cloudfetch chunks=3 */ -- ${CANARY.cloudFetch}`,
        ),
      );
      expect(cloudFetchRows).to.have.length(30000);

      // Metadata calls with canary patterns.
      await run(await session.getTypeInfo());
      await run(await session.getCatalogs());
      await run(await session.getSchemas({ schemaName: CANARY.schema }));
      await run(await session.getTables({ schemaName: CANARY.schema, tableName: CANARY.table }));
      await run(await session.getTableTypes());
      await run(
        await session.getColumns({ schemaName: CANARY.schema, tableName: CANARY.table, columnName: CANARY.column }),
      );
      await run(await session.getFunctions({ schemaName: CANARY.schema, functionName: CANARY.func }));

      // Invalid SQL: a server message naming the table, and a syntax error.
      await failing(
        session.executeStatement(`SELECT ${CANARY.column} FROM ${CANARY.table}`).then((op) => op.fetchAll()),
      );
      await failing(session.executeStatement(`${CANARY.invalidSql} nonsense`).then((op) => op.fetchAll()));

      // A cancelled statement.
      const slow = await session.executeStatement(`SELECT 5 /* emulator: sleep=3000 */ /* ${CANARY.cancelled} */`, {
        runAsync: true,
      });
      statementIds.push(slow.id);
      await slow.cancel();
      await failing(slow.fetchAll());
      await slow.close();

      // A failed openSession with a wrong token (reported unauthenticated).
      const wrong = await connectClient({
        emulator,
        logger,
        provider,
        port: proxy.port,
        options: { ...options, token: CANARY.wrongToken },
      });
      await failing(wrong.openSession());
      await wrong.close();

      await session.close();
      // Let the flush timer send what is pending, then close (which flushes the rest).
      const telemetryRequests = () => proxy.captured.filter((request) => TELEMETRY_PATH.test(request.path)).length;
      let seen = -1;
      await waitFor(
        () => {
          const now = telemetryRequests();
          const quiet = now === seen;
          seen = now;
          return quiet && emulator.telemetry.logs().length > 0;
        },
        10000,
        'telemetry to go quiet',
      );
      await sleep(200);
      await client.close();
    } finally {
      watch.uninstall();
    }

    // The canaries were really used: the driver sent them, and the server echoed the table name.
    const driverBytes = proxy.captured
      .filter((request) => !TELEMETRY_PATH.test(request.path))
      .map(
        (request) =>
          `${request.method} ${request.path}\n${request.headers.map(([name, value]) => `${name}: ${value}`).join('\n')}\n${request.body.toString('latin1')}`,
      )
      .join('\n');
    for (const name of [
      'sqlComment',
      'invalidSql',
      'namedParam',
      'ordinalParam',
      'token',
      'wrongToken',
      'userAgent',
      'host',
      'warehouse',
      'table',
      'schema',
      'column',
      'func',
      'cloudFetch',
      'cancelled',
    ]) {
      expect(findCanaries(driverBytes), `the driver itself sent ${name}`).to.include(name);
    }
    expect(
      appErrors.some((message) => message.includes(CANARY.table)),
      'a server error message holds the SQL text',
    ).to.equal(true);
    expect(appErrors).to.have.length(4);
    // The driver sent the proxy credentials too: every tunnel was opened with them.
    expect(forward.connects.length, 'CONNECTs through the forward proxy').to.be.at.least(1);
    expect(forward.connects.map((record) => record.proxyAuthorization)).to.deep.equal(
      forward.connects.map(() => `Basic ${CANARY.proxyBasic}`),
    );

    // Telemetry was really sent, for statements, errors and the failed session.
    const telemetry = proxy.captured.filter((request) => TELEMETRY_PATH.test(request.path));
    const ext = telemetry.filter((request) => request.path === '/telemetry-ext');
    const unauth = telemetry.filter((request) => request.path === '/telemetry-unauth');
    const flags = telemetry.filter((request) => request.path.startsWith('/api/2.0/connector-service/feature-flags/'));
    expect(ext.length, '/telemetry-ext uploads').to.be.at.least(1);
    expect(unauth.length, '/telemetry-unauth uploads (the failed openSession)').to.be.at.least(1);
    expect(flags.length, 'feature-flag fetches').to.be.at.least(1);
    const logs = emulator.telemetry.logs();
    const reported = new Set(
      logs.map(
        (log) =>
          (log as { entry?: { sql_driver_log?: { sql_statement_id?: string } } }).entry?.sql_driver_log
            ?.sql_statement_id,
      ),
    );
    for (const id of statementIds) {
      expect(reported.has(id), `statement ${id} reported`).to.equal(true);
    }
    expect(JSON.stringify(logs)).to.include('error_info');

    // The one exception: the workspace's address and path, in their own fields of signed-in
    // connection logs to that host (the connection's host and port: here the proxy's), nowhere else.
    const allowedHostUrl = rawField('host_url', `https://${CANARY.host}`);
    const allowedHttpPath = rawField('http_path', emulator.path);
    expect(emulator.path).to.include(CANARY.warehouse);
    let addressedLogs = 0;
    for (const request of ext) {
      for (const entry of (JSON.parse(request.body.toString('utf8')) as { protoLogs: string[] }).protoLogs) {
        const log = JSON.parse(entry) as { entry?: { sql_driver_log?: Record<string, any> } };
        const driverLog = log.entry?.sql_driver_log ?? {};
        const params = driverLog.driver_connection_params ?? {};
        if (!('http_path' in params) && !('host_info' in params)) {
          continue;
        }
        addressedLogs += 1;
        expect(driverLog, 'a log with the address is a connection log').to.include.keys(
          'session_id',
          'system_configuration',
        );
        expect(driverLog, 'a log with the address is a connection log').not.to.have.any.keys(
          'sql_statement_id',
          'error_info',
        );
        expect(params.http_path).to.equal(emulator.path);
        expect(params.host_info).to.deep.equal({ host_url: `https://${CANARY.host}`, port: proxy.port });
      }
    }
    expect(addressedLogs, 'connection logs naming the warehouse and host').to.be.at.least(1);

    // The proof: no canary in any byte of any telemetry request, but the credential and Host headers
    // and the address fields above.
    const leaks: string[] = [];
    const allowedSeen = { hostUrl: 0, httpPath: 0 };
    for (const request of telemetry) {
      const where = `${request.method} ${request.path}`;
      for (const found of findCanaries(`${request.method} ${request.path}`)) {
        leaks.push(`${where}: request line holds ${found}`);
      }
      for (const [name, value] of request.headers) {
        const lower = name.toLowerCase();
        if (lower === 'host') {
          expect(value.toLowerCase()).to.equal(`${CANARY.host}:${proxy.port}`);
          continue;
        }
        if (lower === 'authorization') {
          // Only signed-in endpoints carry the connection's own token; /telemetry-unauth never.
          expect(request.path, 'Authorization header on').to.not.equal('/telemetry-unauth');
          expect(value).to.equal(`Bearer ${CANARY.token}`);
          continue;
        }
        for (const found of findCanaries(`${name}: ${value}`)) {
          leaks.push(`${where}: header ${name} holds ${found}`);
        }
      }
      let body = request.body.toString('utf8');
      if (request.path === '/telemetry-ext') {
        const byHostUrl = body.split(allowedHostUrl);
        const byHttpPath = byHostUrl.join('').split(allowedHttpPath);
        allowedSeen.hostUrl += byHostUrl.length - 1;
        allowedSeen.httpPath += byHttpPath.length - 1;
        body = byHttpPath.join('');
      }
      for (const found of findCanaries(body)) {
        leaks.push(`${where}: body holds ${found}`);
      }
    }
    expect(leaks).to.deep.equal([]);
    // Each allowed occurrence is one of the connection logs checked above: one of each per log.
    expect(allowedSeen).to.deep.equal({ hostUrl: addressedLogs, httpPath: addressedLogs });
    expect(watch.reasons).to.deep.equal([]);
  });
});
