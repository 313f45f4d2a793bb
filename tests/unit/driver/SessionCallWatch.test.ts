import { expect } from 'chai';
import type IDBSQLSession from '@databricks/sql/dist/contracts/IDBSQLSession';
import SessionCallWatch from '../../../lib/driver/SessionCallWatch';
import TelemetryEventEmitter from '../../../lib/telemetry/TelemetryEventEmitter';
import { TelemetryEventType } from '../../../lib/telemetry/types';
import ClientContextStub from '../.stubs/ClientContextStub';
import { eventsOf, recordEvents } from '../.stubs/DriverThriftClientStub';

class ParameterError extends Error {}

/** A session whose statement methods do what the test says, counting the Thrift calls they "send". */
class SessionStub {
  sent = 0;

  readonly id = 'session-1';

  async executeStatement(sql: string): Promise<string> {
    if (sql === 'bad parameters') {
      throw new ParameterError('Driver does not support both ordinal and named parameters.');
    }
    this.sent += 1;
    if (sql === 'server fails') {
      throw new Error('server said no: SELECT secret');
    }
    return `operation for ${sql}`;
  }

  getCatalogs(): Promise<string> {
    throw new TypeError('thrown before any promise');
  }
}

describe('SessionCallWatch', () => {
  let stub: SessionStub;
  let session: IDBSQLSession;
  let watch: SessionCallWatch;
  let events: ReturnType<typeof recordEvents>;

  beforeEach(() => {
    const emitter = new TelemetryEventEmitter(new ClientContextStub());
    events = recordEvents(emitter);
    stub = new SessionStub();
    session = stub as unknown as IDBSQLSession;
    watch = new SessionCallWatch({ sentCalls: () => stub.sent }, emitter);
    watch.watch(session);
  });

  const errors = () =>
    eventsOf(events, TelemetryEventType.ERROR).map(({ sessionId, errorName, isTerminal, statementId }) => ({
      sessionId,
      errorName,
      isTerminal,
      statementId,
    }));

  it('reports a statement that failed before any Thrift call, by class name, and rejects with the same error', async () => {
    const failure = await session.executeStatement('bad parameters').then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).to.be.instanceOf(ParameterError);
    expect(errors()).to.deep.equal([
      { sessionId: 'session-1', errorName: 'ParameterError', isTerminal: true, statementId: undefined },
    ]);
    expect(JSON.stringify(events)).not.to.include('ordinal');
  });

  it('leaves a failure after a Thrift call was sent to the Thrift observer', async () => {
    await session.executeStatement('server fails').catch(() => undefined);
    expect(errors()).to.deep.equal([]);
  });

  it('hands back what the driver returned and reports nothing', async () => {
    expect(await session.executeStatement('SELECT 1')).to.equal('operation for SELECT 1');
    expect(errors()).to.deep.equal([]);
  });

  it('turns a synchronous throw into a rejection, as an async method would, and reports it', async () => {
    const failure = await session.getCatalogs().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).to.be.instanceOf(TypeError);
    expect(errors().map((error) => error.errorName)).to.deep.equal(['TypeError']);
  });

  it('gives the session the methods it had on release, own ones included', async () => {
    const own = async () => 'own getSchemas';
    const other = Object.assign(new SessionStub(), { getSchemas: own }) as unknown as IDBSQLSession;
    watch.watch(other);
    expect(Object.prototype.hasOwnProperty.call(session, 'executeStatement')).to.equal(true);
    watch.release();
    expect(Object.prototype.hasOwnProperty.call(session, 'executeStatement')).to.equal(false);
    expect((other as unknown as { getSchemas: unknown }).getSchemas).to.equal(own);
    await session.executeStatement('bad parameters').catch(() => undefined);
    expect(errors()).to.deep.equal([]);
  });
});
