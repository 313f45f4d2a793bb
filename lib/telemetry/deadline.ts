export interface DeadlineOptions<U> {
  /**
   * Whether the deadline's timer keeps the process alive. Off by default: telemetry waits never
   * hold a process; an awaited close() or an exit flush must end, so those keep it.
   */
  ref?: boolean;
  /** Ends the wait early; `onAbort` gives its outcome (a value, or a throw for a rejection). */
  signal?: AbortSignal;
  onAbort?: () => U;
}

/**
 * Settles as `promise` does, or with `onTimeout`'s outcome once `ms` have passed (a value, or a
 * throw for a rejection), or with `onAbort`'s when the signal aborts first: the one deadline of
 * every bounded wait in telemetry. The timer and the listener go as soon as it settles. Whatever
 * `promise` does later is ignored.
 */
export function withDeadline<T, U>(
  promise: PromiseLike<T>,
  ms: number,
  onTimeout: () => U,
  options: DeadlineOptions<U> = {},
): Promise<T | U> {
  const { ref = false, signal, onAbort } = options;
  return new Promise<T | U>((resolve, reject) => {
    const settleWith = (outcome: () => T | U) => {
      try {
        resolve(outcome());
      } catch (error) {
        reject(error);
      }
    };
    if (signal?.aborted) {
      settleWith(onAbort ?? onTimeout);
      return;
    }
    let settled = false;
    const timer = setTimeout(() => end(onTimeout), ms);
    if (!ref) {
      timer.unref();
    }
    const aborted = () => end(onAbort ?? onTimeout);
    function end(outcome: () => T | U): void {
      if (settled) {
        return;
      }
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', aborted);
      settleWith(outcome);
    }
    signal?.addEventListener('abort', aborted);
    promise.then(
      (value) => end(() => value),
      (error: unknown) =>
        end(() => {
          throw error;
        }),
    );
  });
}
