import { expect } from 'chai';
import sinon from 'sinon';
import { LogLevel } from '@databricks/sql/dist/contracts/IDBSQLLogger';
import TelemetryEventEmitter from '../../../lib/telemetry/TelemetryEventEmitter';
import {
  ConnectionParameters,
  DriverConfiguration,
  TelemetryEvent,
  TelemetryEventType,
} from '../../../lib/telemetry/types';
import ClientContextStub from '../.stubs/ClientContextStub';

const driverConfig: DriverConfiguration = {
  driverName: 'nodejs-sql-driver',
  driverVersion: '2.1.0',
  runtimeName: 'Node.js',
  runtimeVersion: '20.0.0',
  runtimeVendor: 'Node.js Foundation',
  osName: 'linux',
  osVersion: '6.0',
  osArch: 'x64',
  localeName: 'en_US',
  charSetEncoding: 'UTF-8',
  processName: 'node',
};

const connectionParams: ConnectionParameters = {
  mode: 'THRIFT',
  authMech: 'PAT',
  useProxy: false,
  enableArrow: true,
  enableDirectResults: true,
  enableCloudFetch: true,
  enableLz4Compression: true,
  socketTimeoutMs: 900000,
  rowsFetchedPerBlock: 100000,
  enableMetricViewMetadata: false,
};

/** The emitter copies named fields, so absent optional ones are present as undefined. */
function compact(events: TelemetryEvent[]): object[] {
  return events.map((event) => Object.fromEntries(Object.entries(event).filter(([, value]) => value !== undefined)));
}

