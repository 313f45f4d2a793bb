import { expect } from 'chai';
import sinon from 'sinon';
import FeatureFlagCache, { FeatureFlagState, TELEMETRY_FLAG_NAME } from '../../../lib/telemetry/FeatureFlagCache';
import * as httpRequestModule from '../../../lib/telemetry/httpRequest';
import TelemetryClient from '../../../lib/telemetry/TelemetryClient';
import { TelemetryConfiguration, TelemetryLog } from '../../../lib/telemetry/types';
import ClientContextStub from '../.stubs/ClientContextStub';
import TelemetryExporterStub from '../.stubs/TelemetryExporterStub';
import { makeTarget } from '../.stubs/TelemetryTargetStub';

/** A feature-flag cache whose answer the test sets; `whenSettled` can be made to wait. */
class FlagsFake {
  public state: FeatureFlagState = 'enabled';

  public settling?: Promise<FeatureFlagState>;

  getState(): FeatureFlagState {
    return this.state;
  }

  async whenSettled(): Promise<FeatureFlagState> {
    return this.settling ?? this.state;
  }
}

let sequence = 0;
function makeLog(): TelemetryLog {
  sequence += 1;
  return { kind: 'statement', eventId: `event-${sequence}`, timestamp: sequence, statementId: `st-${sequence}` };
}

/** A log that reports an error: a failed statement, or an error on its own. */
function makeErrorLog(kind: 'statement' | 'error' = 'statement'): TelemetryLog {
  return { ...makeLog(), kind, timestamp: Date.now(), errorName: 'SomeError' };
}

