import { expect } from 'chai';
import { EventEmitter } from 'events';
import type { ClientRequest } from 'http';
import sinon from 'sinon';
import { thrift } from '@databricks/sql';
import ThriftClientObserver from '../../../lib/driver/ThriftClientObserver';
import TelemetryEventEmitter from '../../../lib/telemetry/TelemetryEventEmitter';
import { TelemetryEvent, TelemetryEventType } from '../../../lib/telemetry/types';
import ClientContextStub from '../.stubs/ClientContextStub';
import DeferredEvents from '../../../lib/driver/DeferredEvents';
import { immediately } from '../.stubs/immediateQueue';
import DriverThriftClientStub, {
  OK_STATUS,
  ThriftCallback,
  compact,
  encodeThriftCall,
  eventsOf,
  makeGuid,
  operationHandle,
  recordEvents,
  sessionHandle,
  uuidOf,
} from '../.stubs/DriverThriftClientStub';

const { TStatusCode, TOperationState, TSparkRowSetType } = thrift.TCLIService_types;

const T0 = 1_760_000_000_000;
const SESSION = makeGuid(1);
const OTHER_SESSION = makeGuid(2);
const OP = makeGuid(10);
const SESSION_ID = uuidOf(SESSION);
const OP_ID = uuidOf(OP);

const METADATA_RPCS: Record<string, string> = {
  GetTypeInfo: 'LIST_TYPE_INFO',
  GetCatalogs: 'LIST_CATALOGS',
  GetSchemas: 'LIST_SCHEMAS',
  GetTables: 'LIST_TABLES',
  GetTableTypes: 'LIST_TABLE_TYPES',
  GetColumns: 'LIST_COLUMNS',
  GetFunctions: 'LIST_FUNCTIONS',
  GetPrimaryKeys: 'LIST_PRIMARY_KEYS',
  GetCrossReference: 'LIST_CROSS_REFERENCES',
};

type Rpcs = Record<string, (request: unknown, callback?: ThriftCallback) => unknown>;

interface Delivered {
  error: unknown;
  response: unknown;
  count: number;
}

/** A fake ClientRequest/IncomingMessage pair, enough for CloudFetchLinkRegistry.observeRequest. */
function fakeDownload(
  host: string,
  path: string,
  status = 200,
  length = 10,
): { request: ClientRequest; finish(): void } {
  const request = Object.assign(new EventEmitter(), { host, path }) as unknown as ClientRequest;
  return {
    request,
    finish() {
      const response = Object.assign(new EventEmitter(), {
        statusCode: status,
        headers: { 'content-length': String(length) },
      });
      request.emit('response', response);
      response.emit('end');
    },
  };
}