describe('TelemetryEventEmitter', () => {
  let clock: sinon.SinonFakeTimers;
  let context: ClientContextStub;
  let emitter: TelemetryEventEmitter;
  let received: TelemetryEvent[];

  beforeEach(() => {
    clock = sinon.useFakeTimers({ now: 1_700_000_000_000 });
    context = new ClientContextStub();
    emitter = new TelemetryEventEmitter(context);
    received = [];
    Object.values(TelemetryEventType).forEach((name) => emitter.on(name, (event) => received.push(event)));
  });

  afterEach(() => {
    clock.restore();
    sinon.restore();
  });

  it('should emit connection.open event', () => {
    emitter.emitConnectionOpen({
      sessionId: 's-1',
      workspaceId: '1234',
      latencyMs: 42,
      authType: 'pat',
      driverConfig,
      connectionParams,
    });
    expect(compact(received)).to.deep.equal([
      {
        eventType: TelemetryEventType.CONNECTION_OPEN,
        timestamp: 1_700_000_000_000,
        sessionId: 's-1',
        workspaceId: '1234',
        latencyMs: 42,
        authType: 'pat',
        driverConfig,
        connectionParams,
      },
    ]);
  });

  it('should emit statement lifecycle events on their own event names', () => {
    const starts: TelemetryEvent[] = [];
    const completes: TelemetryEvent[] = [];
    emitter.on('statement.start', (event) => starts.push(event));
    emitter.on('statement.complete', (event) => completes.push(event));
    emitter.emitStatementStart({
      statementId: 'st-1',
      sessionId: 's-1',
      statementType: 'QUERY',
      operationType: 'EXECUTE_STATEMENT',
    });
    emitter.emitStatementComplete({ statementId: 'st-1', sessionId: 's-1', latencyMs: 12, pollCount: 2, timestamp: 5 });
    expect(compact(starts)).to.deep.equal([
      {
        eventType: 'statement.start',
        timestamp: 1_700_000_000_000,
        statementId: 'st-1',
        sessionId: 's-1',
        statementType: 'QUERY',
        operationType: 'EXECUTE_STATEMENT',
      },
    ]);
    expect(compact(completes)).to.deep.equal([
      {
        eventType: 'statement.complete',
        timestamp: 5,
        statementId: 'st-1',
        sessionId: 's-1',
        latencyMs: 12,
        pollCount: 2,
      },
    ]);
  });

  it('should emit cloudfetch chunk events', () => {
    emitter.emitCloudFetchChunk({ statementId: 'st-1', chunkIndex: 3, latencyMs: 7, bytes: 1024, compressed: true });
    expect(compact(received)).to.deep.equal([
      {
        eventType: 'cloudfetch.chunk',
        timestamp: 1_700_000_000_000,
        statementId: 'st-1',
        chunkIndex: 3,
        latencyMs: 7,
        bytes: 1024,
        compressed: true,
      },
    ]);
  });

  it('should emit error events', () => {
    emitter.emitError({ statementId: 'st-1', errorName: 'HiveServer2Error', isTerminal: true, chunkIndex: 2 });
    expect(compact(received)).to.deep.equal([
      {
        eventType: 'error',
        timestamp: 1_700_000_000_000,
        statementId: 'st-1',
        errorName: 'HiveServer2Error',
        isTerminal: true,
        chunkIndex: 2,
      },
    ]);
  });

  it('should not throw on an error event nobody listens to', () => {
    const bare = new TelemetryEventEmitter(context);
    expect(() => bare.emitError({ errorName: 'AuthenticationError', isTerminal: true })).to.not.throw();
    expect(context.logger.lines).to.deep.equal([]);
  });

  it('should include all required fields in events and never mutate the caller object', () => {
    const fields = {
      statementId: 'st-1',
      sessionId: 's-1',
      statementType: 'QUERY' as const,
      operationType: 'LIST_TABLES' as const,
    };
    emitter.emitStatementStart(fields);
    const [event] = received;
    expect(event).to.include.all.keys(
      'eventType',
      'timestamp',
      'statementId',
      'sessionId',
      'statementType',
      'operationType',
    );
    expect(fields).to.not.have.property('eventType');
    expect(event).to.not.equal(fields);
  });

  it('should copy only the fields of the event type, never extra ones the caller carries', () => {
    emitter.emitError({ errorName: 'E', isTerminal: true, message: 'SELECT secret FROM t' } as any);
    emitter.emitStatementStart({
      statementId: 'x',
      sessionId: 's',
      statementType: 'QUERY',
      operationType: 'EXECUTE_STATEMENT',
      sql: 'SELECT 1',
    } as any);
    expect(received.map((event) => Object.keys(event))).to.deep.equal([
      [
        'eventType',
        'timestamp',
        'statementId',
        'sessionId',
        'errorName',
        'isTerminal',
        'chunkIndex',
        'retryCount',
        'unauthenticated',
      ],
      [
        'eventType',
        'timestamp',
        'statementId',
        'sessionId',
        'statementType',
        'operationType',
        'queryText',
        'parentContext',
      ],
    ]);
  });

  it('should replace a missing or non-finite timestamp with now', () => {
    emitter.emitStatementComplete({ statementId: 'a', sessionId: 's', latencyMs: 1, timestamp: NaN });
    emitter.emitStatementComplete({ statementId: 'b', sessionId: 's', latencyMs: 1, timestamp: '5' as any });
    emitter.emitStatementComplete({ statementId: 'c', sessionId: 's', latencyMs: 1, timestamp: 0 });
    expect(received.map((event) => event.timestamp)).to.deep.equal([1_700_000_000_000, 1_700_000_000_000, 0]);
  });

  it('should not emit when disabled', () => {
    context.config.enabled = false;
    emitter.emitConnectionOpen({ sessionId: 's', latencyMs: 1, authType: 'pat', driverConfig, connectionParams });
    emitter.emitStatementStart({
      statementId: 'x',
      sessionId: 's',
      statementType: 'QUERY',
      operationType: 'EXECUTE_STATEMENT',
    });
    emitter.emitStatementComplete({ statementId: 'x', sessionId: 's', latencyMs: 1 });
    emitter.emitCloudFetchChunk({ statementId: 'x', chunkIndex: 0, latencyMs: 1, bytes: 1, compressed: false });
    emitter.emitError({ errorName: 'E', isTerminal: false });
    expect(received).to.deep.equal([]);
    context.config.enabled = true;
    emitter.emitError({ errorName: 'E', isTerminal: false });
    expect(received).to.have.length(1);
  });

  describe('subscriptions', () => {
    const start = () =>
      emitter.emitStatementStart({
        statementId: 'x',
        sessionId: 's',
        statementType: 'QUERY',
        operationType: 'EXECUTE_STATEMENT',
      });

    it('should stop delivering to a listener once it is off, keeping the others', () => {
      const calls: string[] = [];
      const first = () => calls.push('first');
      const second = () => calls.push('second');
      emitter.on('statement.start', first).on('statement.start', second);
      start();
      emitter.off('statement.start', first);
      start();
      expect(calls).to.deep.equal(['first', 'second', 'second']);
      expect(emitter.listenerCount('statement.start')).to.equal(2); // `second` and the beforeEach listener
    });

    it('should remove one subscription per off, as EventEmitter does', () => {
      const calls: number[] = [];
      const listener = () => calls.push(1);
      emitter.on('error', listener).on('error', listener);
      emitter.off('error', listener);
      emitter.emitError({ errorName: 'E', isTerminal: true });
      expect(calls).to.have.length(1);
      emitter.off('error', listener).off('error', listener);
      expect(emitter.listenerCount('error')).to.equal(1);
    });

    it('should finish delivering an event to every listener when one leaves during it', () => {
      const calls: string[] = [];
      const leaving = () => {
        calls.push('leaving');
        emitter.off('statement.start', leaving);
      };
      emitter.on('statement.start', leaving).on('statement.start', () => calls.push('staying'));
      start();
      start();
      expect(calls).to.deep.equal(['leaving', 'staying', 'staying']);
    });

    it('should build no event when nobody listens to its type', () => {
      const fresh = new TelemetryEventEmitter(context);
      const fields = {
        get statementId(): string {
          throw new Error('read');
        },
      };
      fresh.emitStatementStart(fields as never);
      expect(context.logger.lines).to.deep.equal([]);
      expect(fresh.emit('statement.start', {})).to.equal(false);
    });
  });

  describe('exception swallowing', () => {
    it('should swallow all exceptions from a throwing listener and log at debug only', () => {
      emitter.on('statement.start', () => {
        throw new Error('listener exploded');
      });
      expect(() =>
        emitter.emitStatementStart({
          statementId: 'x',
          sessionId: 's',
          statementType: 'QUERY',
          operationType: 'EXECUTE_STATEMENT',
        }),
      ).to.not.throw();
      expect(context.logger.has(/statement\.start.*listener exploded/)).to.equal(true);
      expect(context.logger.aboveDebug()).to.deep.equal([]);
    });

    it('should log non-Error throws without their content', () => {
      emitter.on('error', () => {
        throw 'secret token';
      });
      emitter.emitError({ errorName: 'E', isTerminal: true });
      expect(context.logger.lines).to.have.length(1);
      expect(context.logger.has(/secret/)).to.equal(false);
    });

    it('should use logger from context and survive a throwing logger', () => {
      sinon.stub(context.logger, 'log').throws(new Error('logger broken'));
      emitter.on('cloudfetch.chunk', () => {
        throw new Error('listener exploded');
      });
      expect(() =>
        emitter.emitCloudFetchChunk({ statementId: 'x', chunkIndex: 0, latencyMs: 1, bytes: 1, compressed: false }),
      ).to.not.throw();
      expect((context.logger.log as sinon.SinonStub).calledWith(LogLevel.debug)).to.equal(true);
    });

    it('should swallow a throwing config getter', () => {
      sinon.stub(context, 'getTelemetryConfig').throws(new Error('bad config'));
      expect(() => emitter.emitError({ errorName: 'E', isTerminal: true })).to.not.throw();
      expect(received).to.deep.equal([]);
      expect(context.logger.has(/bad config/)).to.equal(true);
    });

    it('should survive a context without a logger', () => {
      const broken = new TelemetryEventEmitter({ getTelemetryConfig: () => ({ enabled: true }) } as any);
      broken.on('error', () => {
        throw new Error('x');
      });
      expect(() => broken.emitError({ errorName: 'E', isTerminal: true })).to.not.throw();
    });
  });

  describe('hostile input', () => {
    const bad: Array<[string, unknown]> = [
      ['undefined', undefined],
      ['null', null],
      ['a string', 'statement'],
      ['a number', 7],
    ];
    bad.forEach(([name, value]) => {
      it(`should ignore ${name} fields with a debug log`, () => {
        emitter.emitStatementStart(value as any);
        emitter.emitStatementComplete(value as any);
        emitter.emitCloudFetchChunk(value as any);
        emitter.emitConnectionOpen(value as any);
        emitter.emitError(value as any);
        expect(received).to.deep.equal([]);
        expect(context.logger.lines).to.have.length(5);
        expect(context.logger.aboveDebug()).to.deep.equal([]);
      });
    });

    it('should pass huge strings through without copying them', () => {
      const huge = 'x'.repeat(1_000_000);
      emitter.emitError({ errorName: huge, isTerminal: false });
      expect((received[0] as any).errorName).to.equal(huge);
    });

    it('should swallow a getter that throws while the fields are copied', () => {
      const fields = {
        get statementId(): string {
          throw new Error('getter exploded');
        },
      };
      expect(() => emitter.emitCloudFetchChunk(fields as any)).to.not.throw();
      expect(received).to.deep.equal([]);
      expect(context.logger.has(/getter exploded/)).to.equal(true);
    });
  });
});
