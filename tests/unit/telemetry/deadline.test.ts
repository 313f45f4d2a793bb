import { expect } from 'chai';
import sinon from 'sinon';
import { withDeadline } from '../../../lib/telemetry/deadline';

/** The outcome once settled: `{ value }` or `{ error }`; undefined while pending. */
function watch<T>(promise: Promise<T>): { outcome?: { value: T } | { error: unknown } } {
  const state: { outcome?: { value: T } | { error: unknown } } = {};
  promise.then(
    (value) => {
      state.outcome = { value };
    },
    (error: unknown) => {
      state.outcome = { error };
    },
  );
  return state;
}

describe('withDeadline', () => {
  let clock: sinon.SinonFakeTimers;

  beforeEach(() => {
    clock = sinon.useFakeTimers();
  });

  afterEach(() => {
    clock.restore();
  });

  const never = () => new Promise<string>(() => undefined);

  it('settles as the promise does before the deadline, and leaves no timer', async () => {
    const resolved = watch(withDeadline(Promise.resolve('done'), 100, () => 'late'));
    const failure = new Error('failed');
    const rejected = watch(withDeadline(Promise.reject(failure), 100, () => 'late'));
    await clock.tickAsync(0);
    expect(resolved.outcome).to.deep.equal({ value: 'done' });
    expect(rejected.outcome).to.deep.equal({ error: failure });
    expect(clock.countTimers()).to.equal(0);
  });

  it("gives the timeout's value, or its throw as a rejection, at the deadline and not before", async () => {
    const value = watch(withDeadline(never(), 100, () => 'timed out'));
    const thrown = watch(
      withDeadline(never(), 100, () => {
        throw new RangeError('too slow');
      }),
    );
    await clock.tickAsync(99);
    expect(value.outcome).to.equal(undefined);
    await clock.tickAsync(1);
    expect(value.outcome).to.deep.equal({ value: 'timed out' });
    expect((thrown.outcome as { error: Error }).error).to.be.instanceOf(RangeError);
  });

  it('ends at once when the signal aborts, with the abort outcome, and stops listening', async () => {
    const controller = new AbortController();
    const removed = sinon.spy(controller.signal, 'removeEventListener');
    const waiting = watch(
      withDeadline(never(), 1000, () => 'timed out', { signal: controller.signal, onAbort: () => 'aborted' }),
    );
    controller.abort();
    await clock.tickAsync(0);
    expect(waiting.outcome).to.deep.equal({ value: 'aborted' });
    expect(removed.calledWith('abort')).to.equal(true);
    expect(clock.countTimers()).to.equal(0);
    const already = watch(withDeadline(never(), 1000, () => 'timed out', { signal: controller.signal }));
    await clock.tickAsync(0);
    expect(already.outcome).to.deep.equal({ value: 'timed out' });
  });

  it('ignores what the promise does after the deadline', async () => {
    let resolve: (value: string) => void = () => undefined;
    const waiting = watch(withDeadline(new Promise<string>((r) => (resolve = r)), 10, () => 'timed out'));
    await clock.tickAsync(10);
    resolve('too late');
    await clock.tickAsync(0);
    expect(waiting.outcome).to.deep.equal({ value: 'timed out' });
  });

  it('keeps the process alive only when asked to', async () => {
    // Real timers: whether a timer holds the process is Node's, not the fake clock's.
    clock.restore();
    const timerPrototype = Object.getPrototypeOf(setTimeout(() => undefined, 0)) as { unref(): unknown };
    const unref = sinon.spy(timerPrototype, 'unref');
    try {
      await withDeadline(Promise.resolve('quick'), 10, () => undefined);
      expect(unref.callCount).to.equal(1);
      await withDeadline(Promise.resolve('quick'), 10, () => undefined, { ref: true });
      expect(unref.callCount).to.equal(1);
    } finally {
      unref.restore();
      clock = sinon.useFakeTimers();
    }
  });
});
