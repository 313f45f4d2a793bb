/**
 * A figure's target, written once: the same value renders the text the table shows and judges the
 * measurement. `M` is what the figure measured (a reading); texts and limits may depend on it (a
 * limit from the run's own noise, a budget from the plain driver's cost).
 *
 * `check` answers true (met), false (missed) or undefined (nothing to judge: an informational
 * figure, or a guard that holds). `a.and(b)` is missed when either is, met when either is met and
 * neither missed; its text is both texts joined by ', ' (a guard has none).
 */
export interface Target<M> {
  text(reading: M): string;
  check(reading: M): boolean | undefined;
  and(other: Target<M>): Target<M>;
}

type Of<M, T> = T | ((reading: M) => T);

function valueOf<M, T>(value: Of<M, T>, reading: M): T {
  return typeof value === 'function' ? (value as (reading: M) => T)(reading) : value;
}

function target<M>(text: (reading: M) => string, check: (reading: M) => boolean | undefined): Target<M> {
  return {
    text,
    check,
    and(other) {
      return target(
        (reading) => [text(reading), other.text(reading)].filter((part) => part !== '').join(', '),
        (reading) => {
          const verdicts = [check(reading), other.check(reading)];
          if (verdicts.includes(false)) {
            return false;
          }
          return verdicts.includes(true) ? true : undefined;
        },
      );
    },
  };
}

/** How a bound reads: `[name ]<op> <label>[ unit][ (note)]`. */
export interface BoundText<M> {
  /** What is bounded, when the text names it: `ratio <= 1.005`, `ours <= built-in`. */
  name?: string;
  /** The limit as text (default: the number, `en-US` grouped); given the limit's value and the reading. */
  label?: (limit: number, reading: M) => string;
  unit?: string;
  note?: string;
}

function bound<M>(
  op: string,
  holds: (value: number, limit: number) => boolean,
  value: (reading: M) => number,
  limit: Of<M, number>,
  text: BoundText<M>,
): Target<M> {
  return target(
    (reading) => {
      const at = valueOf(limit, reading);
      const label = text.label ? text.label(at, reading) : at.toLocaleString('en-US', { maximumFractionDigits: 20 });
      return [text.name, op, label, text.unit, text.note === undefined ? undefined : `(${text.note})`]
        .filter((part) => part !== undefined)
        .join(' ');
    },
    (reading) => holds(value(reading), valueOf(limit, reading)),
  );
}

/** `value <= limit`: `atMost((r) => r.micros, 2, { unit: 'µs' })` reads `<= 2 µs`. */
export function atMost<M>(value: (reading: M) => number, limit: Of<M, number>, text: BoundText<M> = {}): Target<M> {
  return bound('<=', (v, l) => v <= l, value, limit, text);
}

/** `value >= limit`. */
export function atLeast<M>(value: (reading: M) => number, limit: Of<M, number>, text: BoundText<M> = {}): Target<M> {
  return bound('>=', (v, l) => v >= l, value, limit, text);
}

/** `value > limit`. */
export function above<M>(value: (reading: M) => number, limit: Of<M, number>, text: BoundText<M> = {}): Target<M> {
  return bound('>', (v, l) => v > l, value, limit, text);
}

/** A ratio of CPU (telemetry on / off) at most `limit`: `ratio <= 1.005`, or without the name. */
export function ratioAtMost<M>(ratio: (reading: M) => number, limit: number, named = true): Target<M> {
  return atMost(ratio, limit, named ? { name: 'ratio' } : {});
}

/** A difference indistinguishable from 0: `|difference| <= k * its standard error`. */
export function withinSe<M>(
  difference: (reading: M) => number,
  standardError: (reading: M) => number,
  k: number,
): Target<M> {
  return target(
    () => `within ${k} SE of 0`,
    (reading) => Math.abs(difference(reading)) <= k * standardError(reading),
  );
}

/** A stated condition the text names in words: `back to the start`. */
export function holds<M>(text: Of<M, string>, predicate: (reading: M) => boolean): Target<M> {
  return target(
    (reading) => valueOf(text, reading),
    (reading) => predicate(reading),
  );
}

/**
 * That the run measured what its figure says (uploads happened, the fault was hit): fails the
 * figure when it does not hold, and adds nothing to its text (the measured column shows it).
 */
export function guard<M>(predicate: (reading: M) => boolean): Target<M> {
  return target(
    () => '',
    (reading) => (predicate(reading) ? undefined : false),
  );
}

/** No target: the figure is reported, never judged. */
export function informational<M>(text: Of<M, string>): Target<M> {
  return target(
    (reading) => valueOf(text, reading),
    () => undefined,
  );
}

/** `x` as a percentage without float noise: 0.005 -> '0.5%'. */
export function percent(fraction: number): string {
  return `${Number((fraction * 100).toPrecision(12))}%`;
}