describe('TelemetryClient', () => {
  let clock: sinon.SinonFakeTimers;
  let context: ClientContextStub;
  let exporter: TelemetryExporterStub;
  let flags: FlagsFake;
  let client: TelemetryClient;

  function create(config: Partial<TelemetryConfiguration> = {}) {
    context = new ClientContextStub({
      batchSize: 3,
      flushIntervalMs: 5000,
      maxQueueSize: 10,
      closeTimeoutMs: 2000,
      ...config,
    });
    client = new TelemetryClient(context, makeTarget(), exporter, flags as unknown as FeatureFlagCache);
  }

  const enqueue = (n: number) => {
    const logs = Array.from({ length: n }, makeLog);
    logs.forEach((log) => client.enqueue(log));
    return logs;
  };
  const settle = () => clock.tickAsync(0);
  /** Calls close() and returns whether it has returned yet. */
  const startClose = () => {
    let closed = false;
    client.close().then(() => (closed = true));
    return () => closed;
  };

  beforeEach(() => {
    clock = sinon.useFakeTimers({ now: 1_000_000 });
    exporter = new TelemetryExporterStub();
    flags = new FlagsFake();
    create();
  });

  afterEach(() => {
    clock.restore();
    sinon.restore();
  });

  describe('flushing', () => {
    it('should flush when batch size reached, delegating to the exporter', async () => {
      const logs = enqueue(3);
      await settle();
      expect(exporter.batches).to.deep.equal([logs]);
      expect(client.getStats()).to.deep.equal({ queued: 0, dropped: 0, exportedBatches: 1 });
      expect(clock.countTimers()).to.equal(0);
    });

    it('should flush a steady stream at the flush interval after its first log', async () => {
      create({ batchSize: 100 });
      const logs = [makeLog()];
      client.enqueue(logs[0]);
      // A log every 2 s: never quiet for half the interval.
      for (let i = 0; i < 2; i += 1) {
        await clock.tickAsync(2000);
        const log = makeLog();
        logs.push(log);
        client.enqueue(log);
      }
      await clock.tickAsync(999);
      expect(exporter.batches).to.deep.equal([]);
      await clock.tickAsync(1);
      expect(exporter.batches).to.deep.equal([logs]);
    });

    it('should flush a burst once no log has arrived for half the interval', async () => {
      const first = enqueue(1);
      await clock.tickAsync(1000);
      const second = enqueue(1);
      await clock.tickAsync(2499);
      expect(exporter.batches).to.deep.equal([]);
      await clock.tickAsync(1);
      expect(exporter.batches).to.deep.equal([[...first, ...second]]);
      expect(clock.countTimers()).to.equal(0);
    });

    it('should keep one flush timer however many logs arrive', async () => {
      create({ batchSize: 1000, maxQueueSize: 1000 });
      for (let i = 0; i < 400; i += 1) {
        client.enqueue(makeLog());
        expect(clock.countTimers()).to.equal(1);
        await clock.tickAsync(10);
      }
      await clock.tickAsync(2500);
      expect(exporter.batches.map((batch) => batch.length)).to.deep.equal([400]);
      expect(clock.countTimers()).to.equal(0);
    });

    it('should keep the flush timer only while logs wait', async () => {
      expect(clock.countTimers()).to.equal(0);
      enqueue(1);
      expect(clock.countTimers()).to.equal(1);
      enqueue(1);
      expect(clock.countTimers()).to.equal(1);
      await clock.tickAsync(5000);
      expect(clock.countTimers()).to.equal(0);
    });

    it('should unref the flush timer so it never holds the process', async () => {
      clock.restore();
      create();
      client.enqueue(makeLog());
      try {
        expect((client as any).flushTimer.hasRef()).to.equal(false);
      } finally {
        await client.close();
        clock = sinon.useFakeTimers();
      }
    });

    it('should run one export at a time and never send a log twice', async () => {
      exporter.hang();
      const logs = enqueue(7);
      await settle();
      expect(exporter.exportCalls).to.equal(1);
      expect(client.getStats().queued).to.equal(4); // the batch in flight left the queue
      exporter.release();
      await settle();
      expect(exporter.batches.map((batch) => batch.length)).to.deep.equal([3, 3]);
      await clock.tickAsync(5000);
      expect(exporter.logs).to.deep.equal(logs);
      expect(client.getStats()).to.deep.equal({ queued: 0, dropped: 0, exportedBatches: 3 });
    });

    it('should flush the partial batch on the timer even while a full one is in flight', async () => {
      exporter.hang();
      enqueue(4);
      await clock.tickAsync(5000);
      exporter.release();
      await settle();
      expect(exporter.batches.map((batch) => batch.length)).to.deep.equal([3, 1]);
    });

    it('should survive an exporter that throws, losing only that batch', async () => {
      exporter.fail();
      enqueue(3);
      await settle();
      expect(context.logger.has(/export failed: exporter failed/)).to.equal(true);
      expect(client.getStats().exportedBatches).to.equal(0);
      exporter.release();
      const later = enqueue(3);
      await settle();
      expect(exporter.batches).to.deep.equal([later]);
      expect(context.logger.aboveDebug()).to.deep.equal([]);
    });
  });

  describe('errors uploaded promptly', () => {
    /** When each export started, by the fake clock. */
    let exportTimes: number[];

    beforeEach(() => {
      exportTimes = [];
      const record = exporter.export.bind(exporter);
      exporter.export = (logs) => {
        exportTimes.push(Date.now());
        return record(logs);
      };
    });

    it('should export a log carrying an error at once, with what waits beside it', async () => {
      const waiting = makeLog();
      client.enqueue(waiting);
      const failed = makeErrorLog();
      client.enqueue(failed);
      await settle();
      expect(exporter.batches).to.deep.equal([[waiting, failed]]);
      expect(clock.countTimers()).to.equal(0);
    });

    it('should export an error-only log within a second, not at the flush interval', async () => {
      client.enqueue(makeErrorLog());
      await settle();
      const second = makeErrorLog('error');
      client.enqueue(second);
      await clock.tickAsync(999);
      expect(exporter.batches).to.have.length(1);
      await clock.tickAsync(1);
      expect(exporter.batches[1]).to.deep.equal([second]);
      expect(exportTimes.map((time) => time - 1_000_000)).to.deep.equal([0, 1000]);
    });

    it('should keep a log without an error waiting for the quiet period', async () => {
      client.enqueue(makeLog());
      client.enqueue({ ...makeLog(), kind: 'error', errorName: '' });
      await clock.tickAsync(2499);
      expect(exporter.batches).to.deep.equal([]);
      await clock.tickAsync(1);
      expect(exporter.batches).to.have.length(1);
    });

    it('should bound an error storm to one extra export a second, exporting every log once', async () => {
      create({ batchSize: 5000, maxQueueSize: 5000 });
      const logs: TelemetryLog[] = [];
      for (let i = 0; i < 1000; i += 1) {
        const failed = makeErrorLog(i % 2 === 0 ? 'statement' : 'error');
        logs.push(failed);
        client.enqueue(failed);
        await clock.tickAsync(10);
      }
      await clock.tickAsync(1000);
      expect(exporter.logs).to.deep.equal(logs);
      expect(exportTimes.length).to.be.at.most(11);
      exportTimes.slice(1).forEach((time, i) => expect(time - exportTimes[i]).to.be.at.least(1000));
      // ...and no error waited more than a second.
      let exported = 0;
      exporter.batches.forEach((batch, i) => {
        batch.forEach((log) => expect(exportTimes[i] - log.timestamp).to.be.at.most(1000));
        exported += batch.length;
      });
      expect(exported).to.equal(1000);
    });

    it('should still run one export at a time when errors arrive during one', async () => {
      create({ maxQueueSize: 100 });
      exporter.hang();
      client.enqueue(makeErrorLog());
      await settle();
      for (let i = 0; i < 20; i += 1) {
        client.enqueue(makeErrorLog());
        await clock.tickAsync(500);
      }
      expect(exporter.exportCalls).to.equal(1);
      exporter.release();
      await clock.tickAsync(1000);
      expect(exporter.logs).to.have.length(21);
      expect(exporter.exportCalls).to.be.at.most(1 + Math.ceil(20 / 3)); // batchSize 3, one batch after another
    });

    it('should send nothing while the flag is unknown, then everything once it is enabled', async () => {
      flags.state = 'unknown';
      const logs = [makeErrorLog(), makeErrorLog('error')];
      logs.forEach((log) => client.enqueue(log));
      await clock.tickAsync(1500);
      logs.push(makeErrorLog());
      client.enqueue(logs[2]);
      await clock.tickAsync(10_000);
      expect(exportTimes).to.deep.equal([]);
      expect(client.getStats().queued).to.equal(3);
      expect(clock.countTimers()).to.equal(1); // the interval's re-check only: nothing spins
      flags.state = 'enabled';
      await clock.tickAsync(5000);
      expect(exporter.logs).to.deep.equal(logs);
    });

    it('should drop an error log while the flag is off, with no timer', async () => {
      flags.state = 'disabled';
      client.enqueue(makeErrorLog());
      await clock.tickAsync(1000);
      expect(exportTimes).to.deep.equal([]);
      expect(client.getStats().dropped).to.equal(1);
      expect(clock.countTimers()).to.equal(0);
    });

    it('should leave no error flush timer behind after close', async () => {
      client.enqueue(makeErrorLog());
      await settle();
      const pending = makeErrorLog();
      client.enqueue(pending);
      expect(clock.countTimers()).to.equal(2);
      await client.close();
      expect(exporter.logs[1]).to.equal(pending);
      expect(clock.countTimers()).to.equal(0);
      client.enqueue(makeErrorLog());
      await clock.tickAsync(2000);
      expect(exporter.logs).to.have.length(2);
    });

    it('should unref the error flush timer so it never holds the process', async () => {
      clock.restore();
      create();
      client.enqueue(makeErrorLog());
      try {
        expect((client as any).errorFlushTimer.hasRef()).to.equal(false);
      } finally {
        await client.close();
        clock = sinon.useFakeTimers();
      }
    });
  });

  describe('bounds', () => {
    it('should drop new logs when the queue is full and count them', async () => {
      flags.state = 'unknown';
      const logs = enqueue(14);
      expect(client.getStats()).to.deep.equal({ queued: 10, dropped: 4, exportedBatches: 0 });
      expect(context.logger.lines.filter((line) => /queue full/.test(line.message))).to.have.length(1);
      flags.state = 'enabled';
      await clock.tickAsync(5000);
      expect(exporter.logs).to.deep.equal(logs.slice(0, 10)); // the oldest are kept, the newest dropped
    });

    it('should log each overflow once, even after other drops', async () => {
      flags.state = 'disabled';
      enqueue(1);
      flags.state = 'unknown';
      enqueue(12);
      flags.state = 'enabled';
      await clock.tickAsync(5000);
      flags.state = 'unknown';
      enqueue(12);
      const overflowLines = context.logger.lines.filter((line) => /queue full/.test(line.message));
      expect(overflowLines).to.have.length(2);
      expect(client.getStats().dropped).to.equal(1 + 2 + 2);
    });
  });

  describe('feature flag', () => {
    it('should hold logs while the flag is unknown and send them once it is enabled', async () => {
      flags.state = 'unknown';
      const logs = enqueue(5);
      await clock.tickAsync(5000);
      expect(exporter.exportCalls).to.equal(0);
      expect(client.getStats().queued).to.equal(5);
      expect(clock.countTimers()).to.equal(1); // re-checks at the next interval
      flags.state = 'enabled';
      await clock.tickAsync(5000);
      expect(exporter.logs).to.deep.equal(logs);
    });

    it('should drop held logs when the flag answers disabled, making no request', async () => {
      flags.state = 'unknown';
      enqueue(5);
      flags.state = 'disabled';
      await clock.tickAsync(5000);
      expect(exporter.exportCalls).to.equal(0);
      expect(client.getStats()).to.deep.equal({ queued: 0, dropped: 5, exportedBatches: 0 });
      expect(clock.countTimers()).to.equal(0);
    });

    it('should keep dropping new logs while disabled and accept them again once enabled', async () => {
      flags.state = 'disabled';
      enqueue(4);
      expect(client.getStats()).to.deep.equal({ queued: 0, dropped: 4, exportedBatches: 0 });
      expect(clock.countTimers()).to.equal(0);
      flags.state = 'enabled';
      const logs = enqueue(3);
      await settle();
      expect(exporter.batches).to.deep.equal([logs]);
    });

    it('should drop what it holds when the flag turns off before the next enqueue', () => {
      flags.state = 'unknown';
      enqueue(2);
      flags.state = 'disabled';
      enqueue(1);
      expect(client.getStats()).to.deep.equal({ queued: 0, dropped: 3, exportedBatches: 0 });
    });

    it('should hold then send with the real cache once the flag endpoint answers', async () => {
      let answer: (value: httpRequestModule.HttpResponse) => void = () => undefined;
      sinon.stub(httpRequestModule, 'default').returns(new Promise((resolve) => (answer = resolve)));
      const cache = new FeatureFlagCache();
      const target = makeTarget();
      cache.acquire(context, target);
      client = new TelemetryClient(context, target, exporter, cache);
      const logs = enqueue(3);
      await clock.tickAsync(5000);
      expect(exporter.exportCalls).to.equal(0);
      answer({
        status: 200,
        header: () => undefined,
        body: JSON.stringify({ flags: [{ name: TELEMETRY_FLAG_NAME, value: 'true' }] }),
      });
      await clock.tickAsync(5000);
      expect(exporter.logs).to.deep.equal(logs);
    });
  });

  describe('flush (exit without close)', () => {
    it('should send a partial batch at once and keep accepting logs', async () => {
      const logs = enqueue(2);
      await client.flush();
      expect(exporter.batches).to.deep.equal([logs]);
      const later = enqueue(1);
      await client.flush();
      expect(exporter.batches).to.deep.equal([logs, later]);
    });

    it('should wait for an unknown flag and then send', async () => {
      flags.state = 'unknown';
      let settle: (state: FeatureFlagState) => void = () => undefined;
      flags.settling = new Promise((resolve) => (settle = resolve));
      const logs = enqueue(1);
      const flushing = client.flush();
      await clock.tickAsync(0);
      expect(exporter.batches).to.deep.equal([]);
      flags.state = 'enabled';
      settle('enabled');
      await flushing;
      expect(exporter.batches).to.deep.equal([logs]);
    });

    it('should do nothing once closed', async () => {
      await client.close();
      enqueue(1);
      await client.flush();
      expect(exporter.batches).to.deep.equal([]);
    });

    it("should settle only after the exporter's forceFlush", async () => {
      exporter.holdFlush();
      enqueue(1);
      let flushed = false;
      client.flush().then(() => (flushed = true));
      await clock.tickAsync(100);
      expect(exporter.batches).to.have.length(1);
      expect(flushed).to.equal(false);
      exporter.releaseFlush();
      await settle();
      expect(flushed).to.equal(true);
    });
  });

  describe('close', () => {
    it('should flush everything held, then shut the exporter down', async () => {
      const logs = enqueue(5);
      await settle();
      await client.close();
      expect(exporter.logs).to.deep.equal(logs);
      expect(exporter.shutdownCalls).to.equal(1);
      expect(clock.countTimers()).to.equal(0);
    });

    it('should be idempotent and stop accepting logs', async () => {
      const first = client.close();
      expect(client.close()).to.equal(first);
      await first;
      enqueue(2);
      await clock.tickAsync(10_000);
      expect(exporter.exportCalls).to.equal(0);
      expect(client.getStats().dropped).to.equal(2);
      expect(exporter.shutdownCalls).to.equal(1);
    });

    it('should wait for the feature flag before flushing', async () => {
      flags.state = 'unknown';
      let answer: (state: FeatureFlagState) => void = () => undefined;
      flags.settling = new Promise((resolve) => (answer = resolve));
      const logs = enqueue(2);
      const closed = client.close();
      await clock.tickAsync(500);
      flags.state = 'enabled';
      answer('enabled');
      await closed;
      expect(exporter.logs).to.deep.equal(logs);
    });

    it('should drop what it holds when the flag is still unknown at close', async () => {
      flags.state = 'unknown';
      enqueue(2);
      await client.close();
      expect(exporter.exportCalls).to.equal(0);
      expect(client.getStats()).to.deep.equal({ queued: 0, dropped: 2, exportedBatches: 0 });
    });

    it('should meet the close deadline with a hanging exporter, aborting the export in flight', async () => {
      exporter.hang();
      enqueue(5);
      const closed = startClose();
      await clock.tickAsync(1999);
      expect(closed()).to.equal(false);
      expect(exporter.shutdownCalls).to.equal(0);
      await clock.tickAsync(1);
      expect(closed()).to.equal(true);
      expect(exporter.shutdownCalls).to.be.greaterThan(0);
      expect(exporter.exportCalls).to.equal(1); // nothing more was tried after the deadline
      expect(client.getStats()).to.include({ queued: 0, dropped: 2 });
      expect(clock.countTimers()).to.equal(0);
    });

    it("should return only after the exporter's forceFlush, so the audit file is complete", async () => {
      exporter.holdFlush();
      const logs = enqueue(2);
      const closed = startClose();
      await clock.tickAsync(500);
      expect(exporter.logs).to.deep.equal(logs);
      expect(closed()).to.equal(false);
      exporter.releaseFlush();
      await settle();
      expect(closed()).to.equal(true);
      expect(exporter.forceFlushCalls).to.equal(1);
    });

    it('should close with an exporter that has no forceFlush', async () => {
      const batches: TelemetryLog[][] = [];
      const plain = { export: async (logs: TelemetryLog[]) => void batches.push(logs), shutdown: () => undefined };
      client = new TelemetryClient(context, makeTarget(), plain, flags as unknown as FeatureFlagCache);
      const logs = enqueue(2);
      await client.close();
      expect(batches).to.deep.equal([logs]);
      expect(context.logger.lines.filter((line) => /failed/.test(line.message))).to.deep.equal([]);
    });

    it('should meet the close deadline when forceFlush never settles', async () => {
      exporter.holdFlush();
      enqueue(1);
      const closed = startClose();
      await clock.tickAsync(1999);
      expect(closed()).to.equal(false);
      await clock.tickAsync(1);
      expect(closed()).to.equal(true);
      expect(exporter.shutdownCalls).to.equal(1);
      expect(clock.countTimers()).to.equal(0);
    });

    it('should meet the close deadline when the flag never settles', async () => {
      flags.state = 'unknown';
      flags.settling = new Promise(() => undefined);
      enqueue(1);
      const closed = startClose();
      await clock.tickAsync(2000);
      expect(closed()).to.equal(true);
      expect(client.getStats().dropped).to.equal(1);
    });

    it('should never reject, whatever fails inside', async () => {
      sinon.stub(exporter, 'shutdown').throws(new Error('shutdown exploded'));
      flags.whenSettled = () => Promise.reject(new Error('flags exploded'));
      enqueue(1);
      await client.close(); // rejects the test if it rejects
      expect(context.logger.has(/flags exploded/)).to.equal(true);
      expect(context.logger.has(/shutdown exploded/)).to.equal(true);
    });
  });

  describe('hostile input', () => {
    it('should ignore non-object logs with a debug log', async () => {
      client.enqueue(undefined as any);
      client.enqueue(null as any);
      client.enqueue('log' as any);
      expect(client.getStats()).to.deep.equal({ queued: 0, dropped: 0, exportedBatches: 0 });
      expect(context.logger.lines).to.have.length(3);
      expect(context.logger.aboveDebug()).to.deep.equal([]);
    });

    it('should pass a huge log through untouched, counting it like any other', async () => {
      const huge = { ...makeLog(), errorName: 'x'.repeat(1_000_000) };
      client.enqueue(huge);
      await clock.tickAsync(5000);
      expect(exporter.logs[0]).to.equal(huge);
    });

    it('should use defaults when the config cannot be read', async () => {
      const broken = new ClientContextStub();
      sinon.stub(broken, 'getTelemetryConfig').throws(new Error('bad config'));
      client = new TelemetryClient(broken, makeTarget(), exporter, flags as unknown as FeatureFlagCache);
      enqueue(1);
      await clock.tickAsync(5000); // DEFAULT_TELEMETRY_CONFIG.flushIntervalMs
      expect(exporter.batches).to.have.length(1);
      expect(broken.logger.has(/bad config/)).to.equal(true);
    });

    it('should survive a throwing logger and a throwing flag cache', async () => {
      sinon.stub(context.logger, 'log').throws(new Error('logger broken'));
      flags.getState = () => {
        throw new Error('flags exploded');
      };
      expect(() => enqueue(3)).to.not.throw();
      await clock.tickAsync(5000);
      expect(client.getStats().exportedBatches).to.equal(0);
      await client.close();
    });

    it('should keep going when the exporter returns no promise at all', async () => {
      exporter.export = (() => undefined) as any;
      enqueue(3);
      await settle();
      expect(client.getStats().exportedBatches).to.equal(1);
    });
  });
});
