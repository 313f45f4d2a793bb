import { expect } from 'chai';
import sinon from 'sinon';
import DeferredEvents from '../../../lib/driver/DeferredEvents';
import TelemetryEventEmitter from '../../../lib/telemetry/TelemetryEventEmitter';
import { TelemetryEvent } from '../../../lib/telemetry/types';
import ClientContextStub from '../.stubs/ClientContextStub';
import { recordEvents } from '../.stubs/DriverThriftClientStub';

const T0 = 1_700_000_000_000;

describe('DeferredEvents', () => {
  let clock: sinon.SinonFakeTimers;
  let context: ClientContextStub;
  let received: TelemetryEvent[];
  let events: DeferredEvents;

  const start = (statementId: string, timestamp = T0) =>
    events.emitStatementStart({
      statementId,
      sessionId: 's',
      statementType: 'QUERY',
      operationType: 'EXECUTE_STATEMENT',
      timestamp,
    });

  beforeEach(() => {
    clock = sinon.useFakeTimers({ now: T0 });
    context = new ClientContextStub();
    const emitter = new TelemetryEventEmitter(context);
    received = recordEvents(emitter);
    events = new DeferredEvents(emitter);
  });

  afterEach(() => clock.restore());

  it('holds events and delivers them, in order, when asked', () => {
    start('st-1');
    events.emitCloudFetchChunk({
      statementId: 'st-1',
      chunkIndex: 0,
      latencyMs: 3,
      bytes: 10,
      compressed: false,
      timestamp: T0 + 1,
    });
    events.emitStatementComplete({ statementId: 'st-1', sessionId: 's', latencyMs: 5, timestamp: T0 + 5 });
    expect(received).to.deep.equal([]);
    expect(events.hasHeld()).to.equal(true);
    events.deliver();
    expect(received.map((event) => [event.eventType, event.timestamp])).to.deep.equal([
      ['statement.start', T0],
      ['cloudfetch.chunk', T0 + 1],
      ['statement.complete', T0 + 5],
    ]);
    expect(events.hasHeld()).to.equal(false);
  });

  it('delivers on its own 100 ms after the first event held', () => {
    start('st-1');
    clock.tick(50);
    start('st-2');
    expect(clock.countTimers()).to.equal(1);
    clock.tick(49);
    expect(received).to.have.length(0);
    clock.tick(1);
    expect(received).to.have.length(2);
    expect(clock.countTimers()).to.equal(0);
  });

  it('never holds the process with its timer', () => {
    clock.restore();
    try {
      start('st-1');
      expect((events as unknown as { timer: NodeJS.Timeout }).timer.hasRef()).to.equal(false);
      events.deliver();
    } finally {
      clock = sinon.useFakeTimers({ now: T0 });
    }
  });

  it('makes no timer while nothing is held', () => {
    events.deliver();
    expect(clock.countTimers()).to.equal(0);
  });

  it('delivers at once when 256 events are held', () => {
    for (let i = 0; i < 255; i += 1) {
      start(`st-${i}`);
    }
    expect(received).to.have.length(0);
    start('st-255');
    expect(received).to.have.length(256);
    expect(clock.countTimers()).to.equal(0);
  });

  it('stamps an event without a timestamp with the time it was held, not delivered', () => {
    events.emitError({ errorName: 'E', isTerminal: true });
    clock.tick(80);
    events.deliver();
    expect(received).to.have.length(1);
    expect(received[0].timestamp).to.equal(T0);
  });

  it('passes bad input on for the emitter to reject and log, without throwing', () => {
    expect(() => events.emitError(null as never)).to.not.throw();
    events.deliver();
    expect(received).to.deep.equal([]);
    expect(context.logger.has(/ignored error event with no fields/)).to.equal(true);
  });

  it('does held work in order with the events, and delivers the events it emits in its place', () => {
    start('st-1');
    const done: string[] = [];
    events.defer((statementId: string) => {
      done.push(statementId);
      events.emitStatementComplete({ statementId, sessionId: 's', latencyMs: 5, timestamp: T0 + 5 });
    }, 'st-1');
    start('st-2');
    expect(done).to.deep.equal([]);
    events.deliver();
    expect(done).to.deep.equal(['st-1']);
    expect(received.map((event) => [event.eventType, (event as { statementId?: string }).statementId])).to.deep.equal([
      ['statement.start', 'st-1'],
      ['statement.complete', 'st-1'],
      ['statement.start', 'st-2'],
    ]);
    expect(events.hasHeld()).to.equal(false);
    expect(clock.countTimers()).to.equal(0);
  });

  it('holds work under the same 100 ms timer, and runs it at once after close', () => {
    const done: number[] = [];
    events.defer((value: number) => done.push(value), 1);
    clock.tick(99);
    expect(done).to.deep.equal([]);
    clock.tick(1);
    expect(done).to.deep.equal([1]);
    events.close();
    events.defer((value: number) => done.push(value), 2);
    expect(done).to.deep.equal([1, 2]);
  });

  it('on close, delivers what it holds and then passes events straight through', () => {
    start('st-1');
    events.close();
    expect(received).to.have.length(1);
    start('st-2');
    expect(received).to.have.length(2);
    expect(clock.countTimers()).to.equal(0);
  });
});
