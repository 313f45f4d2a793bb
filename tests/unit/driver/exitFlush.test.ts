import { expect } from 'chai';
import sinon from 'sinon';
import { trackForExit, untrackForExit } from '../../../lib/driver/exitFlush';
import type { ExitFlushable } from '../../../lib/driver/contracts/ExitFlushable';

class ConnectionFake implements ExitFlushable {
  public work = true;

  public flushes = 0;

  public finish: () => void = () => undefined;

  hasExitWork(): boolean {
    return this.work;
  }

  flushAtExit(): Promise<void> {
    this.flushes += 1;
    this.work = false;
    return new Promise((resolve) => {
      this.finish = resolve;
    });
  }

  exitDeadlineMs(): number {
    return 2000;
  }
}

describe('exitFlush', () => {
  let clock: sinon.SinonFakeTimers;
  const tracked: ConnectionFake[] = [];

  const track = () => {
    const connection = new ConnectionFake();
    tracked.push(connection);
    trackForExit(connection);
    return connection;
  };

  beforeEach(() => {
    clock = sinon.useFakeTimers();
  });

  afterEach(async () => {
    tracked.splice(0).forEach((connection) => {
      connection.finish();
      untrackForExit(connection);
    });
    await clock.runAllAsync();
    clock.restore();
  });

  it('listens for beforeExit only while some connection is tracked', () => {
    const before = process.listenerCount('beforeExit');
    const a = track();
    const b = track();
    expect(process.listenerCount('beforeExit')).to.equal(before + 1);
    untrackForExit(a);
    expect(process.listenerCount('beforeExit')).to.equal(before + 1);
    untrackForExit(b);
    expect(process.listenerCount('beforeExit')).to.equal(before);
  });

  it('flushes the connections with pending work, keeping the process up until they finish', async () => {
    const busy = track();
    const idle = track();
    idle.work = false;
    process.emit('beforeExit', 0);
    expect([busy.flushes, idle.flushes]).to.deep.equal([1, 0]);
    expect(clock.countTimers(), 'a deadline timer holds the process').to.equal(1);
    busy.finish();
    await clock.tickAsync(0);
    expect(clock.countTimers()).to.equal(0);
  });

  it('gives up at the deadline', async () => {
    const hung = track();
    process.emit('beforeExit', 0);
    await clock.tickAsync(1999);
    expect(clock.countTimers()).to.equal(1);
    await clock.tickAsync(1);
    expect(clock.countTimers()).to.equal(0);
    expect(hung.flushes).to.equal(1);
  });

  it('makes no timer when nothing is pending, so the process exits and the event is not re-armed', () => {
    const idle = track();
    idle.work = false;
    process.emit('beforeExit', 0);
    process.emit('beforeExit', 0);
    expect(idle.flushes).to.equal(0);
    expect(clock.countTimers()).to.equal(0);
  });

  it('does not start a second flush while one runs', () => {
    const connection = track();
    process.emit('beforeExit', 0);
    connection.work = true;
    process.emit('beforeExit', 0);
    expect(connection.flushes).to.equal(1);
  });
});