describe('ThriftClientObserver', () => {
  let clock: sinon.SinonFakeTimers;
  let context: ClientContextStub;
  let emitter: TelemetryEventEmitter;
  let observer: ThriftClientObserver;
  let client: DriverThriftClientStub;
  let proxy: Rpcs;
  let events: TelemetryEvent[];

  beforeEach(() => {
    clock = sinon.useFakeTimers({ now: T0 });
    context = new ClientContextStub();
    emitter = new TelemetryEventEmitter(context);
    observer = new ThriftClientObserver(immediately(emitter), context.getLogger());
    client = new DriverThriftClientStub();
    observer.observeClient(client);
    proxy = client as unknown as Rpcs;
    events = recordEvents(emitter);
  });

  afterEach(() => {
    clock.restore();
    sinon.restore();
  });

  /** Calls `name` through the proxy, lets the fake clock run `ms`, and returns what the callback got. */
  async function rpc(name: string, request: unknown, ms = 0): Promise<Delivered> {
    const delivered: Delivered = { error: 'not called', response: 'not called', count: 0 };
    proxy[name](request, (error, response) => {
      delivered.error = error;
      delivered.response = response;
      delivered.count += 1;
    });
    await clock.tickAsync(ms);
    return delivered;
  }

  function execute(response: object, delayMs = 0, session = SESSION, name = 'ExecuteStatement'): Promise<Delivered> {
    client.reply(name, { response, delayMs });
    return rpc(name, { sessionHandle: sessionHandle(session), statement: 'SELECT 1' }, delayMs);
  }

  function started(op = OP, extra: object = {}): object {
    return { status: OK_STATUS, operationHandle: operationHandle(op), ...extra };
  }

  function poll(state: number, delayMs: number, extra: object = {}, op = OP): Promise<Delivered> {
    client.reply('GetOperationStatus', { response: { status: OK_STATUS, operationState: state, ...extra }, delayMs });
    return rpc('GetOperationStatus', { operationHandle: operationHandle(op) }, delayMs);
  }

  function completes() {
    return eventsOf(events, TelemetryEventType.STATEMENT_COMPLETE);
  }

  function errors() {
    return eventsOf(events, TelemetryEventType.ERROR);
  }

  describe('observing a client in place', () => {
    it('sets its own method for each observed RPC and leaves the rest to the prototype', () => {
      const prototype = DriverThriftClientStub.prototype as unknown as Rpcs;
      for (const name of [
        'ExecuteStatement',
        'GetOperationStatus',
        'GetResultSetMetadata',
        'FetchResults',
        'GetTables',
      ]) {
        expect(Object.prototype.hasOwnProperty.call(client, name), name).to.equal(true);
        expect(proxy[name], name).not.to.equal(prototype[name]);
      }
      for (const name of ['OpenSession', 'CloseSession', 'CloseOperation', 'CancelOperation', 'reply']) {
        expect(Object.prototype.hasOwnProperty.call(client, name), name).to.equal(false);
      }
      expect(
        Object.keys(new DriverThriftClientStub()).filter((key) => !Object.keys(client).includes(key)),
      ).to.deep.equal([]);
      expect(observer.observesClient()).to.equal(true);
      expect(new ThriftClientObserver(immediately(emitter), context.getLogger()).observesClient()).to.equal(false);
    });

    it('gives the client its own methods back on release, ends what was open, and takes it up again', async () => {
      const ownFetch = () => 'own FetchResults';
      const odd = new DriverThriftClientStub() as unknown as Rpcs;
      odd.FetchResults = ownFetch;
      observer.observeClient(odd);
      await execute(started());
      observer.releaseClient(T0 + 5);
      expect(completes().map((event) => event.statementId)).to.deep.equal([OP_ID]);
      expect(Object.prototype.hasOwnProperty.call(odd, 'ExecuteStatement')).to.equal(false);
      expect(odd.FetchResults).to.equal(ownFetch);
      expect(observer.observesClient()).to.equal(false);
      observer.retried({ body: encodeThriftCall('CloseOperation', 1, OP) }, 1);
      observer.observeClient(odd);
      expect(Object.prototype.hasOwnProperty.call(odd, 'ExecuteStatement')).to.equal(true);
      expect(odd.FetchResults).not.to.equal(ownFetch);
      expect(observer.observesClient()).to.equal(true);
    });

    it('runs unobserved methods untouched and reports nothing for them', async () => {
      const delivered = await rpc('CloseOperation', { operationHandle: operationHandle(OP) });
      expect(delivered.count).to.equal(1);
      expect(client.calls.map((call) => call.self === client)).to.deep.equal([true]);
      expect(events).to.deep.equal([]);
    });

    it('keeps non-function values of RPC-named properties as they are', () => {
      const odd = { ExecuteStatement: 'not a function', FetchResults: 7 };
      observer.observeClient(odd);
      expect(odd).to.deep.equal({ ExecuteStatement: 'not a function', FetchResults: 7 });
    });

    it('logs at debug and leaves the client as it is when it cannot be observed', () => {
      const frozen = Object.freeze({ ExecuteStatement: () => undefined });
      const other = new ThriftClientObserver(immediately(emitter), context.getLogger());
      expect(() => other.observeClient(frozen)).not.to.throw();
      expect(other.observesClient()).to.equal(false);
      expect(context.logger.has(/could not observe the Thrift client/)).to.equal(true);
      expect(context.logger.aboveDebug()).to.deep.equal([]);
    });

    it('calls the original on the same `this` with the same request, and returns what it returns', async () => {
      const request = { sessionHandle: sessionHandle(SESSION), statement: 'SELECT 1' };
      const returned = proxy.ExecuteStatement.call(client, request, () => undefined);
      expect(returned).to.equal(undefined);
      expect(client.calls).to.have.length(1);
      expect(client.calls[0].request).to.equal(request);
      expect(client.calls[0].self).to.equal(client);
      const sentinel = { promise: true };
      const returning = { FetchResults: (_request: unknown, _callback?: ThriftCallback) => sentinel };
      observer.observeClient(returning);
      expect((returning as unknown as Rpcs).FetchResults({}, () => undefined)).to.equal(sentinel);
    });

    it('hands the callback exactly the same error and response objects, synchronously from the client callback', async () => {
      const names = [
        'ExecuteStatement',
        ...Object.keys(METADATA_RPCS),
        'GetOperationStatus',
        'GetResultSetMetadata',
        'FetchResults',
      ];
      for (const name of names) {
        const response = started(makeGuid(20), { directResults: undefined });
        const error = Object.assign(new Error('boom'), { code: 'ECONNRESET' });
        client.reply(name, { response }, { error, response: undefined });
        const request = { sessionHandle: sessionHandle(SESSION), operationHandle: operationHandle(makeGuid(20)) };
        let insideClientCallback: boolean[] = [];
        const got: Array<[unknown, unknown]> = [];
        const callback = (e: unknown, r: unknown) => {
          insideClientCallback.push(client.inCallback);
          got.push([e, r]);
        };
        proxy[name](request, callback);
        proxy[name](request, callback);
        await clock.tickAsync(0);
        expect(got, name).to.have.length(2);
        expect(got[0][0], name).to.equal(null);
        expect(got[0][1], name).to.equal(response);
        expect(got[1][0], name).to.equal(error);
        expect(got[1][1], name).to.equal(undefined);
        expect(insideClientCallback, name).to.deep.equal([true, true]);
        insideClientCallback = [];
        observer.completeAll(Date.now());
      }
    });

    it('observes a client observed again once, reporting to the newest observer', async () => {
      observer.observeClient(client);
      const nextEmitter = new TelemetryEventEmitter(context);
      const nextEvents = recordEvents(nextEmitter);
      const next = new ThriftClientObserver(immediately(nextEmitter), context.getLogger());
      next.observeClient(client);
      client.reply('ExecuteStatement', { response: started() });
      proxy.ExecuteStatement({ sessionHandle: sessionHandle(SESSION) }, () => undefined);
      await clock.tickAsync(0);
      expect(eventsOf(events, TelemetryEventType.STATEMENT_START)).to.have.length(0);
      expect(eventsOf(nextEvents, TelemetryEventType.STATEMENT_START)).to.have.length(1);
      expect(next.observesClient()).to.equal(true);
    });

    it('passes a callback-less call straight through and observes nothing', async () => {
      const response = started();
      client.reply('ExecuteStatement', { response });
      const returned = proxy.ExecuteStatement({ sessionHandle: sessionHandle(SESSION) });
      expect(returned).to.be.instanceOf(Promise);
      expect(await returned).to.equal(response);
      await clock.tickAsync(10);
      expect(events).to.deep.equal([]);
      expect(observer.isRunning(OP_ID)).to.equal(false);
    });

    it('keeps handing the callback its answer when a telemetry listener throws', async () => {
      emitter.on(TelemetryEventType.STATEMENT_START, () => {
        throw new Error('listener failure');
      });
      const response = started();
      const delivered = await execute(response);
      expect(delivered.count).to.equal(1);
      expect(delivered.response).to.equal(response);
    });

    it('keeps calling a method the application replaced on the client after the first call', async () => {
      await rpc('GetOperationStatus', { operationHandle: operationHandle(OP) });
      const replacement = sinon.spy((_request: unknown, callback?: ThriftCallback) =>
        callback?.(null, { replaced: true }),
      );
      (client as unknown as Rpcs).GetOperationStatus = replacement;
      const delivered = await rpc('GetOperationStatus', { operationHandle: operationHandle(OP) });
      expect(replacement.callCount).to.equal(1);
      expect(delivered.response).to.deep.equal({ replaced: true });
    });
  });

  describe('operation starts', () => {
    it('ExecuteStatement emits statement.start as a QUERY at the RPC start time', async () => {
      clock.tick(5);
      await execute(started(), 40);
      expect(events.map(compact)).to.deep.equal([
        {
          eventType: TelemetryEventType.STATEMENT_START,
          timestamp: T0 + 5,
          statementId: OP_ID,
          sessionId: SESSION_ID,
          statementType: 'QUERY',
          operationType: 'EXECUTE_STATEMENT',
        },
      ]);
      expect(observer.isRunning(OP_ID)).to.equal(true);
    });

    for (const [name, operationType] of Object.entries(METADATA_RPCS)) {
      it(`${name} emits statement.start as METADATA ${operationType}`, async () => {
        const op = makeGuid(30);
        await execute(started(op), 3, OTHER_SESSION, name);
        expect(events.map(compact)).to.deep.equal([
          {
            eventType: TelemetryEventType.STATEMENT_START,
            timestamp: T0,
            statementId: uuidOf(op),
            sessionId: uuidOf(OTHER_SESSION),
            statementType: 'METADATA',
            operationType,
          },
        ]);
      });
    }

    it('ignores a start without an operation handle or a session handle', async () => {
      await execute({ status: OK_STATUS });
      client.reply('ExecuteStatement', { response: started() });
      await rpc('ExecuteStatement', { statement: 'SELECT 1' });
      expect(events).to.deep.equal([]);
      expect(observer.isRunning(OP_ID)).to.equal(false);
    });
  });

  describe('direct results', () => {
    function direct(resultFormat: number, lz4Compressed: boolean | undefined, links: unknown[] = []) {
      return started(OP, {
        directResults: {
          operationStatus: { status: OK_STATUS, operationState: TOperationState.FINISHED_STATE },
          resultSetMetadata: { status: OK_STATUS, resultFormat, lz4Compressed, schema: { columns: [] } },
          resultSet: {
            status: OK_STATUS,
            hasMoreRows: false,
            results: { startRowOffset: 0, rows: [], resultLinks: links },
          },
        },
      });
    }

    it('reads a finished CloudFetch result: format, compression, announced chunks, readiness', async () => {
      const links = [
        { fileLink: 'https://bucket.example.com/result/0?sig=a', startRowOffset: 0, rowCount: 10 },
        { fileLink: 'https://bucket.example.com/result/1?sig=b', startRowOffset: 10, rowCount: 10 },
      ];
      await execute(direct(TSparkRowSetType.URL_BASED_SET, true, links), 25);
      expect(observer.isRunning(OP_ID)).to.equal(false);
      clock.tick(100);
      observer.completeStatement(OP_ID, Date.now());
      expect(completes().map(compact)).to.deep.equal([
        {
          eventType: TelemetryEventType.STATEMENT_COMPLETE,
          timestamp: T0 + 125,
          statementId: OP_ID,
          sessionId: SESSION_ID,
          latencyMs: 125,
          executionResult: 'EXTERNAL_LINKS',
          isCompressed: true,
          pollCount: 0,
          pollLatencyMs: 0,
          chunksPresent: 2,
          resultReadyLatencyMs: 25,
          resultConsumptionLatencyMs: 0,
          retryCount: 0,
        },
      ]);
    });

    const formats: Array<[string, number, string]> = [
      ['ARROW', TSparkRowSetType.ARROW_BASED_SET, 'INLINE_ARROW'],
      ['COLUMN', TSparkRowSetType.COLUMN_BASED_SET, 'COLUMNAR_INLINE'],
      ['URL', TSparkRowSetType.URL_BASED_SET, 'EXTERNAL_LINKS'],
    ];
    for (const [label, resultFormat, expected] of formats) {
      it(`reports ${label} results as ${expected}, uncompressed`, async () => {
        await execute(direct(resultFormat, false));
        observer.completeStatement(OP_ID, Date.now());
        const [complete] = completes();
        expect(complete.executionResult).to.equal(expected);
        expect(complete.isCompressed).to.equal(false);
        expect(complete.chunksPresent).to.equal(undefined);
      });
    }

    it('leaves compression unknown when the metadata does not say', async () => {
      await execute(direct(TSparkRowSetType.ARROW_BASED_SET, undefined));
      observer.completeStatement(OP_ID, Date.now());
      expect(completes()[0].isCompressed).to.equal(undefined);
    });

    it('registers the announced links with their chunk indices for the CloudFetch registry', async () => {
      const links = [
        { fileLink: 'https://bucket.example.com/r/0' },
        { fileLink: 42 },
        { fileLink: 'https://bucket.example.com/r/2' },
      ];
      await execute(direct(TSparkRowSetType.URL_BASED_SET, true, links));
      const second = fakeDownload('bucket.example.com', '/r/2', 200, 4096);
      observer.links.observeRequest(second.request);
      clock.tick(7);
      second.finish();
      expect(eventsOf(events, TelemetryEventType.CLOUDFETCH_CHUNK).map(compact)).to.deep.equal([
        {
          eventType: TelemetryEventType.CLOUDFETCH_CHUNK,
          timestamp: T0 + 7,
          statementId: OP_ID,
          chunkIndex: 2,
          latencyMs: 7,
          bytes: 4096,
          compressed: true,
        },
      ]);
      observer.completeStatement(OP_ID, Date.now());
      expect(completes()[0]).to.include({ chunksPresent: 3, resultConsumptionLatencyMs: 7 });
    });
  });

  describe('polls, metadata and fetches', () => {
    it('counts GetOperationStatus polls with their latency until FINISHED', async () => {
      await execute(started(), 10);
      await poll(TOperationState.RUNNING_STATE, 100);
      expect(observer.isRunning(OP_ID)).to.equal(true);
      await poll(TOperationState.PENDING_STATE, 150);
      clock.tick(20);
      await poll(TOperationState.FINISHED_STATE, 30);
      expect(observer.isRunning(OP_ID)).to.equal(false);
      client.reply('GetResultSetMetadata', {
        response: { status: OK_STATUS, resultFormat: TSparkRowSetType.ARROW_BASED_SET, lz4Compressed: true },
      });
      await rpc('GetResultSetMetadata', { operationHandle: operationHandle(OP) });
      clock.tick(40);
      client.reply('FetchResults', {
        response: { status: OK_STATUS, hasMoreRows: false, results: { arrowBatches: [] } },
        delayMs: 5,
      });
      await rpc('FetchResults', { operationHandle: operationHandle(OP) }, 5);
      clock.tick(1000);
      observer.completeStatement(OP_ID, Date.now());
      expect(compact(completes()[0])).to.deep.include({
        latencyMs: 10 + 100 + 150 + 20 + 30 + 40 + 5 + 1000,
        pollCount: 3,
        pollLatencyMs: 280,
        executionResult: 'INLINE_ARROW',
        isCompressed: true,
        resultReadyLatencyMs: 310,
        resultConsumptionLatencyMs: 45,
      });
      expect(completes()[0].chunksPresent).to.equal(undefined);
    });

    it('counts chunk indices on across FetchResults pages', async () => {
      await execute(started());
      client.reply(
        'FetchResults',
        {
          response: {
            status: OK_STATUS,
            hasMoreRows: true,
            results: { resultLinks: [{ fileLink: 'http://h/a' }, { fileLink: 'http://h/b' }] },
          },
        },
        { response: { status: OK_STATUS, hasMoreRows: false, results: { resultLinks: [{ fileLink: 'http://h/c' }] } } },
      );
      await rpc('FetchResults', { operationHandle: operationHandle(OP) });
      await rpc('FetchResults', { operationHandle: operationHandle(OP) });
      const third = fakeDownload('h', '/c');
      observer.links.observeRequest(third.request);
      third.finish();
      expect(eventsOf(events, TelemetryEventType.CLOUDFETCH_CHUNK).map((event) => event.chunkIndex)).to.deep.equal([2]);
      observer.completeStatement(OP_ID, Date.now());
      expect(completes()[0].chunksPresent).to.equal(3);
    });

    it('ignores polls and fetches of operations it did not see start', async () => {
      await poll(TOperationState.FINISHED_STATE, 5, {}, makeGuid(99));
      client.reply('FetchResults', {
        response: { status: { statusCode: TStatusCode.ERROR_STATUS, sqlState: '42000' } },
      });
      await rpc('FetchResults', { operationHandle: operationHandle(makeGuid(99)) });
      expect(events).to.deep.equal([]);
    });

    it('treats CANCELED and CLOSED as final without an error', async () => {
      const other = makeGuid(11);
      await execute(started());
      await execute(started(other));
      await poll(TOperationState.CANCELED_STATE, 1);
      await poll(TOperationState.CLOSED_STATE, 1, {}, other);
      expect(observer.isRunning(OP_ID)).to.equal(false);
      expect(observer.isRunning(uuidOf(other))).to.equal(false);
      expect(errors()).to.deep.equal([]);
      observer.completeStatement(OP_ID, Date.now());
      expect(completes()[0].resultReadyLatencyMs).to.equal(undefined);
    });
  });

  describe('errors', () => {
    const SECRET = 'Table or view not found: customers_pii_ssn';

    it('reports ERROR_STATE by its SQLSTATE, terminal, never the message', async () => {
      await execute(started());
      await poll(TOperationState.ERROR_STATE, 20, { sqlState: '42P01', errorMessage: SECRET, displayMessage: SECRET });
      expect(errors().map(compact)).to.deep.equal([
        {
          eventType: TelemetryEventType.ERROR,
          timestamp: T0 + 20,
          statementId: OP_ID,
          sessionId: SESSION_ID,
          errorName: '42P01',
          isTerminal: true,
          retryCount: 0,
        },
      ]);
      expect(JSON.stringify(events)).not.to.include('customers_pii_ssn');
      expect(observer.isRunning(OP_ID)).to.equal(false);
    });

    it('falls back to a fixed name when the sqlState is not a SQLSTATE', async () => {
      for (const [seed, sqlState] of [
        [40, SECRET],
        [41, undefined],
        [42, '42p01'],
        [43, '4200'],
        [44, 42000],
      ] as Array<[number, unknown]>) {
        await execute(started(makeGuid(seed)));
        await poll(TOperationState.ERROR_STATE, 1, { sqlState, errorMessage: SECRET }, makeGuid(seed));
      }
      expect(errors().map((event) => event.errorName)).to.deep.equal(Array(5).fill('OperationError'));
      expect(JSON.stringify(events)).not.to.include('customers_pii_ssn');
    });

    it('reports TIMEDOUT_STATE as OperationTimedOut', async () => {
      await execute(started());
      await poll(TOperationState.TIMEDOUT_STATE, 1, { sqlState: '57014' });
      expect(errors().map((event) => [event.errorName, event.isTerminal])).to.deep.equal([['OperationTimedOut', true]]);
      expect(observer.isRunning(OP_ID)).to.equal(false);
    });

    it('reports an error status in direct results as the statement error', async () => {
      await execute(
        started(OP, {
          directResults: {
            operationStatus: { status: OK_STATUS, operationState: TOperationState.ERROR_STATE, sqlState: '42601' },
          },
        }),
      );
      expect(events.map((event) => event.eventType)).to.deep.equal([
        TelemetryEventType.STATEMENT_START,
        TelemetryEventType.ERROR,
      ]);
      expect(errors()[0]).to.include({ statementId: OP_ID, errorName: '42601', isTerminal: true });
    });

    it('reports an error status on start after the start, by SQLSTATE or StatusError', async () => {
      await execute({
        status: { statusCode: TStatusCode.ERROR_STATUS, sqlState: '42601', errorMessage: SECRET },
        operationHandle: operationHandle(OP),
        directResults: { operationStatus: { operationState: TOperationState.FINISHED_STATE } },
      });
      expect(events.map((event) => event.eventType)).to.deep.equal([
        TelemetryEventType.STATEMENT_START,
        TelemetryEventType.ERROR,
      ]);
      expect(compact(errors()[0])).to.deep.include({
        statementId: OP_ID,
        sessionId: SESSION_ID,
        errorName: '42601',
        isTerminal: true,
      });
      expect(observer.isRunning(OP_ID)).to.equal(false);

      const other = makeGuid(12);
      await execute({
        status: { statusCode: TStatusCode.INVALID_HANDLE_STATUS, errorMessage: SECRET },
        operationHandle: operationHandle(other),
      });
      expect(errors()[1]).to.include({ statementId: uuidOf(other), errorName: 'StatusError' });
      expect(JSON.stringify(events)).not.to.include('customers_pii_ssn');
    });

    it('reports an error status on start without an operation handle against the session', async () => {
      await execute({ status: { statusCode: TStatusCode.ERROR_STATUS, sqlState: '28000', errorMessage: SECRET } });
      await execute({ status: { statusCode: TStatusCode.ERROR_STATUS, sqlState: SECRET } });
      expect(eventsOf(events, TelemetryEventType.STATEMENT_START)).to.deep.equal([]);
      expect(errors().map(compact)).to.deep.equal([
        {
          eventType: TelemetryEventType.ERROR,
          timestamp: T0,
          sessionId: SESSION_ID,
          errorName: '28000',
          isTerminal: true,
        },
        {
          eventType: TelemetryEventType.ERROR,
          timestamp: T0,
          sessionId: SESSION_ID,
          errorName: 'StatusError',
          isTerminal: true,
        },
      ]);
    });

    it('reports an error status on a later RPC and does not count it as a poll', async () => {
      await execute(started());
      client.reply('GetOperationStatus', {
        response: { status: { statusCode: TStatusCode.ERROR_STATUS, sqlState: 'HY000', errorMessage: SECRET } },
      });
      await rpc('GetOperationStatus', { operationHandle: operationHandle(OP) });
      expect(errors().map((event) => [event.statementId, event.errorName])).to.deep.equal([[OP_ID, 'HY000']]);
      observer.completeStatement(OP_ID, Date.now());
      expect(completes()[0].pollCount).to.equal(0);
    });

    it('reports an RPC failure of a known operation as terminal, by class name', async () => {
      class ThriftTransportError extends Error {}
      await execute(started());
      const error = new ThriftTransportError(SECRET);
      client.reply('FetchResults', { error });
      const delivered = await rpc('FetchResults', { operationHandle: operationHandle(OP) });
      expect(delivered.error).to.equal(error);
      expect(errors().map(compact)).to.deep.equal([
        {
          eventType: TelemetryEventType.ERROR,
          timestamp: T0,
          statementId: OP_ID,
          sessionId: SESSION_ID,
          errorName: 'ThriftTransportError',
          isTerminal: true,
          retryCount: 0,
        },
      ]);
      expect(JSON.stringify(events)).not.to.include('customers_pii_ssn');
    });

    it('reports a failed start against the session, by SQLSTATE when the error has one', async () => {
      client.reply('ExecuteStatement', { error: Object.assign(new Error(SECRET), { sqlState: '08S01' }) });
      await rpc('ExecuteStatement', { sessionHandle: sessionHandle(SESSION) });
      client.reply('GetCatalogs', { error: 'a bare string' });
      await rpc('GetCatalogs', {});
      expect(errors().map(compact)).to.deep.equal([
        {
          eventType: TelemetryEventType.ERROR,
          timestamp: T0,
          sessionId: SESSION_ID,
          errorName: '08S01',
          isTerminal: true,
        },
        { eventType: TelemetryEventType.ERROR, timestamp: T0, errorName: 'UnknownError', isTerminal: true },
      ]);
      expect(eventsOf(events, TelemetryEventType.STATEMENT_START)).to.deep.equal([]);
    });
  });

  describe('retries the driver made', () => {
    /** Sends `name` (answered after 10 ms), reports `retries` for it by its sequence id, then lets it answer. */
    async function retriedRpc(name: string, request: unknown, response: object, retries: number): Promise<void> {
      client.reply(name, { response, delayMs: 10 });
      proxy[name](request, () => undefined);
      observer.retried({ body: encodeThriftCall(name, client._seqid) }, retries);
      await clock.tickAsync(10);
    }

    it('adds the retries of a call it reads to its operation, found by the call sequence id', async () => {
      await execute(started());
      await retriedRpc(
        'GetOperationStatus',
        { operationHandle: operationHandle(OP) },
        { status: OK_STATUS, operationState: TOperationState.FINISHED_STATE },
        2,
      );
      await retriedRpc('GetResultSetMetadata', { operationHandle: operationHandle(OP) }, { status: OK_STATUS }, 1);
      observer.completeStatement(OP_ID, T0 + 50);
      expect(completes()[0]).to.include({ statementId: OP_ID, retryCount: 3 });
    });

    it('gives the retries of a call that starts an operation to the operation it starts, and to no other', async () => {
      await retriedRpc('GetCatalogs', { sessionHandle: sessionHandle(SESSION) }, started(), 1);
      const other = makeGuid(11);
      await execute(started(other));
      observer.completeStatement(OP_ID, T0 + 50);
      observer.completeStatement(uuidOf(other), T0 + 50);
      expect(completes().map((event) => [event.statementId, event.retryCount])).to.deep.equal([
        [OP_ID, 1],
        [uuidOf(other), 0],
      ]);
    });

    it('finds a call it does not read (a close) by the operation handle in its request', async () => {
      await execute(started());
      observer.retried({ body: encodeThriftCall('CloseOperation', 77, OP) }, 2);
      observer.statementClosed(OP_ID, T0 + 50);
      expect(completes()[0]).to.include({ retryCount: 2 });
    });

    it('reports the retries made before a call failed with the error that ends the statement', async () => {
      await execute(started());
      client.reply('GetOperationStatus', {
        error: Object.assign(new Error('503'), { name: 'HiveDriverError' }),
        delayMs: 10,
      });
      proxy.GetOperationStatus({ operationHandle: operationHandle(OP) }, () => undefined);
      observer.retried({ body: encodeThriftCall('GetOperationStatus', client._seqid) }, 4);
      await clock.tickAsync(10);
      expect(errors()[0]).to.include({ statementId: OP_ID, isTerminal: true, retryCount: 4 });
    });

    it('finds a retried CloudFetch download by its link, where the driver reports its downloads', async () => {
      const reported = new ThriftClientObserver(immediately(emitter), context.getLogger(), undefined, true);
      const other = new DriverThriftClientStub();
      reported.observeClient(other);
      other.reply('ExecuteStatement', {
        response: started(OP, {
          directResults: { resultSet: { results: { resultLinks: [{ fileLink: 'https://bucket/a?sig=1' }] } } },
        }),
      });
      (other as unknown as Rpcs).ExecuteStatement(
        { sessionHandle: sessionHandle(SESSION), statement: 'SELECT 1' },
        () => undefined,
      );
      await clock.tickAsync(0);
      reported.retried({ url: 'https://bucket/a?sig=1' }, 1);
      reported.retried({ url: 'https://bucket/unknown' }, 5);
      reported.statementClosed(OP_ID, T0 + 50);
      expect(completes()[0]).to.include({ retryCount: 1 });
    });

    it('ignores what it cannot read: no body, a body that is not a Thrift call, a call it never saw', async () => {
      await execute(started());
      observer.retried(undefined, 1);
      observer.retried({ body: Buffer.from('not thrift') }, 1);
      observer.retried({ body: encodeThriftCall('GetOperationStatus', 9999) }, 1);
      observer.retried({ body: encodeThriftCall('CloseOperation', 78, makeGuid(99)) }, 1);
      observer.statementClosed(OP_ID, T0 + 50);
      expect(completes()[0]).to.include({ retryCount: 0 });
    });
  });

  describe('held for a batch', () => {
    let queue: DeferredEvents;
    let held: ThriftClientObserver;

    beforeEach(() => {
      queue = new DeferredEvents(emitter);
      held = new ThriftClientObserver(queue, context.getLogger());
      held.observeClient(client);
    });

    it('reads RPCs, closes and start times only when the batch goes out, in the order they came', async () => {
      await execute(started(), 20);
      held.setStartTime(OP_ID, T0);
      await poll(TOperationState.FINISHED_STATE, 10);
      held.statementClosed(OP_ID, T0 + 40);
      expect(events).to.deep.equal([]);
      expect(held.isRunning(OP_ID)).to.equal(false);
      queue.deliver();
      expect(events.map((event) => event.eventType)).to.deep.equal([
        TelemetryEventType.STATEMENT_START,
        TelemetryEventType.STATEMENT_COMPLETE,
      ]);
      expect(completes()[0]).to.include({ latencyMs: 40, pollCount: 1, pollLatencyMs: 10, resultReadyLatencyMs: 30 });
    });

    it('goes out on its own within 100 ms', async () => {
      await execute(started());
      expect(events).to.deep.equal([]);
      await clock.tickAsync(100);
      expect(events.map((event) => event.eventType)).to.deep.equal([TelemetryEventType.STATEMENT_START]);
      expect(held.isRunning(OP_ID)).to.equal(true);
    });

    it('reads a response that announces CloudFetch links at once, after everything held before it', async () => {
      await execute(started());
      client.reply('FetchResults', {
        response: { status: OK_STATUS, hasMoreRows: false, results: { resultLinks: [{ fileLink: 'http://h/a' }] } },
      });
      await rpc('FetchResults', { operationHandle: operationHandle(OP) });
      expect(events.map((event) => event.eventType)).to.deep.equal([TelemetryEventType.STATEMENT_START]);
      const download = fakeDownload('h', '/a');
      held.links.observeRequest(download.request);
      download.finish();
      held.statementClosed(OP_ID, Date.now());
      queue.deliver();
      expect(completes()[0]).to.include({ chunksPresent: 1 });
      expect(eventsOf(events, TelemetryEventType.CLOUDFETCH_CHUNK)).to.have.length(1);
    });

    it('reads a start that announces links at once, and leaves what is held before it held', async () => {
      const other = makeGuid(11);
      await execute(started(other));
      held.statementClosed(uuidOf(other), Date.now());
      await execute(
        started(OP, { directResults: { resultSet: { results: { resultLinks: [{ fileLink: 'http://h/a' }] } } } }),
      );
      expect(held.isRunning(OP_ID)).to.equal(true);
      expect(events).to.deep.equal([]);
      queue.deliver();
      expect(events.map((event) => [event.eventType, (event as { statementId?: string }).statementId])).to.deep.equal([
        [TelemetryEventType.STATEMENT_START, uuidOf(other)],
        [TelemetryEventType.STATEMENT_COMPLETE, uuidOf(other)],
        [TelemetryEventType.STATEMENT_START, OP_ID],
      ]);
    });

    it('only counts links, and holds what announces them, when the driver reports its downloads', async () => {
      let watched = 0;
      const reported = new ThriftClientObserver(queue, context.getLogger(), () => (watched += 1), true);
      const other = new DriverThriftClientStub();
      reported.observeClient(other);
      other.reply('ExecuteStatement', {
        response: started(OP, {
          directResults: {
            resultSet: { results: { resultLinks: [{ fileLink: 'http://h/a' }, { fileLink: 'http://h/b' }] } },
          },
        }),
      });
      (other as unknown as Rpcs).ExecuteStatement(
        { sessionHandle: sessionHandle(SESSION), statement: 'SELECT 1' },
        () => undefined,
      );
      await clock.tickAsync(0);
      expect(events).to.deep.equal([]);
      queue.deliver();
      const download = fakeDownload('h', '/a');
      reported.links.observeRequest(download.request);
      download.finish();
      reported.statementClosed(OP_ID, Date.now());
      queue.deliver();
      expect(watched).to.equal(0);
      expect(eventsOf(events, TelemetryEventType.CLOUDFETCH_CHUNK)).to.deep.equal([]);
      expect(completes()[0]).to.include({ chunksPresent: 2 });
    });

    it('completes what a session left open after reading what is held', async () => {
      await execute(started());
      held.completeSession(SESSION_ID, T0 + 5);
      queue.deliver();
      expect(events.map((event) => event.eventType)).to.deep.equal([
        TelemetryEventType.STATEMENT_START,
        TelemetryEventType.STATEMENT_COMPLETE,
      ]);
    });
  });

  describe('completion', () => {
    it('completes a statement once, with the latency from the application call time', async () => {
      clock.tick(30);
      await execute(started(), 20);
      observer.setStartTime(OP_ID, T0);
      clock.tick(50);
      observer.completeStatement(OP_ID, Date.now());
      observer.completeStatement(OP_ID, Date.now() + 10);
      expect(completes().map(compact)).to.deep.equal([
        {
          eventType: TelemetryEventType.STATEMENT_COMPLETE,
          timestamp: T0 + 100,
          statementId: OP_ID,
          sessionId: SESSION_ID,
          latencyMs: 100,
          pollCount: 0,
          pollLatencyMs: 0,
          retryCount: 0,
        },
      ]);
      expect(observer.isRunning(OP_ID)).to.equal(false);
    });

    it('measures readiness from the application call time too', async () => {
      clock.tick(30);
      await execute(started(), 20);
      observer.setStartTime(OP_ID, T0);
      await poll(TOperationState.FINISHED_STATE, 10);
      observer.completeStatement(OP_ID, Date.now());
      expect(completes()[0]).to.include({ latencyMs: 60, resultReadyLatencyMs: 60 });
    });

    it('ignores setStartTime and completeStatement for unknown statements', () => {
      observer.setStartTime('00000000-0000-4000-8000-000000000000', 1);
      observer.completeStatement('00000000-0000-4000-8000-000000000000', T0);
      expect(events).to.deep.equal([]);
    });

    it('forgets the links of a completed statement', async () => {
      await execute(
        started(OP, { directResults: { resultSet: { results: { resultLinks: [{ fileLink: 'http://h/x' }] } } } }),
      );
      observer.completeStatement(OP_ID, Date.now());
      const download = fakeDownload('h', '/x');
      observer.links.observeRequest(download.request);
      download.finish();
      expect(eventsOf(events, TelemetryEventType.CLOUDFETCH_CHUNK)).to.deep.equal([]);
    });

    it('completeSession completes only that session, completeAll the rest', async () => {
      const a1 = makeGuid(50);
      const a2 = makeGuid(51);
      const b1 = makeGuid(52);
      await execute(started(a1), 0, SESSION);
      await execute(started(a2), 0, SESSION, 'GetTables');
      await execute(started(b1), 0, OTHER_SESSION);
      clock.tick(10);
      observer.completeSession(SESSION_ID, Date.now());
      expect(completes().map((event) => event.statementId)).to.have.members([uuidOf(a1), uuidOf(a2)]);
      expect(completes().every((event) => event.sessionId === SESSION_ID && event.latencyMs === 10)).to.equal(true);
      expect(observer.isRunning(uuidOf(b1))).to.equal(true);
      observer.completeSession(SESSION_ID, Date.now());
      expect(completes()).to.have.length(2);

      clock.tick(5);
      observer.completeAll(Date.now());
      expect(completes().map((event) => [event.statementId, event.sessionId, event.latencyMs])).to.deep.equal([
        [uuidOf(a1), SESSION_ID, 10],
        [uuidOf(a2), SESSION_ID, 10],
        [uuidOf(b1), uuidOf(OTHER_SESSION), 15],
      ]);
      expect(observer.isRunning(uuidOf(b1))).to.equal(false);
      observer.completeAll(Date.now());
      expect(completes()).to.have.length(3);
    });

    it('isRunning is false for unknown statements', () => {
      expect(observer.isRunning(OP_ID)).to.equal(false);
      expect(observer.isRunning('')).to.equal(false);
    });
  });

  describe('rows returned', () => {
    /** A Thrift i64 as the driver decodes it: an object whose value is the number. */
    class Int64Like {
      constructor(private readonly value: number) {}

      valueOf(): number {
        return this.value;
      }
    }

    function fetch(results: unknown, op = OP): Promise<Delivered> {
      client.reply('FetchResults', { response: { status: OK_STATUS, hasMoreRows: false, results } });
      return rpc('FetchResults', { operationHandle: operationHandle(op) });
    }

    function rowsReturned(op = OP): unknown {
      observer.completeStatement(uuidOf(op), Date.now());
      return completes().find((event) => event.statementId === uuidOf(op))?.rowsReturned;
    }

    it('are not counted without the OpenTelemetry output, their only reader', async () => {
      await execute(started());
      await fetch({ arrowBatches: [{ rowCount: 3 }] });
      expect(rowsReturned()).to.equal(undefined);
    });

    describe('with the OpenTelemetry output on', () => {
      beforeEach(() => {
        observer = new ThriftClientObserver(immediately(emitter), context.getLogger(), undefined, false, {
          queryText: false,
          activeContext: () => 'ctx',
        });
        observer.observeClient(client);
      });

      it('counts the values of the first column of each columnar page, direct results included', async () => {
        await execute(
          started(OP, {
            directResults: {
              resultSet: {
                status: OK_STATUS,
                results: {
                  startRowOffset: 0,
                  rows: [],
                  columns: [{ i32Val: { values: [1, 2, 3], nulls: Buffer.alloc(1) } }, { stringVal: { values: [] } }],
                },
              },
            },
          }),
        );
        // A decoded TColumn has every field, unset ones null, before the one that holds the values.
        await fetch({
          columns: [
            {
              boolVal: null,
              byteVal: null,
              i16Val: null,
              i32Val: null,
              i64Val: { values: [new Int64Like(1), new Int64Like(2)], nulls: Buffer.alloc(1) },
            },
          ],
        });
        await fetch({ columns: [{ stringVal: { values: [], nulls: Buffer.alloc(0) } }] });
        expect(rowsReturned()).to.equal(5);
      });

      it('sums the rowCount of Arrow batches, numbers or Int64 objects', async () => {
        await execute(
          started(OP, {
            directResults: {
              resultSet: {
                results: { arrowBatches: [{ batch: Buffer.alloc(8), rowCount: new Int64Like(1000) }] },
              },
            },
          }),
        );
        await fetch({
          arrowBatches: [
            { batch: Buffer.alloc(8), rowCount: new Int64Like(24) },
            { batch: Buffer.alloc(8), rowCount: 6 },
          ],
        });
        await fetch({ arrowBatches: [] });
        expect(rowsReturned()).to.equal(1030);
      });

      it('sums the rowCount of CloudFetch links over every page', async () => {
        await execute(
          started(OP, {
            directResults: {
              resultSet: {
                results: { resultLinks: [{ fileLink: 'http://h/0', startRowOffset: 0, rowCount: new Int64Like(500) }] },
              },
            },
          }),
        );
        await fetch({
          resultLinks: [
            { fileLink: 'http://h/1', startRowOffset: 500, rowCount: 250 },
            { fileLink: 'http://h/2', startRowOffset: 750, rowCount: new Int64Like(250) },
          ],
        });
        expect(rowsReturned()).to.equal(1000);
      });

      it('counts rows per statement', async () => {
        const other = makeGuid(11);
        await execute(started());
        await execute(started(other));
        await fetch({ arrowBatches: [{ rowCount: 3 }] });
        await fetch({ arrowBatches: [{ rowCount: 40 }] }, other);
        await fetch({ arrowBatches: [{ rowCount: 4 }] });
        expect(rowsReturned()).to.equal(7);
        expect(rowsReturned(other)).to.equal(40);
      });

      it('is unset for a statement whose results were never fetched', async () => {
        await execute(started());
        expect(rowsReturned()).to.equal(undefined);
      });

      it('does not count a page whose response reports an error', async () => {
        await execute(started());
        client.reply('FetchResults', {
          response: {
            status: { statusCode: TStatusCode.ERROR_STATUS, sqlState: '42000' },
            results: { arrowBatches: [{ rowCount: 99 }] },
          },
        });
        await rpc('FetchResults', { operationHandle: operationHandle(OP) });
        client.reply('FetchResults', { error: new Error('socket hang up') });
        await rpc('FetchResults', { operationHandle: operationHandle(OP) });
        expect(rowsReturned()).to.equal(undefined);
      });

      const malformed: Array<[string, unknown]> = [
        ['null results', null],
        ['string results', 'rows'],
        ['a number', 12],
        ['no known field', { rows: [{}, {}] }],
        ['non-array columns', { columns: { i32Val: { values: [1, 2] } } }],
        ['empty columns', { columns: [] }],
        ['a null column', { columns: [null, { i32Val: { values: [1] } }] }],
        ['a column without values', { columns: [{ i32Val: null, stringVal: {} }] }],
        ['non-array values', { columns: [{ i32Val: { values: 'abc' } }] }],
        [
          'bad Arrow row counts',
          {
            arrowBatches: [
              null,
              7,
              {},
              { rowCount: -3 },
              { rowCount: 1.5 },
              { rowCount: Number.NaN },
              { rowCount: Number.POSITIVE_INFINITY },
              { rowCount: 2 ** 60 },
              { rowCount: new Int64Like(-5) },
              { rowCount: 'many' },
              { rowCount: {} },
              { rowCount: null },
            ],
          },
        ],
        ['bad link row counts', { resultLinks: [null, { fileLink: 'http://h/x' }, { rowCount: -1 }] }],
        ['non-array batches and links', { arrowBatches: 'x', resultLinks: { rowCount: 5 } }],
      ];
      for (const [label, results] of malformed) {
        it(`counts 0 for ${label}, and never throws`, async () => {
          await execute(started());
          const delivered = await fetch(results);
          expect(delivered.count).to.equal(1);
          expect(rowsReturned()).to.equal(0);
          expect(context.logger.aboveDebug()).to.deep.equal([]);
        });
      }

      it('keeps counting the good pages around a malformed one', async () => {
        await execute(started());
        await fetch({ arrowBatches: [{ rowCount: 2 }, { rowCount: -9 }, null] });
        await fetch({ columns: 'broken' });
        await fetch({ columns: [{ doubleVal: { values: [0.5, 1.5, 2.5] } }] });
        expect(rowsReturned()).to.equal(5);
      });
    });
  });

  describe('query text', () => {
    const TEXT = "SELECT * FROM t WHERE email = 'alice@example.com'";

    function capturing(capture: boolean | undefined): ThriftClientObserver {
      const created =
        capture === undefined
          ? new ThriftClientObserver(immediately(emitter), context.getLogger(), undefined, false)
          : new ThriftClientObserver(immediately(emitter), context.getLogger(), undefined, false, {
              queryText: capture,
              activeContext: () => undefined,
            });
      created.observeClient(client);
      return created;
    }

    function starts() {
      return eventsOf(events, TelemetryEventType.STATEMENT_START);
    }

    async function executeText(statement: unknown, op = OP): Promise<void> {
      client.reply('ExecuteStatement', { response: started(op) });
      await rpc('ExecuteStatement', { sessionHandle: sessionHandle(SESSION), statement });
    }

    it('is never on the start event by default', async () => {
      await executeText(TEXT);
      capturing(undefined);
      await executeText(TEXT, makeGuid(11));
      capturing(false);
      await executeText(TEXT, makeGuid(12));
      expect(starts()).to.have.length(3);
      for (const start of starts()) {
        expect(start.queryText).to.equal(undefined);
      }
      expect(JSON.stringify(events)).not.to.include('alice');
    });

    it("is the ExecuteStatement request's statement when the output asks for it", async () => {
      capturing(true);
      await executeText(TEXT);
      expect(starts().map(compact)).to.deep.equal([
        {
          eventType: TelemetryEventType.STATEMENT_START,
          timestamp: T0,
          statementId: OP_ID,
          sessionId: SESSION_ID,
          statementType: 'QUERY',
          operationType: 'EXECUTE_STATEMENT',
          queryText: TEXT,
        },
      ]);
    });

    it('is absent for metadata operations and for a statement that is not a string', async () => {
      capturing(true);
      client.reply('GetTables', { response: started(makeGuid(11)) });
      await rpc('GetTables', { sessionHandle: sessionHandle(SESSION), tableName: 'secrets' });
      await executeText(Buffer.from(TEXT), makeGuid(12));
      await executeText(undefined, makeGuid(13));
      expect(starts()).to.have.length(3);
      for (const start of starts()) {
        expect(start.queryText).to.equal(undefined);
      }
    });

    it('is never on the complete or error events', async () => {
      const created = capturing(true);
      await executeText(TEXT);
      await poll(TOperationState.ERROR_STATE, 1, { sqlState: '42P01' });
      created.completeStatement(OP_ID, Date.now());
      expect(starts()[0].queryText).to.equal(TEXT);
      const rest = events.filter((event) => event.eventType !== TelemetryEventType.STATEMENT_START);
      expect(rest.map((event) => event.eventType)).to.include.members([
        TelemetryEventType.ERROR,
        TelemetryEventType.STATEMENT_COMPLETE,
      ]);
      expect(JSON.stringify(rest)).not.to.include('alice');
    });
  });

  describe("the application's OpenTelemetry context", () => {
    it('is captured when an operation-starting call is sent, not when its outcome is read', async () => {
      let active = 'at send';
      const observed = new ThriftClientObserver(immediately(emitter), context.getLogger(), undefined, false, {
        queryText: false,
        activeContext: () => active,
      });
      observed.observeClient(client);
      client.reply('ExecuteStatement', { response: started() });
      const call = rpc('ExecuteStatement', { sessionHandle: sessionHandle(SESSION), statement: 'SELECT 1' });
      active = 'at delivery';
      await call;
      observed.completeStatement(OP_ID, Date.now());
      const [start] = eventsOf(events, TelemetryEventType.STATEMENT_START);
      expect(start.parentContext).to.equal('at send');
    });

    it('is not asked for at all when OpenTelemetry output is off', async () => {
      await execute(started());
      const [start] = eventsOf(events, TelemetryEventType.STATEMENT_START);
      expect(start.parentContext).to.equal(undefined);
    });
  });

  describe('malformed responses and requests', () => {
    function throwingGetter(): object {
      return Object.defineProperty({}, 'operationHandle', {
        get() {
          throw new Error('hostile getter');
        },
        enumerable: true,
      });
    }

    function hostileProxy(): object {
      return new Proxy(
        {},
        {
          get() {
            throw new Error('hostile proxy');
          },
        },
      );
    }

    const badResponses: Array<[string, () => unknown]> = [
      ['null', () => null],
      ['undefined', () => undefined],
      ['a string', () => 'OK'],
      ['a number', () => 42],
      ['an empty object', () => ({})],
      ['a null status', () => ({ status: null, operationHandle: null })],
      ['a string status', () => ({ status: 'ERROR_STATUS' })],
      ['a handle without a guid', () => ({ status: OK_STATUS, operationHandle: { operationId: {} } })],
      ['a string guid', () => ({ status: OK_STATUS, operationHandle: { operationId: { guid: 'x'.repeat(16) } } })],
      ['a short guid', () => ({ status: OK_STATUS, operationHandle: operationHandle(Buffer.alloc(8)) })],
      ['odd direct results', () => started(makeGuid(60), { directResults: 'yes' })],
      [
        'direct results with nulls',
        () =>
          started(makeGuid(61), {
            directResults: { operationStatus: null, resultSetMetadata: null, resultSet: { results: null } },
          }),
      ],
      [
        'non-array result links',
        () => started(makeGuid(62), { directResults: { resultSet: { results: { resultLinks: 'nope' } } } }),
      ],
      [
        'null links',
        () => started(makeGuid(63), { directResults: { resultSet: { results: { resultLinks: [null, 7, {}] } } } }),
      ],
      ['a throwing getter', throwingGetter],
      ['a throwing proxy', hostileProxy],
      ['an array', () => [1, 2, 3]],
    ];

    const names = ['ExecuteStatement', 'GetSchemas', 'GetOperationStatus', 'GetResultSetMetadata', 'FetchResults'];

    for (const [label, make] of badResponses) {
      it(`never throws and hands over ${label} unchanged`, async () => {
        // A known open operation, so later RPCs are looked at too.
        await execute(started());
        for (const name of names) {
          const response = make();
          client.reply(name, { response });
          const request = { sessionHandle: sessionHandle(SESSION), operationHandle: operationHandle(OP) };
          const delivered = await rpc(name, request);
          expect(delivered.count, name).to.equal(1);
          expect(delivered.error, name).to.equal(null);
          expect(delivered.response, name).to.equal(response);
        }
        expect(context.logger.aboveDebug()).to.deep.equal([]);
      });
    }

    it('logs an observation failure at debug level only', async () => {
      client.reply('ExecuteStatement', { response: hostileProxy() });
      await rpc('ExecuteStatement', { sessionHandle: sessionHandle(SESSION) });
      expect(context.logger.has(/could not observe ExecuteStatement/)).to.equal(true);
      expect(context.logger.aboveDebug()).to.deep.equal([]);
    });

    it('never throws on malformed requests', async () => {
      const requests: unknown[] = [
        undefined,
        null,
        'req',
        5,
        {},
        throwingGetter(),
        hostileProxy(),
        { sessionHandle: { sessionId: null } },
      ];
      for (const name of names) {
        for (const request of requests) {
          const response = started(makeGuid(70));
          client.reply(name, { response });
          const delivered = await rpc(name, request);
          expect(delivered.response).to.equal(response);
          client.reply(name, { error: new Error('x') });
          expect((await rpc(name, request)).count).to.equal(1);
        }
      }
      expect(eventsOf(events, TelemetryEventType.STATEMENT_START)).to.deep.equal([]);
    });

    it('observes nothing when telemetry is disabled, and still delivers', async () => {
      context.config.enabled = false;
      const response = started();
      const delivered = await execute(response);
      expect(delivered.response).to.equal(response);
      expect(events).to.deep.equal([]);
    });
  });
});
