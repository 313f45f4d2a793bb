import { expect } from 'chai';
import HttpConnection from '@databricks/sql/dist/connection/connections/HttpConnection';
import type IConnectionProvider from '@databricks/sql/dist/connection/contracts/IConnectionProvider';
import watchAuthHeaders from '../../../lib/driver/authHeaders';
import ClientContextStub from '../.stubs/ClientContextStub';
import { getGc } from '../../support/gc';
import { rejectionOf } from '../../support/harness';

/** A JWT whose payload carries `exp` (seconds since the epoch); the signature is not checked. */
function jwt(exp: number): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none' })}.${part({ exp })}.sig`;
}

function driverConnection(): IConnectionProvider {
  return new HttpConnection(
    { host: 'example.test', port: 443, path: '/sql/1.0/warehouses/w' },
    new ClientContextStub() as never,
  );
}

describe('watchAuthHeaders', () => {
  it("reads the headers the driver's connection holds when asked, and sets nothing on the connection", async () => {
    const connection = driverConnection();
    const shapeBefore = Object.keys(connection);
    const read = watchAuthHeaders(connection);
    connection.setHeaders({ Authorization: 'Bearer first' });
    expect(await read()).to.deep.equal({ Authorization: 'Bearer first' });
    connection.setHeaders({ Authorization: 'Bearer second' });
    expect(await read()).to.deep.equal({ Authorization: 'Bearer second' });
    expect(Object.prototype.hasOwnProperty.call(connection, 'setHeaders')).to.equal(false);
    expect(Object.keys(connection)).to.deep.equal(shapeBefore);
  });

  it("does not keep the driver's connection alive: once it is gone, the headers are too", async () => {
    let connection: IConnectionProvider | undefined = driverConnection();
    connection.setHeaders({ Authorization: 'Bearer token' });
    const read = watchAuthHeaders(connection);
    const gone = new WeakRef(connection);
    connection = undefined;
    // A weakly held object stays alive until the current job ends.
    await new Promise((resolve) => setImmediate(resolve));
    getGc()();
    expect(gone.deref(), 'the connection was collected').to.equal(undefined);
    expect((await rejectionOf(read())).message).to.equal('the connection has not signed in');
  });

  it('rejects before the driver has signed in', async () => {
    const read = watchAuthHeaders(driverConnection());
    expect((await rejectionOf(read())).message).to.equal('the connection has not signed in');
  });

  it('rejects a bearer JWT past its exp, and accepts one still valid', async () => {
    const connection = driverConnection();
    const read = watchAuthHeaders(connection);
    const now = Math.floor(Date.now() / 1000);
    connection.setHeaders({ Authorization: `Bearer ${jwt(now - 10)}` });
    expect((await rejectionOf(read())).message).to.equal("the connection's token has expired");
    connection.setHeaders({ Authorization: `Bearer ${jwt(now + 600)}` });
    expect(await read()).to.deep.equal({ Authorization: `Bearer ${jwt(now + 600)}` });
  });

  it('watches setHeaders() on a connection that keeps no headers field, and hands on what it was given', async () => {
    const given: unknown[] = [];
    const connection = {
      setHeaders(headers: unknown) {
        given.push(headers);
      },
    } as unknown as IConnectionProvider;
    const read = watchAuthHeaders(connection);
    expect((await rejectionOf(read())).message).to.equal('the connection has not signed in');
    connection.setHeaders(new Map([['x-databricks-token', 'abc']]) as never);
    expect(await read()).to.deep.equal({ 'x-databricks-token': 'abc' });
    expect(given).to.have.length(1);
  });
});
