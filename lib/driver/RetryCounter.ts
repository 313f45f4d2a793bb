import { LogLevel } from '@databricks/sql';
import type IDBSQLLogger from '@databricks/sql/dist/contracts/IDBSQLLogger';
import type IConnectionProvider from '@databricks/sql/dist/connection/contracts/IConnectionProvider';

/** Where counted retries go: the request the driver retried (a fetch `Request`), and how many times. */
export interface RetryReceiver {
  retried(request: unknown, retries: number): void;
}

/** The parts of the driver's HTTP retry policy the counter builds on, from the driver's own class. */
interface RetryPolicyInternals {
  context?: unknown;
  shouldRetry(details: unknown): Promise<unknown>;
  computeRetry(details: unknown): unknown;
  computeNetworkErrorRetry(error: unknown): Promise<unknown>;
}

type RetryPolicyClass = new (context: unknown) => RetryPolicyInternals;

/** Marks an observed connection provider; the slot says where its retries are reported. */
const COUNTER = Symbol('dbsql-telemetry.retries');

interface CounterSlot {
  receiver: RetryReceiver;
  logger: IDBSQLLogger;
}

function requestOf(details: unknown): unknown {
  return (details as { request?: unknown } | undefined)?.request;
}

function describe(failure: unknown): string {
  return failure instanceof Error ? failure.message : String(failure);
}

function allowsRetry(result: unknown): boolean {
  return (result as { shouldRetry?: unknown } | undefined)?.shouldRetry === true;
}

/**
 * The driver's policy class with the retries it decides counted. A retry is decided in
 * `computeRetry` (a response the policy retries) or `computeNetworkErrorRetry` (a request that
 * failed on the way); the next response the policy is asked about is the same request's, so the
 * count is reported there, with that request, or when the policy gives up, with the last retried
 * response's request (a call that never got a response cannot be told apart, and is not
 * reported). Only the retry path does more than the driver's own class: a call that needs no
 * retry costs one comparison.
 */
function countingClass(base: RetryPolicyClass, context: unknown, slot: CounterSlot): RetryPolicyClass | undefined {
  // The driver's class is built from the client context alone; anything else is not that class.
  if (typeof base !== 'function' || base.length !== 1 || context === undefined) {
    return undefined;
  }
  const proto = base.prototype as Partial<RetryPolicyInternals>;
  if (
    typeof proto.shouldRetry !== 'function' ||
    typeof proto.computeRetry !== 'function' ||
    typeof proto.computeNetworkErrorRetry !== 'function'
  ) {
    return undefined;
  }
  // The fields are declared, not initialized: the driver makes a policy per HTTP request, and only
  // a retry sets them (undefined counts as none).
  return class CountingRetryPolicy extends base {
    declare private retries?: number;

    /** The request of the last retried response: a network failure after it is the same call's. */
    declare private retriedRequest?: unknown;

    shouldRetry(details: unknown): Promise<unknown> {
      if (this.retries) {
        this.report(requestOf(details));
      }
      return super.shouldRetry(details);
    }

    computeRetry(details: unknown): unknown {
      let result: unknown;
      try {
        result = super.computeRetry(details);
      } catch (error) {
        this.report(requestOf(details));
        throw error;
      }
      if (allowsRetry(result)) {
        this.retries = (this.retries ?? 0) + 1;
        this.retriedRequest = requestOf(details);
      }
      return result;
    }

    async computeNetworkErrorRetry(error: unknown): Promise<unknown> {
      let result: unknown;
      try {
        result = await super.computeNetworkErrorRetry(error);
      } catch (failure) {
        this.report(this.retriedRequest);
        throw failure;
      }
      if (allowsRetry(result)) {
        this.retries = (this.retries ?? 0) + 1;
      } else {
        this.report(this.retriedRequest);
      }
      return result;
    }

    /** Hands the retries counted so far to the receiver, once. */
    private report(request: unknown): void {
      const { retries } = this;
      if (!retries) {
        return;
      }
      this.retries = 0;
      try {
        slot.receiver.retried(request, retries);
      } catch (failure) {
        slot.logger.log(LogLevel.debug, `Telemetry: could not count retries: ${describe(failure)}`);
      }
    }
  };
}

/**
 * Counts the HTTP retries the driver makes under its own retry policy (Thrift calls it may retry,
 * CloudFetch downloads): the connection provider hands out policies of a subclass of the driver's
 * policy class, made once per provider from the first policy it returns. A driver whose policy
 * lacks the decision points keeps its own policy, uncounted, with a debug log. A provider
 * observed before (the driver keeps one across `connect()` calls) reports to the new receiver.
 * Never throws.
 */
export default class RetryCounter {
  static observe(provider: IConnectionProvider, receiver: RetryReceiver, logger: IDBSQLLogger): void {
    try {
      const slots = provider as unknown as Record<symbol, CounterSlot | undefined>;
      const existing = slots[COUNTER];
      if (existing) {
        existing.receiver = receiver;
        existing.logger = logger;
        return;
      }
      const slot: CounterSlot = { receiver, logger };
      Object.defineProperty(provider, COUNTER, { value: slot });
      const original = provider.getRetryPolicy;
      // Unknown until the first policy shows the driver's class; null once it proves uncountable.
      let counting: RetryPolicyClass | null | undefined;
      let context: unknown;
      provider.getRetryPolicy = async function getRetryPolicy(this: IConnectionProvider) {
        if (counting) {
          return new counting(context) as unknown as Awaited<ReturnType<IConnectionProvider['getRetryPolicy']>>;
        }
        const policy = await original.call(this);
        if (counting === undefined) {
          const internals = policy as unknown as RetryPolicyInternals;
          context = internals?.context;
          counting = countingClass(internals?.constructor as RetryPolicyClass, context, slot) ?? null;
          if (counting === null) {
            slot.logger.log(
              LogLevel.debug,
              'Telemetry: this driver retry policy cannot be observed; retries are not counted',
            );
          } else {
            return new counting(context) as unknown as typeof policy;
          }
        }
        return policy;
      };
    } catch (failure) {
      logger.log(LogLevel.debug, `Telemetry: could not observe the driver's retries: ${describe(failure)}`);
    }
  }
}
