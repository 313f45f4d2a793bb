import { expect } from 'chai';
import sinon from 'sinon';
import type IDBSQLSession from '@databricks/sql/dist/contracts/IDBSQLSession';
import { observeSession } from '../../../lib/driver/sessionObserver';
import type { SessionObserverSink } from '../../../lib/driver/contracts/SessionObserverSink';
import ThriftClientObserver from '../../../lib/driver/ThriftClientObserver';
import TelemetryEventEmitter from '../../../lib/telemetry/TelemetryEventEmitter';
import { TelemetryEvent, TelemetryEventType } from '../../../lib/telemetry/types';
import ClientContextStub from '../.stubs/ClientContextStub';
import DriverThriftClientStub, {
  OK_STATUS,
  ThriftCallback,
  compact,
  eventsOf,
  makeGuid,
  operationHandle,
  recordEvents,
  sessionHandle,
  uuidOf,
} from '../.stubs/DriverThriftClientStub';
import { immediately } from '../.stubs/immediateQueue';

const T0 = 1_760_000_000_000;
const SESSION = makeGuid(1);
const SESSION_ID = uuidOf(SESSION);

const OPERATION_METHODS = [
  'executeStatement',
  'getTypeInfo',
  'getCatalogs',
  'getSchemas',
  'getTables',
  'getTableTypes',
  'getColumns',
  'getFunctions',
  'getPrimaryKeys',
  'getCrossReference',
] as const;

const RPC_OF: Record<(typeof OPERATION_METHODS)[number], string> = {
  executeStatement: 'ExecuteStatement',
  getTypeInfo: 'GetTypeInfo',
  getCatalogs: 'GetCatalogs',
  getSchemas: 'GetSchemas',
  getTables: 'GetTables',
  getTableTypes: 'GetTableTypes',
  getColumns: 'GetColumns',
  getFunctions: 'GetFunctions',
  getPrimaryKeys: 'GetPrimaryKeys',
  getCrossReference: 'GetCrossReference',
};

type AnyMethod = (...args: unknown[]) => Promise<unknown>;

/** A plain operation object like the driver's: id plus promise-returning methods. */
class FakeOperation {
  public readonly calls: string[] = [];

  public closeResult: unknown = { status: 'closed' };

  public closeError?: unknown;

  public fetchResult: unknown = [{ a: 1 }];

  public fetchError?: unknown;

  constructor(public readonly id: string) {}

  async close(): Promise<unknown> {
    this.calls.push('close');
    if (this.closeError) {
      throw this.closeError;
    }
    return this.closeResult;
  }

  async cancel(): Promise<unknown> {
    this.calls.push('cancel');
    return { status: 'cancelled' };
  }

  async fetchChunk(options?: unknown): Promise<unknown> {
    this.calls.push(`fetchChunk:${JSON.stringify(options)}`);
    if (this.fetchError) {
      throw this.fetchError;
    }
    return this.fetchResult;
  }

  async fetchAll(): Promise<unknown> {
    this.calls.push('fetchAll');
    if (this.fetchError) {
      throw this.fetchError;
    }
    return this.fetchResult;
  }

  async status(): Promise<unknown> {
    return { state: 'FINISHED' };
  }
}

/**
 * A plain session object like the driver's: each operation method waits `prepareMs` (the
 * driver's own work before the RPC), then calls the Thrift RPC through the observed client.
 */
class FakeSession {
  public readonly calls: Array<{ name: string; args: unknown[]; self: unknown }> = [];

  public closeResult: unknown = { status: 'session closed' };

  public closeError?: unknown;

  public startError?: unknown;

  public prepareMs = 0;

  public nextOperation = 100;

  public returnValue?: () => unknown;

  constructor(
    public readonly id: string,
    private readonly client: Record<string, (request: unknown, callback?: ThriftCallback) => unknown>,
    private readonly stub: DriverThriftClientStub,
  ) {
    for (const name of OPERATION_METHODS) {
      (this as unknown as Record<string, AnyMethod>)[name] = (...args: unknown[]) => this.start(name, args);
    }
  }

