import { expect } from 'chai';
import sinon from 'sinon';
import MetricsAggregator from '../../../lib/telemetry/MetricsAggregator';
import TelemetryEventEmitter from '../../../lib/telemetry/TelemetryEventEmitter';
import {
  ConnectionParameters,
  DEFAULT_TELEMETRY_CONFIG,
  DriverConfiguration,
  TelemetryLog,
} from '../../../lib/telemetry/types';
import ClientContextStub from '../.stubs/ClientContextStub';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const HOUR = 60 * 60 * 1000;

const driverConfig = { driverName: 'nodejs-sql-driver', driverVersion: '2.1.0' } as DriverConfiguration;
const connectionParams = { mode: 'THRIFT', authMech: 'PAT' } as ConnectionParameters;

describe('MetricsAggregator', () => {
  let clock: sinon.SinonFakeTimers;
  let context: ClientContextStub;
  let emitter: TelemetryEventEmitter;
  let logs: TelemetryLog[];
  let sink: { enqueue(log: TelemetryLog): void };
  let open: Set<string>;
  let aggregator: MetricsAggregator;

  function create(config: ConstructorParameters<typeof ClientContextStub>[0] = {}) {
    context = new ClientContextStub(config);
    emitter = new TelemetryEventEmitter(context);
    aggregator = new MetricsAggregator(context, emitter, sink, open);
  }

  beforeEach(() => {
    clock = sinon.useFakeTimers({ now: 1_000_000 });
    logs = [];
    sink = { enqueue: (log) => logs.push(log) };
    open = new Set();
    create();
  });

  afterEach(() => {
    aggregator.close();
    clock.restore();
    sinon.restore();
  });

  const start = (statementId: string, sessionId = 'session-1') =>
    emitter.emitStatementStart({ statementId, sessionId, statementType: 'QUERY', operationType: 'EXECUTE_STATEMENT' });
  const complete = (statementId: string, extra: object = {}) =>
    emitter.emitStatementComplete({ statementId, sessionId: 'session-1', latencyMs: 100, ...extra });
  const chunk = (statementId: string, chunkIndex: number, latencyMs: number, bytes = 1000) =>
    emitter.emitCloudFetchChunk({ statementId, chunkIndex, latencyMs, bytes, compressed: true });

  describe('connection events', () => {
    it('should emit connection events immediately', () => {
      emitter.emitConnectionOpen({
        sessionId: 'session-1',
        workspaceId: '1234567890',
        latencyMs: 250,
        authType: 'oauth-m2m',
        driverConfig,
        connectionParams,
        timestamp: 999,
      });
      expect(logs).to.have.length(1);
      const [log] = logs;
      expect(log.eventId).to.match(UUID);
      expect(log).to.deep.include({
        kind: 'connection',
        timestamp: 999,
        workspaceId: '1234567890',
        sessionId: 'session-1',
        authType: 'oauth-m2m',
        driverConfig,
        connectionParams,
        operationLatencyMs: 250,
      });
      expect(aggregator.getStats().pending).to.equal(0);
    });

    it('should put the connection workspace id on every later log', () => {
      emitter.emitConnectionOpen({
        sessionId: 's',
        workspaceId: '42',
        latencyMs: 1,
        authType: 'pat',
        driverConfig,
        connectionParams,
      });
      start('st-1');
      complete('st-1');
      emitter.emitError({ errorName: 'E', isTerminal: true });
      expect(logs.map((log) => [log.kind, log.workspaceId])).to.deep.equal([
        ['connection', '42'],
        ['statement', '42'],
        ['error', '42'],
      ]);
    });
  });

  describe('statement aggregation', () => {
    it('should buffer statement events until complete', () => {
      start('st-1');
      chunk('st-1', 0, 10);
      emitter.emitError({ statementId: 'st-1', errorName: 'RetryableError', isTerminal: false });
      expect(logs).to.deep.equal([]);
      expect(aggregator.getStats().pending).to.equal(1);
      complete('st-1');
      expect(logs).to.have.length(1);
      expect(aggregator.getStats().pending).to.equal(0);
    });

    it('should aggregate events by statement_id', () => {
      start('st-1');
      start('st-2', 'session-2');
      chunk('st-1', 0, 10, 100);
      chunk('st-2', 0, 50, 5000);
      chunk('st-1', 1, 30, 200);
      complete('st-2');
      complete('st-1');
      expect(
        logs.map((log) => [log.statementId, log.statement?.chunksIterated, log.statement?.bytesDownloaded]),
      ).to.deep.equal([
        ['st-2', 1, 5000],
        ['st-1', 2, 300],
      ]);
      expect(logs[0].sessionId).to.equal('session-2');
    });

    it('should emit aggregated metrics on statement complete', () => {
      start('st-1');
      chunk('st-1', 1, 40, 2000);
      chunk('st-1', 0, 25, 1000);
      chunk('st-1', 2, 15, 500);
      emitter.emitStatementComplete({
        statementId: 'st-1',
        sessionId: 'session-1',
        latencyMs: 321,
        executionResult: 'EXTERNAL_LINKS',
        isCompressed: false,
        pollCount: 3,
        pollLatencyMs: 45,
        chunksPresent: 5,
        resultReadyLatencyMs: 60,
        resultConsumptionLatencyMs: 200,
        retryCount: 1,
        timestamp: 2_000_000,
      });
      const [log] = logs;
      expect(log).to.deep.include({
        kind: 'statement',
        timestamp: 2_000_000,
        sessionId: 'session-1',
        statementId: 'st-1',
        operationLatencyMs: 321,
      });
      expect(log.eventId).to.match(UUID);
      expect(log.statement).to.deep.include({
        statementType: 'QUERY',
        operationType: 'EXECUTE_STATEMENT',
        executionResult: 'EXTERNAL_LINKS',
        isCompressed: false, // what the server sent wins over the chunk's flag
        pollCount: 3,
        pollLatencyMs: 45,
        retryCount: 1,
        resultReadyLatencyMs: 60,
        resultConsumptionLatencyMs: 200,
        chunksPresent: 5,
        chunksIterated: 3,
        chunkInitialLatencyMs: 25, // chunk 0, although it finished second
        chunkSlowestLatencyMs: 40,
        chunkSumLatencyMs: 80,
        bytesDownloaded: 3500,
      });
    });

    it('should take compression from the chunks when the end does not say', () => {
      start('st-1');
      chunk('st-1', 0, 5);
      complete('st-1');
      expect(logs[0].statement?.isCompressed).to.equal(true);
    });

    it('should use the first chunk to arrive as initial when chunk 0 never comes', () => {
      start('st-1');
      chunk('st-1', 3, 70);
      chunk('st-1', 4, 90);
      complete('st-1');
      expect(logs[0].statement).to.deep.include({ chunkInitialLatencyMs: 70, chunkSlowestLatencyMs: 90 });
    });

    it('should include both session_id and statement_id', () => {
      start('st-1', 'session-9');
      complete('st-1');
      expect(logs[0]).to.deep.include({ sessionId: 'session-9', statementId: 'st-1' });
    });

    it('should give every log a fresh event id', () => {
      for (let i = 0; i < 20; i += 1) {
        start(`st-${i}`);
        complete(`st-${i}`);
      }
      expect(new Set(logs.map((log) => log.eventId)).size).to.equal(20);
    });

    it('should report a statement whose start was not seen', () => {
      complete('st-1', { executionResult: 'INLINE_ARROW' });
      expect(logs).to.have.length(1);
      expect(logs[0].statement).to.deep.include({ executionResult: 'INLINE_ARROW', chunksIterated: 0 });
      expect(logs[0].sessionId).to.equal('session-1');
    });
  });

  describe('errors', () => {
    it('should flush terminal exceptions immediately, exactly one log per statement', () => {
      start('st-1');
      chunk('st-1', 0, 10);
      emitter.emitError({ statementId: 'st-1', errorName: 'HiveServer2Error', isTerminal: true });
      expect(logs).to.have.length(1);
      expect(logs[0]).to.deep.include({ kind: 'statement', statementId: 'st-1', errorName: 'HiveServer2Error' });
      expect(logs[0].statement).to.deep.include({ errorName: 'HiveServer2Error', chunksIterated: 1 });
      // Everything that follows for this statement adds no second, partial log.
      chunk('st-1', 1, 10);
      emitter.emitError({ statementId: 'st-1', errorName: 'Again', isTerminal: true });
      complete('st-1');
      aggregator.completeSession('session-1');
      aggregator.close();
      expect(logs).to.have.length(1);
    });

    it('should forget the done marker once the statement ends, so the table does not fill', () => {
      start('st-1');
      emitter.emitError({ statementId: 'st-1', errorName: 'E', isTerminal: true });
      expect(aggregator.getStats().pending).to.equal(0);
      complete('st-1');
      expect(clock.countTimers(), 'the sweep stops at its next tick').to.equal(1);
      clock.tick(DEFAULT_TELEMETRY_CONFIG.statementTtlMs);
      expect(clock.countTimers()).to.equal(0);
    });

    it('should report a terminal error of an untracked statement once', () => {
      emitter.emitError({
        statementId: 'st-1',
        sessionId: 'session-3',
        errorName: 'E',
        isTerminal: true,
        chunkIndex: 4,
      });
      complete('st-1');
      expect(logs).to.have.length(1);
      expect(logs[0]).to.deep.include({ sessionId: 'session-3', errorName: 'E' });
      expect(logs[0].statement?.errorChunkIndex).to.equal(4);
    });

    it('should keep the unauthenticated mark of a terminal statement error', () => {
      start('st-1');
      emitter.emitError({
        statementId: 'st-1',
        errorName: 'AuthenticationError',
        isTerminal: true,
        unauthenticated: true,
      });
      expect(logs[0].unauthenticated).to.equal(true);
    });

    it('should buffer retryable exceptions until the statement ends', () => {
      start('st-1');
      emitter.emitError({ statementId: 'st-1', errorName: 'RetryError', isTerminal: false, chunkIndex: 2 });
      expect(logs).to.deep.equal([]);
      complete('st-1');
      expect(logs).to.have.length(1);
      expect(logs[0].errorName).to.equal('RetryError');
      expect(logs[0].statement).to.deep.include({ errorName: 'RetryError', errorChunkIndex: 2 });
    });

    it('should send an error without a statement at once, keeping unauthenticated', () => {
      emitter.emitError({
        sessionId: 'session-1',
        errorName: 'AuthenticationError',
        isTerminal: true,
        unauthenticated: true,
      });
      emitter.emitError({ errorName: 'NetworkError', isTerminal: false });
      expect(logs.map((log) => [log.kind, log.errorName, log.unauthenticated, log.sessionId])).to.deep.equal([
        ['error', 'AuthenticationError', true, 'session-1'],
        ['error', 'NetworkError', undefined, undefined],
      ]);
      expect(logs[0].eventId).to.match(UUID);
    });
  });

  describe('statements that never complete', () => {
    it('should report open statements of a session when the session completes', () => {
      start('st-1', 'session-1');
      start('st-2', 'session-2');
      start('st-3', 'session-1');
      aggregator.completeSession('session-1');
      expect(logs.map((log) => log.statementId).sort()).to.deep.equal(['st-1', 'st-3']);
      expect(aggregator.getStats().pending).to.equal(1);
      complete('st-2');
      expect(logs.map((log) => log.statementId)).to.include('st-2');
      clock.tick(DEFAULT_TELEMETRY_CONFIG.statementTtlMs);
      expect(clock.countTimers()).to.equal(0);
    });

    it('should report all remaining statements on close, stop listening and be idempotent', () => {
      start('st-1');
      chunk('st-2', 0, 5);
      expect(clock.countTimers()).to.equal(1);
      aggregator.close();
      expect(logs.map((log) => log.statementId).sort()).to.deep.equal(['st-1', 'st-2']);
      expect(clock.countTimers()).to.equal(0);
      expect(emitter.listenerCount('statement.start')).to.equal(0);
      aggregator.close();
      start('st-3');
      complete('st-3');
      expect(logs).to.have.length(2);
    });

    it('should evict a statement silent for the TTL exactly once', () => {
      create({ statementTtlMs: HOUR });
      start('st-1');
      clock.tick(HOUR - 1);
      expect(logs).to.deep.equal([]);
      clock.tick(1);
      expect(logs.map((log) => log.statementId)).to.deep.equal(['st-1']);
      expect(aggregator.getStats()).to.deep.equal({ pending: 0, dropped: 0, evicted: 1 });
      complete('st-1'); // a late end within the next TTL adds no second log
      expect(logs).to.have.length(1);
      clock.tick(2 * HOUR);
      expect(clock.countTimers()).to.equal(0);
      aggregator.close();
      expect(logs).to.have.length(1);
    });

    it('should not evict a statement that had an event within the TTL', () => {
      create({ statementTtlMs: HOUR });
      start('st-1');
      clock.tick(HOUR / 2);
      chunk('st-1', 0, 5);
      clock.tick(HOUR / 2);
      expect(logs).to.deep.equal([]);
      clock.tick(HOUR);
      expect(logs).to.have.length(1);
    });

    it('should never evict a statement whose operation is still open', () => {
      create({ statementTtlMs: HOUR });
      open.add('st-1');
      start('st-1');
      clock.tick(5 * HOUR);
      expect(logs).to.deep.equal([]);
      open.delete('st-1');
      clock.tick(HOUR);
      expect(logs.map((log) => log.statementId)).to.deep.equal(['st-1']);
      expect(aggregator.getStats().evicted).to.equal(1);
    });

    it('should forget a done marker at the TTL without reporting it again', () => {
      create({ statementTtlMs: HOUR });
      start('st-1');
      emitter.emitError({ statementId: 'st-1', errorName: 'E', isTerminal: true });
      clock.tick(HOUR);
      expect(logs).to.have.length(1);
      expect(aggregator.getStats().evicted).to.equal(0);
      expect(clock.countTimers()).to.equal(0);
    });

    it('should run the sweep timer only while statements are pending (and one TTL after), unref-ed', () => {
      start('st-8');
      complete('st-8');
      clock.tick(DEFAULT_TELEMETRY_CONFIG.statementTtlMs - 1);
      start('st-9');
      clock.tick(1);
      expect(clock.countTimers(), 'st-9 is pending').to.equal(1);
      complete('st-9');
      clock.tick(DEFAULT_TELEMETRY_CONFIG.statementTtlMs);
      expect(clock.countTimers()).to.equal(0);
      expect(logs.map((log) => log.statementId)).to.deep.equal(['st-8', 'st-9']);
      clock.restore();
      const real = new MetricsAggregator(context, emitter, sink);
      try {
        expect((real as any).sweepTimer).to.equal(undefined);
        start('st-10');
        expect((real as any).sweepTimer.hasRef()).to.equal(false);
      } finally {
        real.close();
        aggregator.close(); // it saw st-10 too, and armed a real timer
        clock = sinon.useFakeTimers();
      }
    });
  });

  describe('bounds', () => {
    it('should track at most maxPendingStatements and count the rest', () => {
      create({ maxPendingStatements: 2 });
      start('st-1');
      start('st-2');
      start('st-3');
      chunk('st-3', 0, 5);
      expect(aggregator.getStats()).to.deep.equal({ pending: 2, dropped: 2, evicted: 0 });
      expect(context.logger.lines.filter((line) => /not tracked/.test(line.message))).to.have.length(1);
      complete('st-3'); // its end is still reported, without tracking it
      expect(logs.map((log) => log.statementId)).to.deep.equal(['st-3']);
      complete('st-1');
      start('st-4');
      expect(aggregator.getStats().pending).to.equal(2);
    });

    it('should read config from context', () => {
      create({ maxPendingStatements: 1, statementTtlMs: 1000 });
      start('st-1');
      start('st-2');
      expect(aggregator.getStats().dropped).to.equal(1);
      clock.tick(1000);
      expect(aggregator.getStats().evicted).to.equal(1);
    });

    it('should fall back to defaults when the config cannot be read', () => {
      const broken = new ClientContextStub();
      sinon.stub(broken, 'getTelemetryConfig').throws(new Error('bad config'));
      aggregator.close();
      aggregator = new MetricsAggregator(broken, emitter, sink);
      start('st-1');
      clock.tick(HOUR);
      expect(logs.filter((log) => log.statementId === 'st-1')).to.have.length(1);
      expect(broken.logger.has(/bad config/)).to.equal(true);
    });
  });

  describe('hostile input', () => {
    it('should ignore statement events without a usable id, with a debug log', () => {
      start(undefined as any);
      start('');
      start('x'.repeat(10_000));
      complete(42 as any);
      chunk({} as any, 0, 1);
      emitter.emitError({ statementId: 'y'.repeat(1000), errorName: 'E', isTerminal: true });
      expect(logs).to.deep.equal([]);
      expect(aggregator.getStats().pending).to.equal(0);
      expect(context.logger.lines).to.have.length(6);
      expect(context.logger.aboveDebug()).to.deep.equal([]);
    });

    it('should never turn bad numbers into NaN or strings', () => {
      start('st-1');
      emitter.emitCloudFetchChunk({
        statementId: 'st-1',
        chunkIndex: 0,
        latencyMs: '12' as any,
        bytes: NaN,
        compressed: 'yes' as any,
      });
      emitter.emitCloudFetchChunk({
        statementId: 'st-1',
        chunkIndex: 1,
        latencyMs: -5,
        bytes: Infinity,
        compressed: true,
      });
      emitter.emitError({ statementId: 'st-1', errorName: 7 as any, isTerminal: false, chunkIndex: -1 });
      complete('st-1', { latencyMs: 'slow', pollCount: -3, retryCount: Infinity, isCompressed: 'no' });
      const [log] = logs;
      expect(log.operationLatencyMs).to.equal(undefined);
      expect(log.errorName).to.equal('Error');
      expect(log.statement).to.deep.include({
        chunksIterated: 2,
        chunkSumLatencyMs: 0,
        bytesDownloaded: 0,
        pollCount: undefined,
        retryCount: undefined,
        isCompressed: true,
      });
      expect(log.statement?.errorChunkIndex).to.equal(undefined);
    });

    it('should cut a huge error name', () => {
      emitter.emitError({ errorName: 'E'.repeat(1_000_000), isTerminal: true });
      expect(logs[0].errorName).to.have.length(256);
    });

    it('should swallow a throwing sink and keep working', () => {
      let calls = 0;
      sink.enqueue = () => {
        calls += 1;
        throw new Error('sink exploded');
      };
      start('st-1');
      expect(() => complete('st-1')).to.not.throw();
      expect(context.logger.has(/sink exploded/)).to.equal(true);
      expect(aggregator.getStats().pending).to.equal(0);
      start('st-2');
      complete('st-2');
      expect(calls).to.equal(2);
    });

    it('should survive a throwing logger', () => {
      sinon.stub(context.logger, 'log').throws(new Error('logger broken'));
      sink.enqueue = () => {
        throw new Error('sink exploded');
      };
      start(undefined as any);
      start('st-1');
      expect(() => complete('st-1')).to.not.throw();
    });

    it('should treat a throwing openStatements as not open', () => {
      aggregator.close();
      context = new ClientContextStub({ statementTtlMs: 1000 });
      emitter = new TelemetryEventEmitter(context);
      aggregator = new MetricsAggregator(context, emitter, sink, {
        has: () => {
          throw new Error('has exploded');
        },
      });
      start('st-1');
      clock.tick(1000);
      expect(logs).to.have.length(1);
      expect(context.logger.has(/has exploded/)).to.equal(true);
    });

    it('should swallow garbage emitted straight on the emitter', () => {
      expect(() => {
        emitter.emit('statement.start', null);
        emitter.emit('statement.complete', undefined);
        emitter.emit('cloudfetch.chunk', 5);
        emitter.emit('connection.open', null);
        emitter.emit('error', null);
      }).to.not.throw();
      expect(context.logger.lines.length).to.be.greaterThan(0);
    });

    it('should survive a broken emitter and broken session ids', () => {
      const broken = new MetricsAggregator(context, null as any, sink);
      expect(() => broken.completeSession(undefined as any)).to.not.throw();
      expect(() => broken.close()).to.not.throw();
      expect(context.logger.has(/subscribing/)).to.equal(true);
      expect(context.logger.has(/unsubscribing/)).to.equal(true);
    });

    it('should swallow failures in session completion, the TTL sweep and close', () => {
      create({ statementTtlMs: 1000 });
      start('st-1');
      const now = sinon.stub(Date, 'now').throws(new Error('clock broken'));
      expect(() => aggregator.completeSession('session-1')).to.not.throw();
      expect(() => clock.tick(1000)).to.not.throw();
      expect(() => aggregator.close()).to.not.throw();
      now.restore();
      expect(context.logger.has(/completing a session failed: clock broken/)).to.equal(true);
      expect(context.logger.has(/TTL sweep failed: clock broken/)).to.equal(true);
      expect(context.logger.has(/at close failed: clock broken/)).to.equal(true);
      expect(clock.countTimers()).to.equal(0);
    });

    it('should swallow an event whose fields throw when read', () => {
      start('st-1');
      const hostile = {
        get statementId(): string {
          throw new Error('getter exploded');
        },
      };
      ['statement.start', 'statement.complete', 'cloudfetch.chunk', 'error', 'connection.open'].forEach((name) =>
        expect(() => emitter.emit(name, hostile)).to.not.throw(),
      );
      expect(context.logger.lines.filter((line) => /getter exploded/.test(line.message))).to.have.length(4);
    });
  });
});
