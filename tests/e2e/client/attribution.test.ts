import { expect } from 'chai';
import { DBSQLClient } from '../../../lib';
import { DEFAULT_ORG_ID, Emulator, startEmulator } from '../../../lib/emulator';
import type { RecordedTelemetryRequest } from '../../../lib/emulator';
import TelemetryClientProvider from '../../../lib/telemetry/TelemetryClientProvider';
import { connectClient, connectionLogs, rejectionOf, runQuery, statementLogs, waitFor } from '../../support/harness';
import { validateUpload } from '../../support/wireFormat';

/** Beyond 2^53, so a JS number would round it: every digit must reach the wire. */
const ORG_ID = '9876543210987654';

/** The raw `protoLogs` strings of the recorded uploads to `path`. */
function protoLogsOf(requests: RecordedTelemetryRequest[], path: string): string[] {
  return requests
    .filter((request) => request.path === path)
    .flatMap((request) => (request.body as { protoLogs: string[] }).protoLogs);
}

function expectValid(requests: RecordedTelemetryRequest[]): void {
  for (const request of requests) {
    expect(validateUpload(request as unknown as Parameters<typeof validateUpload>[0]), request.path).to.deep.equal([]);
  }
}

describe('client e2e: attribution (workspace id, warehouse path and host)', function () {
  this.timeout(20000);

  const emulators: Emulator[] = [];
  const clients: DBSQLClient[] = [];

  async function emulatorWith(orgId: string | null): Promise<Emulator> {
    const emulator = await startEmulator({ orgId });
    emulators.push(emulator);
    return emulator;
  }

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
    await Promise.all(emulators.splice(0).map((emulator) => emulator.close()));
  });

  it('signs every authenticated log with the id the workspace names in its responses; the connection log names the warehouse and host', async () => {
    const emulator = await emulatorWith(ORG_ID);
    expect(emulator.path, 'an HTTP path that names no workspace').not.to.match(/\?|\/o\//);
    const provider = new TelemetryClientProvider();
    const client = await connectClient(emulator, { provider });
    clients.push(client);
    const session = await client.openSession();
    const { operation } = await runQuery(session, 'SELECT * FROM range(3)');
    await waitFor(() => emulator.telemetry.logs().length > 0);
    // Another credential on the same host: its failed session open is reported without credentials.
    const bad = await connectClient(emulator, { provider, options: { token: 'dapi-wrong-token' } });
    clients.push(bad);
    await rejectionOf(bad.openSession());
    await session.close();
    await Promise.all(clients.splice(0).map((each) => each.close()));

    const requests = emulator.telemetry.requests();
    const signedIn = protoLogsOf(requests, '/telemetry-ext');
    const unauthenticated = protoLogsOf(requests, '/telemetry-unauth');
    expect(signedIn.length, 'signed-in logs').to.be.at.least(2);
    expect(unauthenticated.length, 'unauthenticated logs').to.be.at.least(1);
    for (const text of signedIn) {
      expect(text.startsWith(`{"workspace_id":${ORG_ID},`), text.slice(0, 60)).to.equal(true);
    }
    for (const text of unauthenticated) {
      expect(text).not.to.match(new RegExp(`workspace_id|${ORG_ID}|http_path|host_info|warehouses`));
    }
    expectValid(requests);

    const [connection] = connectionLogs(emulator, session.id);
    expect(connection.driver_connection_params).to.deep.include({
      http_path: emulator.path,
      host_info: { host_url: `https://${emulator.host}`, port: emulator.port },
    });
    const statements = statementLogs(emulator, operation.id);
    expect(statements).to.have.length(1);
    expect(statements[0]).not.to.have.property('driver_connection_params');
  });

  it("keeps the HTTP path's own workspace id and sends the path without its query string", async () => {
    const emulator = await emulatorWith(ORG_ID);
    const client = await connectClient(emulator, { options: { path: `${emulator.path}?o=42&marker=cnryquerystring` } });
    clients.push(client);
    const session = await client.openSession();
    await runQuery(session, 'SELECT 1');
    await session.close();
    await Promise.all(clients.splice(0).map((each) => each.close()));

    const signedIn = protoLogsOf(emulator.telemetry.requests(), '/telemetry-ext');
    expect(signedIn.length).to.be.at.least(2);
    for (const text of signedIn) {
      expect(text.startsWith('{"workspace_id":42,'), text.slice(0, 60)).to.equal(true);
      expect(text).not.to.include('cnryquerystring');
    }
    expect(connectionLogs(emulator, session.id)[0].driver_connection_params?.http_path).to.equal(emulator.path);
    expectValid(emulator.telemetry.requests());
  });

  it('sends no workspace id when neither the path nor the workspace names a valid one', async () => {
    for (const orgId of [null, 'not-a-workspace-id']) {
      const emulator = await emulatorWith(orgId);
      const client = await connectClient(emulator);
      clients.push(client);
      const session = await client.openSession();
      await runQuery(session, 'SELECT 1');
      await session.close();
      await Promise.all(clients.splice(0).map((each) => each.close()));
      const signedIn = protoLogsOf(emulator.telemetry.requests(), '/telemetry-ext');
      expect(signedIn.length, String(orgId)).to.be.at.least(2);
      for (const text of signedIn) {
        expect(text, String(orgId)).not.to.include('workspace_id');
      }
      // The address is the client's own knowledge: still on the connection log.
      expect(connectionLogs(emulator, session.id)[0].driver_connection_params?.http_path).to.equal(emulator.path);
    }
  });

  it('the emulator names its workspace like a real one: a 16-digit id by default', async () => {
    const emulator = await startEmulator();
    emulators.push(emulator);
    expect(emulator.orgId)
      .to.equal(DEFAULT_ORG_ID)
      .and.match(/^\d{16}$/);
    const client = await connectClient(emulator);
    clients.push(client);
    const session = await client.openSession();
    await session.close();
    await Promise.all(clients.splice(0).map((each) => each.close()));
    const signedIn = protoLogsOf(emulator.telemetry.requests(), '/telemetry-ext');
    expect(signedIn.length).to.be.at.least(1);
    for (const text of signedIn) {
      expect(text.startsWith(`{"workspace_id":${DEFAULT_ORG_ID},`)).to.equal(true);
    }
  });
});
