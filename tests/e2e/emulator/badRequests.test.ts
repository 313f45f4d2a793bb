import { expect } from 'chai';
import { randomBytes } from 'crypto';
import { Emulator, startEmulator } from '../../../lib/emulator';
import { connect, query, withSession } from './driver';
import { authHeaders, json, request } from './http';

/** A strict binary-protocol call of `method` with an empty argument struct. */
function thriftCall(method: string): Buffer {
  const name = Buffer.from(method);
  const header = Buffer.alloc(8);
  header.writeUInt32BE(0x80010001, 0);
  header.writeInt32BE(name.length, 4);
  const seqid = Buffer.alloc(4);
  return Buffer.concat([header, name, seqid, Buffer.from([0])]);
}

describe('emulator: bad requests get error answers, never a crash', () => {
  let emulator: Emulator;

  before(async () => {
    emulator = await startEmulator();
  });

  after(async () => {
    await emulator.close();
  });

  afterEach(async () => {
    // Whatever the previous request did, the server still answers.
    expect(await withSession(emulator, (session) => query(session, 'SELECT 1'))).to.deep.equal([{ 1: 1 }]);
  });

  it('answers garbage and empty Thrift bodies with 400', async () => {
    for (const body of [
      randomBytes(64),
      Buffer.alloc(0),
      Buffer.from('{"not":"thrift"}'),
      thriftCall('OpenSession').subarray(0, 10),
    ]) {
      const response = await request(emulator, {
        method: 'POST',
        path: emulator.path,
        headers: authHeaders(emulator),
        body,
      });
      expect(response.status).to.equal(400);
      expect(json(response).error_code).to.equal('BAD_REQUEST');
    }
  });

  it('answers an unknown RPC with a Thrift exception', async () => {
    const response = await request(emulator, {
      method: 'POST',
      path: emulator.path,
      headers: authHeaders(emulator),
      body: thriftCall('DropEverything'),
    });
    expect(response.status).to.equal(200);
    expect(response.body.toString('latin1')).to.contain('Unknown function DropEverything');
  });

  it('answers calls on unknown handles with an error status', async () => {
    const client = await connect(emulator);
    try {
      const thrift = (await client.getClient()) as unknown as Record<
        string,
        (req: unknown) => Promise<{ status: { statusCode: number; errorMessage?: string } }>
      >;
      const handle = {
        operationId: { guid: randomBytes(16), secret: randomBytes(16) },
        operationType: 0,
        hasResultSet: true,
      };
      for (const call of [
        'GetOperationStatus',
        'FetchResults',
        'GetResultSetMetadata',
        'CancelOperation',
        'CloseOperation',
      ]) {
        const response = await thrift[call]({ operationHandle: handle, maxRows: 10, orientation: 0 });
        expect(response.status.statusCode, call).to.equal(3 /* ERROR_STATUS */);
        expect(response.status.errorMessage).to.contain('Invalid OperationHandle');
      }
      const session = { sessionId: { guid: randomBytes(16), secret: randomBytes(16) } };
      const execute = await thrift.ExecuteStatement({ sessionHandle: session, statement: 'SELECT 1' });
      expect(execute.status.errorMessage).to.contain('Invalid SessionHandle');
    } finally {
      await client.close();
    }
  });

  it('answers a wrong token with 401, through the driver too', async () => {
    const response = await request(emulator, {
      method: 'POST',
      path: emulator.path,
      headers: { Authorization: 'Bearer nope' },
      body: thriftCall('OpenSession'),
    });
    expect(response.status).to.equal(401);
    const client = await connect(emulator, { token: 'wrong' });
    try {
      const error = await client.openSession().then(
        () => undefined,
        (e: Error) => e,
      );
      expect(error?.message).to.match(/401/);
    } finally {
      await client.close();
    }
  });

  it('answers unknown paths with 404 and wrong methods with 405', async () => {
    emulator.resetRequestCounts();
    expect((await request(emulator, { path: '/nowhere' })).status).to.equal(404);
    expect((await request(emulator, { path: '/sql/1.0/warehouses/other', method: 'POST' })).status).to.equal(404);
    expect((await request(emulator, { path: emulator.path })).status).to.equal(405);
    expect((await request(emulator, { path: '/telemetry-ext', headers: authHeaders(emulator) })).status).to.equal(405);
    expect((await request(emulator, { path: '/cloudfetch/00000000-0000-4000-8000-000000000000/0' })).status).to.equal(
      404,
    );
    expect((await request(emulator, { path: '/emulator/nothing' })).status).to.equal(404);
    expect(emulator.requestCounts().unknown).to.equal(2);
  });

  it('answers malformed telemetry uploads with 400', async () => {
    for (const body of ['not json', '{}', '{"protoLogs": [1, 2]}']) {
      const response = await request(emulator, {
        method: 'POST',
        path: '/telemetry-ext',
        headers: authHeaders(emulator),
        body,
      });
      expect(response.status).to.equal(400);
    }
    expect(emulator.telemetry.requests()).to.deep.equal([]);
  });
});
