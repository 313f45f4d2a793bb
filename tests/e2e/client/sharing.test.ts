import { expect } from 'chai';
import sinon from 'sinon';
import { DBSQLClient } from '../../../lib';
import { Emulator, startEmulator } from '../../../lib/emulator';
import TelemetryClientProvider from '../../../lib/telemetry/TelemetryClientProvider';
import { MultiTokenProxy } from '../../support/authProxy';
import {
  connectClient,
  driverLog,
  rejectionOf,
  runQuery,
  sleep,
  statementLogs,
  waitFor,
  waitForStatementLogs,
} from '../../support/harness';
import { validateUpload } from '../../support/wireFormat';

interface UploadBody {
  protoLogs: string[];
}

function sessionIdsOf(body: Buffer | unknown): string[] {
  const parsed = (Buffer.isBuffer(body) ? JSON.parse(body.toString('utf8')) : body) as UploadBody;
  return parsed.protoLogs.map((text) => driverLog(JSON.parse(text)).session_id ?? '');
}

describe('client e2e: feature flag, shared clients and credentials', () => {
  let emulator: Emulator;
  const clients: DBSQLClient[] = [];

  before(async () => {
    emulator = await startEmulator();
  });

  afterEach(async () => {
    emulator.featureFlag.set(true);
    emulator.faults.clear();
    await Promise.all(clients.splice(0).map((client) => client.close()));
  });

  after(async () => {
    await emulator.close();
  });

  it('sends nothing, and asks for the flag no further, while the feature flag is off', async () => {
    emulator.featureFlag.set(false);
    emulator.resetRequestCounts();
    const provider = new TelemetryClientProvider();
    const first = await connectClient(emulator, { provider });
    clients.push(first);
    const session = await first.openSession();
    await runQuery(session, 'SELECT 1');
    await waitFor(() => emulator.requestCounts().featureFlags > 0);
    // A second connection and more statements while the first still holds the host's flag.
    const second = await connectClient(emulator, { provider });
    clients.push(second);
    const other = await second.openSession();
    for (let i = 0; i < 3; i += 1) {
      await runQuery(other, `SELECT ${i}`);
    }
    await sleep(200);
    await session.close();
    await other.close();
    await Promise.all(clients.splice(0).map((client) => client.close()));
    const counts = emulator.requestCounts();
    expect(counts.telemetryExt + counts.telemetryUnauth, 'uploads').to.equal(0);
    expect(counts.featureFlags, 'flag requests').to.equal(1);
  });

  it('three clients to one host with one token share one telemetry client and batch together', async () => {
    const provider = new TelemetryClientProvider();
    const acquire = sinon.spy(provider, 'getOrCreateClient');
    const release = sinon.spy(provider, 'releaseClient');
    emulator.telemetry.clear();
    const sessionIds: string[] = [];
    for (let i = 0; i < 3; i += 1) {
      const client = await connectClient(emulator, { provider, options: { telemetryFlushIntervalMs: 60000 } });
      clients.push(client);
      const session = await client.openSession();
      sessionIds.push(session.id);
      await runQuery(session, 'SELECT 1');
    }
    expect(acquire.callCount).to.equal(3);
    const shared = acquire.returnValues[0];
    expect(shared).to.not.equal(undefined);
    expect(acquire.returnValues.every((value) => value === shared)).to.equal(true);
    const target = acquire.firstCall.args[1];
    expect(provider.getRefCount(target)).to.equal(3);
    expect(emulator.telemetry.requests(), 'nothing sent before the flush').to.deep.equal([]);
    await Promise.all(clients.splice(0).map((client) => client.close()));
    expect(release.callCount).to.equal(3);
    expect(provider.getRefCount(target)).to.equal(0);
    const requests = emulator.telemetry.requests();
    expect(requests, 'one batch for the three connections').to.have.length(1);
    const sent = sessionIdsOf(requests[0].body);
    for (const id of sessionIds) {
      expect(sent).to.include(id);
    }
  });

  it('keeps uploading for the connections left after the one that made the shared client closes', async () => {
    const provider = new TelemetryClientProvider();
    const options = { telemetryFlushIntervalMs: 50 };
    const first = await connectClient(emulator, { provider, options });
    clients.push(first);
    const firstSession = await first.openSession();
    const { operation: before } = await runQuery(firstSession, 'SELECT 1');
    const second = await connectClient(emulator, { provider, options });
    clients.push(second);
    const secondSession = await second.openSession();
    await first.close();
    const { operation: after } = await runQuery(secondSession, 'SELECT 2');
    // Uploaded while the second connection is still open: the flush timer, not a close, sends it.
    const logs = await waitForStatementLogs(emulator, after.id);
    expect(logs).to.have.length(1);
    expect(logs[0].session_id).to.equal(secondSession.id);
    await second.close();
    expect(statementLogs(emulator, before.id), 'the first connection statement, once').to.have.length(1);
    expect(statementLogs(emulator, after.id), 'the second connection statement, once').to.have.length(1);
  });

  it('two tokens on one host never share a client: each upload carries the token of its sessions', async () => {
    const secondToken = 'dapi-second-tenant-token';
    const proxy = await MultiTokenProxy.start(emulator, [emulator.token, secondToken]);
    try {
      const provider = new TelemetryClientProvider();
      const acquire = sinon.spy(provider, 'getOrCreateClient');
      const tokenOfSession = new Map<string, string>();
      for (const token of [emulator.token, secondToken, emulator.token, secondToken]) {
        const client = await connectClient(emulator, { provider, options: { port: proxy.port, token } });
        clients.push(client);
        const session = await client.openSession();
        tokenOfSession.set(session.id, token);
        await runQuery(session, 'SELECT 1');
      }
      expect(new Set(acquire.returnValues).size, 'one telemetry client per token').to.equal(2);
      await Promise.all(clients.splice(0).map((client) => client.close()));
      const uploads = proxy.seen.filter((request) => request.path === '/telemetry-ext');
      expect(uploads.length).to.be.at.least(2);
      const seenSessions = new Set<string>();
      for (const upload of uploads) {
        for (const sessionId of sessionIdsOf(upload.body)) {
          seenSessions.add(sessionId);
          expect(upload.authorization, `upload of session ${sessionId}`).to.equal(
            `Bearer ${tokenOfSession.get(sessionId)}`,
          );
        }
      }
      expect([...seenSessions].sort()).to.deep.equal([...tokenOfSession.keys()].sort());
      expect(proxy.seen.some((request) => request.path === '/telemetry-unauth')).to.equal(false);
    } finally {
      await proxy.close();
    }
  });

  it('a failed openSession (wrong token) is reported on /telemetry-unauth without credentials or ids', async () => {
    const provider = new TelemetryClientProvider();
    emulator.telemetry.clear();
    // A good connection first: the host's flag is then known to be enabled (a wrong token cannot read it).
    const good = await connectClient(emulator, { provider });
    clients.push(good);
    const goodSession = await good.openSession();
    await waitFor(() => emulator.telemetry.logs().length > 0);
    expect(emulator.telemetry.requests().map((request) => request.path)).to.deep.equal(['/telemetry-ext']);

    const wrongToken = 'dapi-wrong-token';
    const bad = await connectClient(emulator, { provider, options: { token: wrongToken } });
    clients.push(bad);
    const error = await rejectionOf(bad.openSession());
    expect(error).to.be.instanceOf(Error);
    const unauth = await waitFor(() =>
      emulator.telemetry.requests().filter((request) => request.path === '/telemetry-unauth'),
    );
    expect(unauth).to.have.length(1);
    const [request] = unauth;
    expect(request.headers.authorization).to.equal(undefined);
    expect(request.headers['x-databricks-org-id']).to.equal(undefined);
    expect(JSON.stringify(request.body)).not.to.contain(wrongToken);
    expect(validateUpload(request as unknown as Parameters<typeof validateUpload>[0])).to.deep.equal([]);
    expect(request.logs).to.have.length(1);
    const log = driverLog(request.logs[0]);
    expect(log.session_id).to.equal(undefined);
    expect(log.sql_statement_id).to.equal(undefined);
    expect(log.error_info?.error_name).to.be.a('string').and.not.empty;
    expect(log.error_info?.stack_trace).to.equal(undefined);
    expect(JSON.stringify(log)).not.to.contain('Invalid access token');
    expect(JSON.stringify(log)).not.to.contain(goodSession.id);
    await goodSession.close();
  });
});
