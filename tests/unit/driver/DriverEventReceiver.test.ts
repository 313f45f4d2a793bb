import { expect } from 'chai';
import sinon from 'sinon';
import { thrift } from '@databricks/sql';
import DeferredEvents from '../../../lib/driver/DeferredEvents';
import DriverEventReceiver from '../../../lib/driver/DriverEventReceiver';
import ThriftClientObserver from '../../../lib/driver/ThriftClientObserver';
import TelemetryEventEmitter from '../../../lib/telemetry/TelemetryEventEmitter';
import { TelemetryEvent, TelemetryEventType } from '../../../lib/telemetry/types';
import ClientContextStub from '../.stubs/ClientContextStub';
import DriverThriftClientStub, {
  OK_STATUS,
  eventsOf,
  makeGuid,
  operationHandle,
  recordEvents,
  sessionHandle,
  uuidOf,
} from '../.stubs/DriverThriftClientStub';

const { TOperationState, TSparkRowSetType } = thrift.TCLIService_types;
const T0 = 1_760_000_000_000;
const SESSION = makeGuid(1);
const OP = makeGuid(10);
const OP_ID = uuidOf(OP);

describe('DriverEventReceiver', () => {
  let clock: sinon.SinonFakeTimers;
  let events: TelemetryEvent[];
  let queue: DeferredEvents;
  let observer: ThriftClientObserver;
  let client: DriverThriftClientStub;
  let closedSessions: string[];
  let receiver: DriverEventReceiver;

  beforeEach(() => {
    clock = sinon.useFakeTimers({ now: T0 });
    const context = new ClientContextStub();
    const emitter = new TelemetryEventEmitter(context);
    events = recordEvents(emitter);
    queue = new DeferredEvents(emitter);
    observer = new ThriftClientObserver(queue, context.getLogger());
    client = new DriverThriftClientStub();
    observer.observeClient(client);
    closedSessions = [];
    receiver = new DriverEventReceiver({
      observer,
      events: queue,
      sessionClosed: (sessionId) => closedSessions.push(sessionId),
    });
  });

  afterEach(() => {
    clock.restore();
    sinon.restore();
  });

  /** The driver's ExecuteStatement for OP, answered after `ms`. */
  async function execute(ms = 0): Promise<void> {
    client.reply('ExecuteStatement', {
      response: { status: OK_STATUS, operationHandle: operationHandle(OP) },
      delayMs: ms,
    });
    (client as unknown as Record<string, (request: unknown, callback: () => void) => void>).ExecuteStatement(
      { sessionHandle: sessionHandle(SESSION), statement: 'SELECT 1' },
      () => undefined,
    );
    await clock.tickAsync(ms);
  }

  it("completes the statement the driver says the caller closed, after the RPCs observed before, with the close's time", async () => {
    await execute(20);
    clock.tick(30);
    receiver.emitStatementComplete({ statementId: OP_ID, sessionId: 'ignored', latencyMs: 1 } as never);
    expect(events).to.deep.equal([]);
    queue.deliver();
    const [complete] = eventsOf(events, TelemetryEventType.STATEMENT_COMPLETE);
    expect(complete).to.include({ statementId: OP_ID, latencyMs: 50, timestamp: T0 + 50 });
  });

  it("reports an error thrown to the caller by the error's name alone, made safe, in order with the statement", async () => {
    await execute();
    receiver.emitError({
      statementId: OP_ID,
      errorName: 'Status Error',
      errorMessage: 'secret text',
      errorStack: 'at /home/me/app.js',
    } as never);
    receiver.emitError({ statementId: OP_ID, errorName: 'DROP TABLE x; --' } as never);
    queue.deliver();
    expect(events.map((event) => event.eventType)).to.deep.equal([
      TelemetryEventType.STATEMENT_START,
      TelemetryEventType.ERROR,
      TelemetryEventType.ERROR,
    ]);
    const errors = eventsOf(events, TelemetryEventType.ERROR);
    expect(errors.map((error) => error.errorName)).to.deep.equal(['StatusError', 'UnknownError']);
    expect(JSON.stringify(events)).not.to.match(/secret|home/);
  });

  it('reports the CloudFetch chunks the driver downloaded, and not the inline pages it reports the same way', async () => {
    client.reply('ExecuteStatement', {
      response: {
        status: OK_STATUS,
        operationHandle: operationHandle(OP),
        directResults: {
          operationStatus: { status: OK_STATUS, operationState: TOperationState.FINISHED_STATE },
          resultSetMetadata: { status: OK_STATUS, resultFormat: TSparkRowSetType.URL_BASED_SET, lz4Compressed: true },
        },
      },
    });
    (client as unknown as Record<string, (request: unknown, callback: () => void) => void>).ExecuteStatement(
      { sessionHandle: sessionHandle(SESSION), statement: 'SELECT 1' },
      () => undefined,
    );
    await clock.tickAsync(0);
    clock.tick(40);
    receiver.emitCloudFetchChunk({
      statementId: OP_ID,
      chunkIndex: 0,
      latencyMs: 12,
      bytes: 4096,
      compressed: undefined,
    });
    receiver.emitCloudFetchChunk({ statementId: OP_ID, chunkIndex: 1, latencyMs: 'slow', bytes: -1, compressed: true });
    receiver.emitCloudFetchChunk({ statementId: OP_ID, chunkIndex: 0, latencyMs: 3, bytes: 70 });
    queue.deliver();
    const chunks = eventsOf(events, TelemetryEventType.CLOUDFETCH_CHUNK);
    expect(
      chunks.map(({ chunkIndex, latencyMs, bytes, compressed, timestamp }) => ({
        chunkIndex,
        latencyMs,
        bytes,
        compressed,
        timestamp,
      })),
    ).to.deep.equal([
      { chunkIndex: 0, latencyMs: 12, bytes: 4096, compressed: true, timestamp: T0 + 40 },
      { chunkIndex: 1, latencyMs: 0, bytes: 0, compressed: true, timestamp: T0 + 40 },
    ]);
    receiver.emitStatementComplete({ statementId: OP_ID });
    queue.deliver();
    const [complete] = eventsOf(events, TelemetryEventType.STATEMENT_COMPLETE);
    // The last chunk's arrival ends the result's consumption.
    expect(complete).to.include({ resultReadyLatencyMs: 0, resultConsumptionLatencyMs: 40 });
  });

  it('reports no chunk for a statement it never saw start', () => {
    receiver.emitCloudFetchChunk({ statementId: OP_ID, chunkIndex: 0, latencyMs: 1, bytes: 1, compressed: false });
    queue.deliver();
    expect(events).to.deep.equal([]);
  });

  it('hands a session close to the connection', () => {
    receiver.emitConnectionClose({ sessionId: 'session-1', latencyMs: 3 } as never);
    expect(closedSessions).to.deep.equal(['session-1']);
  });

  it('ignores what the adapter observes elsewhere, and fields it cannot use', async () => {
    await execute();
    receiver.emitStatementStart();
    receiver.emitConnectionOpen();
    receiver.completeStatement();
    for (const bad of [undefined, null, {}, { statementId: 7 }, { sessionId: {} }]) {
      expect(() => receiver.emitStatementComplete(bad as never)).not.to.throw();
      expect(() => receiver.emitError(bad as never)).not.to.throw();
      expect(() => receiver.emitConnectionClose(bad as never)).not.to.throw();
      expect(() => receiver.emitCloudFetchChunk(bad as never)).not.to.throw();
    }
    queue.deliver();
    expect(events.map((event) => event.eventType)).to.deep.equal([TelemetryEventType.STATEMENT_START]);
    expect(closedSessions).to.deep.equal([]);
    expect(observer.isRunning(OP_ID)).to.equal(true);
  });
});
