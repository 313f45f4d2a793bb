import { expect } from 'chai';
import sinon from 'sinon';
import { LogLevel } from '@databricks/sql';
import HttpRetryPolicy from '@databricks/sql/dist/connection/connections/HttpRetryPolicy';
import NullRetryPolicy from '@databricks/sql/dist/connection/connections/NullRetryPolicy';
import RetryError, { RetryErrorCode } from '@databricks/sql/dist/errors/RetryError';
import type IClientContext from '@databricks/sql/dist/contracts/IClientContext';
import type IDBSQLLogger from '@databricks/sql/dist/contracts/IDBSQLLogger';
import type IConnectionProvider from '@databricks/sql/dist/connection/contracts/IConnectionProvider';
import type { HttpTransactionDetails } from '@databricks/sql/dist/connection/contracts/IConnectionProvider';
import type IRetryPolicy from '@databricks/sql/dist/connection/contracts/IRetryPolicy';
import RetryCounter, { RetryReceiver } from '../../../lib/driver/RetryCounter';

type Policy = IRetryPolicy<HttpTransactionDetails>;

interface RetryConfig {
  retryMaxAttempts: number;
  retriesTimeout: number;
  retryDelayMin: number;
  retryDelayMax: number;
}

/** The slice of the driver's client context its retry policy reads. */
function contextOf(overrides: Partial<RetryConfig> = {}): IClientContext {
  const config: RetryConfig = {
    retryMaxAttempts: 5,
    retriesTimeout: 60_000,
    retryDelayMin: 1,
    retryDelayMax: 2,
    ...overrides,
  };
  return { getConfig: () => config } as unknown as IClientContext;
}

/** A connection provider whose `getRetryPolicy` needs its `this`, as the driver's does. */
class ProviderStub implements IConnectionProvider {
  readonly made: unknown[] = [];

  constructor(
    private readonly context: IClientContext,
    private readonly make: (context: IClientContext) => unknown = (context) => new HttpRetryPolicy(context),
  ) {}

  async getThriftConnection(): Promise<unknown> {
    return undefined;
  }

  async getAgent(): Promise<undefined> {
    return undefined;
  }

  setHeaders(): void {}

  async getRetryPolicy(): Promise<Policy> {
    const policy = this.make(this.context);
    this.made.push(policy);
    return policy as Policy;
  }
}

class RecordingReceiver implements RetryReceiver {
  readonly calls: Array<{ request: unknown; retries: number }> = [];

  retried(request: unknown, retries: number): void {
    this.calls.push({ request, retries });
  }

  total(): number {
    return this.calls.reduce((sum, call) => sum + call.retries, 0);
  }
}

class RecordingLogger implements IDBSQLLogger {
  readonly lines: Array<{ level: LogLevel; message: string }> = [];

  log(level: LogLevel, message: string): void {
    this.lines.push({ level, message });
  }

  aboveDebug(): Array<{ level: LogLevel; message: string }> {
    return this.lines.filter((line) => line.level !== LogLevel.debug);
  }

  matching(pattern: RegExp): string[] {
    return this.lines.map((line) => line.message).filter((message) => pattern.test(message));
  }
}

/** A node-fetch response, as far as the driver's policy reads one. */
function response(status: number, retryAfter?: string) {
  return {
    status,
    headers: { get: (name: string) => (name.toLowerCase() === 'retry-after' ? (retryAfter ?? null) : null) },
  };
}

type Step = number | { status: number; retryAfter?: string } | { error: unknown };

/** An operation answering attempt by attempt from `steps` (the last repeats), recording its requests. */
function script(steps: Step[]) {
  const requests: Array<{ attempt: number; body: Buffer }> = [];
  const results: HttpTransactionDetails[] = [];
  const attemptTimes: number[] = [];
  const operation = async (): Promise<HttpTransactionDetails> => {
    const step = steps[Math.min(requests.length, steps.length - 1)];
    const request = { attempt: requests.length + 1, body: Buffer.from(`attempt ${requests.length + 1}`) };
    requests.push(request);
    attemptTimes.push(Date.now());
    if (typeof step === 'object' && 'error' in step) {
      throw step.error;
    }
    const { status, retryAfter } = typeof step === 'number' ? { status: step, retryAfter: undefined } : step;
    const details = { request, response: response(status, retryAfter) } as unknown as HttpTransactionDetails;
    results.push(details);
    return details;
  };
  return { operation, requests, results, attemptTimes };
}

