/**
 * Checks and writes one value for the wire, or returns `undefined` to omit the field: each reader
 * checks the type and shape it expects, so a wrong or hostile value is left out.
 */
export type WireRead = (value: unknown) => string | undefined;

export function int(value: unknown): string | undefined {
  if (typeof value !== 'number' || !(value >= 0 && value <= Number.MAX_SAFE_INTEGER)) {
    return undefined;
  }
  // Same digits either way (toFixed also rounds halves up); toFixed is twice as fast for a
  // timestamp, String is faster for the small numbers V8 caches.
  return value <= 0x7fffffff ? String(Math.round(value)) : value.toFixed(0);
}

/** A proto int32 field: the same, up to 2^31 - 1. */
export function int32(value: unknown): string | undefined {
  return typeof value === 'number' && Math.round(value) <= 0x7fffffff ? int(value) : undefined;
}

export function bool(value: unknown): string | undefined {
  if (value === true) {
    return 'true';
  }
  return value === false ? 'false' : undefined;
}

export function oneOf(values: ReadonlySet<string>): (value: unknown) => string | undefined {
  return (value) => (typeof value === 'string' && values.has(value) ? value : undefined);
}