  async close(...args: unknown[]): Promise<unknown> {
    this.calls.push({ name: 'close', args, self: this });
    if (this.closeError) {
      throw this.closeError;
    }
    return this.closeResult;
  }

  private async start(name: (typeof OPERATION_METHODS)[number], args: unknown[]): Promise<unknown> {
    this.calls.push({ name, args, self: this });
    await new Promise((resolve) => setTimeout(resolve, this.prepareMs));
    if (this.startError) {
      throw this.startError;
    }
    if (this.returnValue) {
      return this.returnValue();
    }
    const guid = makeGuid(this.nextOperation);
    this.nextOperation += 1;
    this.stub.reply(RPC_OF[name], {
      response: { status: OK_STATUS, operationHandle: operationHandle(guid) },
      delayMs: 10,
    });
    await new Promise((resolve, reject) => {
      this.client[RPC_OF[name]]({ sessionHandle: sessionHandle(SESSION) }, (error, response) =>
        error ? reject(error) : resolve(response),
      );
    });
    return new FakeOperation(uuidOf(guid));
  }
}

describe('sessionObserver', () => {
  let clock: sinon.SinonFakeTimers;
  let emitter: TelemetryEventEmitter;
  let observer: ThriftClientObserver;
  let stub: DriverThriftClientStub;
  let events: TelemetryEvent[];
  let closedSessions: string[];
  let sink: SessionObserverSink;
  let fake: FakeSession;
  let session: IDBSQLSession;

  beforeEach(() => {
    clock = sinon.useFakeTimers({ now: T0 });
    const context = new ClientContextStub();
    emitter = new TelemetryEventEmitter(context);
    observer = new ThriftClientObserver(immediately(emitter), context.getLogger());
    stub = new DriverThriftClientStub();
    events = recordEvents(emitter);
    closedSessions = [];
    sink = {
      observer,
      events: emitter,
      sessionClosed: (sessionId: string) => {
        closedSessions.push(sessionId);
        observer.completeSession(sessionId, Date.now());
      },
    };
    observer.observeClient(stub);
    fake = new FakeSession(SESSION_ID, stub as never, stub);
    session = observeSession(fake as unknown as IDBSQLSession, sink);
  });

  afterEach(() => {
    clock.restore();
    sinon.restore();
  });

  /** Runs a promise to its end on the fake clock, a millisecond at a time, at most `ms`. */
  async function settle<T>(promise: Promise<T>, ms = 100): Promise<T> {
    let outcome: { value?: T; error?: unknown; done: boolean } = { done: false };
    promise.then(
      (value) => {
        outcome = { value, done: true };
      },
      (error: unknown) => {
        outcome = { error, done: true };
      },
    );
    await clock.tickAsync(0);
    for (let elapsed = 0; !outcome.done && elapsed < ms; elapsed += 1) {
      await clock.tickAsync(1);
    }
    expect(outcome.done, 'the promise settled').to.equal(true);
    if ('error' in outcome && outcome.error !== undefined) {
      throw outcome.error;
    }
    return outcome.value as T;
  }

  async function rejection(promise: Promise<unknown>, ms = 100): Promise<unknown> {
    return settle(promise, ms).then(
      () => expect.fail('expected a rejection'),
      (error: unknown) => error,
    );
  }

  function completes() {
    return eventsOf(events, TelemetryEventType.STATEMENT_COMPLETE);
  }

  function errors() {
    return eventsOf(events, TelemetryEventType.ERROR);
  }

  it('wraps the session in place and returns it', () => {
    expect(session).to.equal(fake);
    for (const name of [...OPERATION_METHODS, 'close']) {
      expect(Object.prototype.hasOwnProperty.call(fake, name), name).to.equal(true);
    }
  });

  it('returns exactly the operation the driver returned, passing arguments and this through', async () => {
    const options = { runAsync: true, maxRows: 10 };
    const operation = (await settle(session.executeStatement('SELECT 1', options))) as unknown as FakeOperation;
    expect(operation).to.be.instanceOf(FakeOperation);
    expect(fake.calls[0].args[0]).to.equal('SELECT 1');
    expect(fake.calls[0].args[1]).to.equal(options);
    expect(fake.calls[0].self).to.equal(fake);
    expect(operation.id).to.equal(uuidOf(makeGuid(100)));
  });

  it('rethrows exactly the error of a failed start, and adds no event of its own', async () => {
    const error = new Error('cannot start');
    fake.startError = error;
    expect(await rejection(session.getTables({}))).to.equal(error);
    expect(events).to.deep.equal([]);
  });

  for (const name of OPERATION_METHODS) {
    it(`${name}: latency runs from the application call to close`, async () => {
      fake.prepareMs = 30;
      const operation = await settle((session as unknown as Record<string, AnyMethod>)[name]({}));
      expect(eventsOf(events, TelemetryEventType.STATEMENT_START)[0].timestamp).to.equal(T0 + 30);
      clock.tick(60);
      await settle((operation as FakeOperation).close(), 0);
      expect(completes().map(compact)).to.have.length(1);
      // 30 ms preparing, 10 ms RPC, 60 ms open: latency from the application's call.
      expect(completes()[0]).to.include({
        statementId: (operation as FakeOperation).id,
        sessionId: SESSION_ID,
        latencyMs: 100,
      });
    });
  }

  it('completes a statement once across cancel and close, returning their results', async () => {
    const operation = (await settle(session.executeStatement('SELECT 1'))) as unknown as FakeOperation;
    expect(await settle(operation.cancel(), 0)).to.deep.equal({ status: 'cancelled' });
    expect(await settle(operation.close(), 0)).to.equal(operation.closeResult);
    expect(await settle(operation.close(), 0)).to.equal(operation.closeResult);
    expect(completes()).to.have.length(1);
    expect(operation.calls).to.deep.equal(['cancel', 'close', 'close']);
  });

  it('completes the statement when close throws, and rethrows the same error', async () => {
    const operation = (await settle(session.executeStatement('SELECT 1'))) as unknown as FakeOperation;
    const error = new Error('close failed');
    operation.closeError = error;
    expect(await rejection(operation.close(), 0)).to.equal(error);
    expect(completes().map((event) => event.statementId)).to.deep.equal([operation.id]);
  });

  it('returns fetch results unchanged and reports nothing for successful fetches', async () => {
    const operation = (await settle(session.executeStatement('SELECT 1'))) as unknown as FakeOperation;
    expect(await settle(operation.fetchChunk({ maxRows: 5 }), 0)).to.equal(operation.fetchResult);
    expect(await settle(operation.fetchAll(), 0)).to.equal(operation.fetchResult);
    expect(operation.calls).to.deep.equal(['fetchChunk:{"maxRows":5}', 'fetchAll']);
    expect(errors()).to.deep.equal([]);
  });

  it('reports a fetch error by a safe name and rethrows the same error object', async () => {
    class ArrowDecodeError extends Error {}
    const operation = (await settle(session.executeStatement('SELECT 1'))) as unknown as FakeOperation;
    const decodeError = new ArrowDecodeError('row 3 contains ssn 123-45-6789');
    operation.fetchError = decodeError;
    expect(await rejection(operation.fetchChunk(), 0)).to.equal(decodeError);
    const stateError = Object.assign(new Error('secret table'), { sqlState: '42P01' });
    operation.fetchError = stateError;
    expect(await rejection(operation.fetchAll(), 0)).to.equal(stateError);
    operation.fetchError = { message: 'not even an Error' };
    expect(await rejection(operation.fetchAll(), 0)).to.equal(operation.fetchError);
    expect(errors().map(compact)).to.deep.equal([
      {
        eventType: TelemetryEventType.ERROR,
        timestamp: T0 + 10,
        statementId: operation.id,
        errorName: 'ArrowDecodeError',
        isTerminal: true,
      },
      {
        eventType: TelemetryEventType.ERROR,
        timestamp: T0 + 10,
        statementId: operation.id,
        errorName: '42P01',
        isTerminal: true,
      },
      {
        eventType: TelemetryEventType.ERROR,
        timestamp: T0 + 10,
        statementId: operation.id,
        errorName: 'UnknownError',
        isTerminal: true,
      },
    ]);
    expect(JSON.stringify(events)).not.to.match(/ssn|secret/);
  });

  it('leaves the other operation methods alone', async () => {
    const operation = (await settle(session.executeStatement('SELECT 1'))) as unknown as FakeOperation;
    expect(Object.prototype.hasOwnProperty.call(operation, 'status')).to.equal(false);
    expect(operation.status).to.equal(FakeOperation.prototype.status);
  });

  it('returns an odd operation object unchanged and unobserved', async () => {
    const frozen = Object.freeze(new FakeOperation('frozen-op'));
    fake.returnValue = () => frozen;
    expect(await settle(session.executeStatement('SELECT 1'))).to.equal(frozen);
    fake.returnValue = () => undefined;
    expect(await settle(session.executeStatement('SELECT 1'))).to.equal(undefined);
    fake.returnValue = () => null;
    expect(await settle(session.executeStatement('SELECT 1'))).to.equal(null);
    expect(events).to.deep.equal([]);
  });

  it('skips methods the session does not have', () => {
    const partial = { id: 'partial', executeStatement: async () => new FakeOperation('x') };
    observeSession(partial as unknown as IDBSQLSession, sink);
    expect(Object.keys(partial).sort()).to.deep.equal(['executeStatement', 'id']);
  });

  it('session close completes its open statements and reports the session closed', async () => {
    const first = (await settle(session.executeStatement('SELECT 1'))) as unknown as FakeOperation;
    const second = (await settle(session.getCatalogs())) as unknown as FakeOperation;
    await settle(first.close(), 0);
    expect(await settle(session.close(), 0)).to.equal(fake.closeResult);
    expect(closedSessions).to.deep.equal([SESSION_ID]);
    expect(completes().map((event) => event.statementId)).to.deep.equal([first.id, second.id]);
    expect(fake.calls.filter((call) => call.name === 'close')).to.have.length(1);
  });

  it('session close reports the session closed even when the close throws, rethrowing the same error', async () => {
    const operation = (await settle(session.executeStatement('SELECT 1'))) as unknown as FakeOperation;
    const error = new Error('session close failed');
    fake.closeError = error;
    expect(await rejection(session.close(), 0)).to.equal(error);
    expect(closedSessions).to.deep.equal([SESSION_ID]);
    expect(completes().map((event) => event.statementId)).to.deep.equal([operation.id]);
  });

  it('reports the session closed only after the driver close finished', async () => {
    let release: () => void = () => undefined;
    const slow = {
      id: 'slow-session',
      close: () =>
        new Promise((resolve) => {
          release = () => resolve('done');
        }),
    };
    observeSession(slow as unknown as IDBSQLSession, sink);
    const closing = (slow.close as () => Promise<unknown>)();
    await clock.tickAsync(0);
    expect(closedSessions).to.deep.equal([]);
    release();
    expect(await closing).to.equal('done');
    expect(closedSessions).to.deep.equal(['slow-session']);
  });

  describe('a failing observer', () => {
    it('never changes what the caller gets from close(), cancel() or a failed fetch', async () => {
      sink.sessionClosed = () => {
        throw new Error('observer broke');
      };
      sinon.stub(observer, 'completeStatement').throws(new Error('observer broke'));
      sinon.stub(emitter, 'emitError').throws(new Error('observer broke'));
      const operation = (await settle(session.executeStatement('SELECT 1'))) as unknown as FakeOperation;
      expect(await settle(operation.close())).to.deep.equal({ status: 'closed' });
      expect(await settle(operation.cancel())).to.deep.equal({ status: 'cancelled' });
      const fetchFailure = new Error('download failed');
      operation.fetchError = fetchFailure;
      let thrown: unknown;
      await settle(operation.fetchChunk().catch((error: unknown) => (thrown = error)));
      expect(thrown).to.equal(fetchFailure);
      expect(await settle(session.close())).to.deep.equal({ status: 'session closed' });
    });
  });
});