type Outcome = { value: unknown } | { error: unknown };

async function outcomeOf(promise: Promise<unknown>): Promise<Outcome> {
  try {
    return { value: await promise };
  } catch (error) {
    return { error };
  }
}

/** An outcome as plain data: a result's status, or an error's class, code and message. */
function describeOutcome(outcome: Outcome): unknown {
  if ('value' in outcome) {
    const value = outcome.value as { shouldRetry?: boolean; response?: { status: number } } | undefined;
    return { value: value?.response ? { status: value.response.status } : value };
  }
  const error = outcome.error as Error & { errorCode?: string };
  return { error: { class: error?.constructor?.name, errorCode: error?.errorCode, message: error?.message } };
}

function observed(context = contextOf(), make?: (context: IClientContext) => unknown) {
  const provider = new ProviderStub(context, make);
  const receiver = new RecordingReceiver();
  const logger = new RecordingLogger();
  RetryCounter.observe(provider, receiver, logger);
  return { provider, receiver, logger };
}

const NOT_COUNTED = /retries are not counted/;

describe('RetryCounter', () => {
  afterEach(() => {
    sinon.restore();
  });

  describe("counting the driver policy's retries", () => {
    it('counts two retries of a call that succeeds on its third attempt, reporting the requests retried', async () => {
      const { provider, receiver, logger } = observed();
      const { operation, requests, results } = script([503, 503, 200]);

      const result = await (await provider.getRetryPolicy()).invokeWithRetry(operation);

      expect(result).to.equal(results[2]);
      expect(requests).to.have.length(3);
      expect(receiver.total()).to.equal(2);
      expect(receiver.calls.at(-1)?.request).to.equal(requests[2]);
      for (const call of receiver.calls) {
        expect(call.retries).to.be.greaterThan(0);
        // A retry's request, never the first attempt's.
        expect([requests[1], requests[2]]).to.include(call.request);
      }
      expect(logger.lines).to.deep.equal([]);
    });

    it('reports nothing for a call that succeeds at once', async () => {
      const { provider, receiver } = observed();
      const { operation, results } = script([200]);

      expect(await (await provider.getRetryPolicy()).invokeWithRetry(operation)).to.equal(results[0]);
      expect(receiver.calls).to.deep.equal([]);
    });

    it('reports nothing for a status the driver does not retry', async () => {
      for (const status of [404, 501, 400, 302]) {
        const { provider, receiver } = observed();
        const { operation, results } = script([status, 200]);

        expect(await (await provider.getRetryPolicy()).invokeWithRetry(operation), `status ${status}`).to.equal(
          results[0],
        );
        expect(receiver.calls, `status ${status}`).to.deep.equal([]);
      }
    });

    it('counts retries after network errors', async () => {
      const { provider, receiver } = observed();
      const { operation, requests, results } = script([
        { error: { code: 'ECONNRESET' } },
        { error: { message: 'socket hang up' } },
        200,
      ]);

      expect(await (await provider.getRetryPolicy()).invokeWithRetry(operation)).to.equal(results[0]);
      expect(requests).to.have.length(3);
      expect(receiver.total()).to.equal(2);
      expect(receiver.calls.at(-1)?.request).to.equal(requests[2]);
    });

    it('counts retries of responses and of network errors alike, in one call', async () => {
      const { provider, receiver } = observed();
      const { operation, requests, results } = script([
        503,
        { error: { code: 'ETIMEDOUT' } },
        { status: 429, retryAfter: '1' },
        200,
      ]);

      expect(await (await provider.getRetryPolicy()).invokeWithRetry(operation)).to.equal(results[2]);
      expect(receiver.total()).to.equal(3);
      expect(receiver.calls.at(-1)?.request).to.equal(requests[3]);
      expect(receiver.calls.map((call) => call.request)).not.to.include(requests[0]);
    });

    it('rethrows an error that is no network error unchanged, reporting nothing', async () => {
      const { provider, receiver } = observed();
      const bug = new TypeError('a bug, not the network');
      const { operation, requests } = script([{ error: bug }, 200]);

      const outcome = await outcomeOf((await provider.getRetryPolicy()).invokeWithRetry(operation));

      expect(outcome).to.deep.equal({ error: bug });
      expect((outcome as { error: unknown }).error).to.equal(bug);
      expect(requests).to.have.length(1);
      expect(receiver.calls).to.deep.equal([]);
    });

    it("counts each policy's retries apart: the driver makes one per call", async () => {
      const { provider, receiver } = observed();
      const first = await provider.getRetryPolicy();
      const second = await provider.getRetryPolicy();
      expect(first).not.to.equal(second);
      const a = script([503, 200]);
      const b = script([200]);

      await first.shouldRetry(await a.operation()); // a 503: one retry pending
      await second.shouldRetry(await b.operation()); // another call's 200
      expect(receiver.calls).to.deep.equal([]);

      await first.shouldRetry(await a.operation()); // the retry's 200
      expect(receiver.calls).to.deep.equal([{ request: a.requests[1], retries: 1 }]);
    });

    it('gives each policy its own attempt budget', async () => {
      const { provider } = observed(contextOf({ retryMaxAttempts: 2 }));
      const exhausted = await outcomeOf((await provider.getRetryPolicy()).invokeWithRetry(script([503]).operation));
      expect((exhausted as { error: RetryError }).error).to.be.instanceOf(RetryError);

      const { operation, results } = script([503, 200]);
      expect(await (await provider.getRetryPolicy()).invokeWithRetry(operation)).to.equal(results[1]);
    });
  });

  describe('when retries run out', () => {
    async function baselineAndObserved(context: IClientContext, steps: Step[]) {
      const baseline = script(steps);
      const baselineOutcome = await outcomeOf(new HttpRetryPolicy(context).invokeWithRetry(baseline.operation));
      const { provider, receiver } = observed(context);
      const run = script(steps);
      const outcome = await outcomeOf((await provider.getRetryPolicy()).invokeWithRetry(run.operation));
      const reportedAtOutcome = receiver.calls.length;
      await new Promise((resolve) => setTimeout(resolve, 10));
      return { baseline, baselineOutcome, run, outcome, receiver, reportedAtOutcome, provider };
    }

    it("throws the driver's error when attempts are exhausted, and reports no more than the retries made", async () => {
      const { baseline, baselineOutcome, run, outcome, receiver, reportedAtOutcome, provider } =
        await baselineAndObserved(contextOf({ retryMaxAttempts: 3 }), [503]);

      expect(describeOutcome(outcome)).to.deep.equal(describeOutcome(baselineOutcome));
      const error = (outcome as { error: RetryError }).error;
      expect(error).to.be.instanceOf(RetryError);
      expect(error.errorCode).to.equal(RetryErrorCode.AttemptsExceeded);
      expect(error.payload).to.equal(run.results.at(-1));
      expect(run.requests).to.have.length(baseline.requests.length).and.to.have.length(3);
      expect(receiver.total()).to.be.at.most(run.requests.length - 1);
      expect(receiver.calls.map((call) => call.request)).not.to.include(run.requests[0]);
      expect(receiver.calls).to.have.length(reportedAtOutcome);

      // Nothing left over for the provider's next call.
      const reportedBefore = receiver.calls.length;
      await (await provider.getRetryPolicy()).invokeWithRetry(script([200]).operation);
      expect(receiver.calls).to.have.length(reportedBefore);
    });

    it("throws the driver's error when the retry time is exhausted, reporting nothing", async () => {
      const { baselineOutcome, outcome, run, receiver } = await baselineAndObserved(
        contextOf({ retriesTimeout: 0 }),
        [503, 200],
      );

      expect(describeOutcome(outcome)).to.deep.equal(describeOutcome(baselineOutcome));
      expect((outcome as { error: RetryError }).error.errorCode).to.equal(RetryErrorCode.TimeoutExceeded);
      expect(run.requests).to.have.length(1);
      expect(receiver.calls).to.deep.equal([]);
    });

    it("reports the retries of a call that got a response and then failed on the way for good, with that response's request", async () => {
      const { outcome, run, receiver } = await baselineAndObserved(contextOf({ retryMaxAttempts: 3 }), [
        503,
        { error: { code: 'ECONNRESET' } },
        { error: { code: 'ECONNRESET' } },
      ]);

      expect((outcome as { error: RetryError }).error).to.be.instanceOf(RetryError);
      expect(run.requests).to.have.length(3);
      expect(receiver.total()).to.equal(2);
      expect(receiver.calls.map((call) => call.request)).to.deep.equal([run.requests[0]]);
    });

    it("throws the driver's error when network errors exhaust the attempts", async () => {
      const { baselineOutcome, baseline, outcome, run, receiver, reportedAtOutcome } = await baselineAndObserved(
        contextOf({ retryMaxAttempts: 3 }),
        [{ error: { code: 'ECONNRESET' } }],
      );

      expect(describeOutcome(outcome)).to.deep.equal(describeOutcome(baselineOutcome));
      expect((outcome as { error: RetryError }).error.payload).to.deep.equal({ code: 'ECONNRESET' });
      expect(run.requests).to.have.length(baseline.requests.length);
      expect(receiver.total()).to.be.at.most(run.requests.length - 1);
      expect(receiver.calls).to.have.length(reportedAtOutcome);
    });
  });

  describe("the policy otherwise behaves as the driver's", () => {
    it("is an instance of the driver's class, one subclass down", async () => {
      const { provider } = observed();
      const policy = await provider.getRetryPolicy();
      expect(policy).to.be.instanceOf(HttpRetryPolicy);
      expect(Object.getPrototypeOf(Object.getPrototypeOf(policy))).to.equal(HttpRetryPolicy.prototype);
    });

    it('makes the same decisions, with the same delays, for the same responses and errors', async () => {
      const context = contextOf({ retryMaxAttempts: 9, retryDelayMin: 3, retryDelayMax: 500 });
      const inputs: Array<{ status: number; retryAfter?: string } | { error: unknown }> = [
        { status: 503 },
        { status: 200 },
        { status: 429, retryAfter: '7' },
        { error: { code: 'ECONNRESET' } },
        { status: 500, retryAfter: 'soon' },
        { status: 501 },
        { status: 404 },
        { status: 99 },
        { status: 502, retryAfter: '-3' },
        { error: { type: 'system' } },
        { status: 503, retryAfter: '1000' },
        { status: 504 },
        { status: 503 },
      ];
      const decide = async (policy: Policy) => {
        const internals = policy as unknown as { computeNetworkErrorRetry(error: unknown): Promise<unknown> };
        const decisions: unknown[] = [];
        for (const [index, input] of inputs.entries()) {
          const request = { attempt: index };
          decisions.push(
            describeOutcome(
              await outcomeOf(
                'error' in input
                  ? internals.computeNetworkErrorRetry(input.error)
                  : policy.shouldRetry({
                      request,
                      response: response(input.status, input.retryAfter),
                    } as unknown as HttpTransactionDetails),
              ),
            ),
          );
        }
        return decisions;
      };

      const expected = await decide(new HttpRetryPolicy(context));
      const { provider } = observed(context);
      const actual = await decide(await provider.getRetryPolicy());

      expect(actual).to.deep.equal(expected);
      // The comparison is not vacuous: delays grow, a header raises them, attempts run out.
      expect(expected[0]).to.deep.equal({ value: { shouldRetry: true, retryAfter: 6 } });
      expect(expected[1]).to.deep.equal({ value: { shouldRetry: false } });
      expect(expected[2]).to.deep.equal({ value: { shouldRetry: true, retryAfter: 28 } });
      expect(expected.at(-1)).to.deep.include({
        error: { class: 'RetryError', errorCode: RetryErrorCode.AttemptsExceeded, message: 'Max retry count exceeded' },
      });
    });

    it("waits as long between attempts as the driver's policy", async () => {
      const clock = sinon.useFakeTimers({ now: 1_760_000_000_000, toFake: ['setTimeout', 'clearTimeout', 'Date'] });
      const context = contextOf({ retryMaxAttempts: 6, retryDelayMin: 100, retryDelayMax: 5_000 });
      const steps: Step[] = [503, { error: { code: 'EPIPE' } }, { status: 429, retryAfter: '700' }, 503, 200];
      const run = async (policy: Policy) => {
        const start = Date.now();
        const attempts = script(steps);
        const pending = outcomeOf(policy.invokeWithRetry(attempts.operation));
        await clock.runAllAsync();
        const outcome = await pending;
        return { outcome: describeOutcome(outcome), waits: attempts.attemptTimes.map((time) => time - start) };
      };

      const expected = await run(new HttpRetryPolicy(context));
      const { provider, receiver } = observed(context);
      const actual = await run(await provider.getRetryPolicy());

      expect(actual).to.deep.equal(expected);
      expect(expected.waits).to.deep.equal([0, 200, 600, 5_600, 7_200]);
      expect(expected.outcome).to.deep.equal({ value: { status: 200 } });
      expect(receiver.total()).to.equal(4);
    });
  });

  describe('a receiver that throws', () => {
    it('changes nothing the call returns and logs at debug only', async () => {
      const provider = new ProviderStub(contextOf());
      const logger = new RecordingLogger();
      RetryCounter.observe(
        provider,
        {
          retried() {
            throw new Error('receiver broke');
          },
        },
        logger,
      );
      const { operation, results } = script([503, 503, 200]);

      expect(await (await provider.getRetryPolicy()).invokeWithRetry(operation)).to.equal(results[2]);
      expect(logger.aboveDebug()).to.deep.equal([]);
      expect(logger.matching(/receiver broke/)).to.have.length.greaterThan(0);
    });

    it('changes no decision of the policy either, whatever it throws', async () => {
      const context = contextOf({ retryMaxAttempts: 4 });
      const provider = new ProviderStub(context);
      const logger = new RecordingLogger();
      RetryCounter.observe(
        provider,
        {
          retried() {
            throw 'not even an Error';
          },
        },
        logger,
      );
      const baseline = script([503, 503, 503, 503]);
      const expected = describeOutcome(
        await outcomeOf(new HttpRetryPolicy(context).invokeWithRetry(baseline.operation)),
      );
      const run = script([503, 503, 503, 503]);
      const actual = describeOutcome(await outcomeOf((await provider.getRetryPolicy()).invokeWithRetry(run.operation)));

      expect(actual).to.deep.equal(expected);
      expect(run.requests).to.have.length(baseline.requests.length);
      expect(logger.aboveDebug()).to.deep.equal([]);
      expect(logger.matching(/could not count retries/)).to.have.length.greaterThan(0);
    });
  });

  describe('a provider observed twice', () => {
    it('reports to the second receiver only, its policy wrapped once', async () => {
      const provider = new ProviderStub(contextOf());
      const first = new RecordingReceiver();
      const second = new RecordingReceiver();
      const logger = new RecordingLogger();
      RetryCounter.observe(provider, first, logger);
      const wrapped = provider.getRetryPolicy;
      RetryCounter.observe(provider, second, logger);

      expect(provider.getRetryPolicy).to.equal(wrapped);
      const policy = await provider.getRetryPolicy();
      expect(Object.getPrototypeOf(Object.getPrototypeOf(policy))).to.equal(HttpRetryPolicy.prototype);
      const { operation, results } = script([503, 503, 200]);
      expect(await policy.invokeWithRetry(operation)).to.equal(results[2]);
      expect(first.calls).to.deep.equal([]);
      expect(second.total()).to.equal(2);
    });

    it('moves to the new receiver and logger after policies were already made', async () => {
      const provider = new ProviderStub(contextOf());
      const first = new RecordingReceiver();
      RetryCounter.observe(provider, first, new RecordingLogger());
      await (await provider.getRetryPolicy()).invokeWithRetry(script([503, 200]).operation);
      expect(first.total()).to.equal(1);

      const logger = new RecordingLogger();
      RetryCounter.observe(
        provider,
        {
          retried() {
            throw new Error('second receiver broke');
          },
        },
        logger,
      );
      const { operation, results } = script([503, 200]);
      expect(await (await provider.getRetryPolicy()).invokeWithRetry(operation)).to.equal(results[1]);
      expect(first.total()).to.equal(1);
      expect(logger.matching(/second receiver broke/)).to.have.length.greaterThan(0);
    });
  });

  describe('a policy it cannot count', () => {
    /** Observes a provider making `make`'s policies; checks they come back unchanged, uncounted. */
    async function expectUncounted(make: (context: IClientContext) => unknown, steps: Step[] = [503, 200]) {
      const { provider, receiver, logger } = observed(contextOf(), make);
      const policies = [
        await provider.getRetryPolicy(),
        await provider.getRetryPolicy(),
        await provider.getRetryPolicy(),
      ];

      expect(policies).to.deep.equal(provider.made);
      policies.forEach((policy, index) => expect(policy).to.equal(provider.made[index]));
      expect(logger.matching(NOT_COUNTED)).to.have.length(1);
      expect(logger.aboveDebug()).to.deep.equal([]);
      if (policies[0] && typeof policies[0].invokeWithRetry === 'function') {
        const { operation } = script(steps);
        await policies[0].invokeWithRetry(operation);
      }
      expect(receiver.calls).to.deep.equal([]);
    }

    it('keeps a policy class without computeRetry', async () => {
      class SimplePolicy {
        constructor(readonly context: IClientContext) {}

        async shouldRetry(): Promise<{ shouldRetry: false }> {
          return { shouldRetry: false };
        }

        async invokeWithRetry(operation: () => Promise<HttpTransactionDetails>): Promise<HttpTransactionDetails> {
          return operation();
        }

        async computeNetworkErrorRetry(): Promise<{ shouldRetry: false }> {
          return { shouldRetry: false };
        }
      }
      await expectUncounted((context) => new SimplePolicy(context));
    });

    it('keeps a policy instance without a context', async () => {
      await expectUncounted(
        (context) => {
          const policy = new HttpRetryPolicy(context);
          Reflect.deleteProperty(policy, 'context');
          return policy;
        },
        [200],
      );
    });

    it('keeps a policy whose constructor takes other arguments', async () => {
      class LabelledPolicy extends HttpRetryPolicy {
        constructor(
          context: IClientContext,
          readonly label: string,
        ) {
          super(context);
        }
      }
      await expectUncounted((context) => new LabelledPolicy(context, 'thrift'));

      const shared = contextOf();
      class ArgumentlessPolicy extends HttpRetryPolicy {
        constructor() {
          super(shared);
        }
      }
      await expectUncounted(() => new ArgumentlessPolicy());
    });

    it("keeps the driver's null policy", async () => {
      await expectUncounted(() => new NullRetryPolicy());
    });

    it('keeps no policy at all', async () => {
      await expectUncounted(() => undefined);
    });
  });

  describe("never in the driver's way", () => {
    it("passes on the provider's own failure to make a policy, and counts once it makes one", async () => {
      const failure = new Error('no policy today');
      let fail = true;
      const { provider, receiver } = observed(contextOf(), (context) => {
        if (fail) {
          throw failure;
        }
        return new HttpRetryPolicy(context);
      });

      const outcome = await outcomeOf(provider.getRetryPolicy());
      expect((outcome as { error: unknown }).error).to.equal(failure);

      fail = false;
      await (await provider.getRetryPolicy()).invokeWithRetry(script([503, 200]).operation);
      expect(receiver.total()).to.equal(1);
    });

    it('does not throw for a provider it cannot change, and leaves it as it was', async () => {
      const provider = Object.freeze(new ProviderStub(contextOf()));
      const original = provider.getRetryPolicy;
      const logger = new RecordingLogger();

      expect(() => RetryCounter.observe(provider, new RecordingReceiver(), logger)).not.to.throw();
      expect(provider.getRetryPolicy).to.equal(original);
      expect(logger.aboveDebug()).to.deep.equal([]);
      expect(logger.lines).to.have.length(1);

      const logger2 = new RecordingLogger();
      expect(() =>
        RetryCounter.observe(null as unknown as IConnectionProvider, new RecordingReceiver(), logger2),
      ).not.to.throw();
      expect(logger2.aboveDebug()).to.deep.equal([]);
    });
  });
});
