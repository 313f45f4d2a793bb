/** Small statistics helpers for the benchmarks. */

export function median(values: readonly number[]): number {
  if (values.length === 0) {
    return NaN;
  }
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

export function min(values: readonly number[]): number {
  return values.reduce((a, b) => Math.min(a, b), Infinity);
}

export function max(values: readonly number[]): number {
  return values.reduce((a, b) => Math.max(a, b), -Infinity);
}

/** Median absolute deviation, scaled to be comparable with a standard deviation. */
export function mad(values: readonly number[]): number {
  const m = median(values);
  return 1.4826 * median(values.map((v) => Math.abs(v - m)));
}

/** Standard error of the median of `values`: 1.2533 * sigma / sqrt(n), sigma from the MAD. */
export function medianSe(values: readonly number[]): number {
  return (1.2533 * mad(values)) / Math.sqrt(values.length);
}

/** Standard error of the mean of `values`; 0 for fewer than two. */
export function meanSe(values: readonly number[]): number {
  if (values.length < 2) {
    return 0;
  }
  const mean = values.reduce((sum, value) => sum + value, 0) / values.length;
  const variance = values.reduce((sum, value) => sum + (value - mean) ** 2, 0) / (values.length - 1);
  return Math.sqrt(variance / values.length);
}

/** This process's cumulative CPU (user + system), in µs. */
export function cpuNow(): number {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
}

/** CPU microseconds (user + system) since `start`. */
export function cpuMicros(start: NodeJS.CpuUsage): number {
  const delta = process.cpuUsage(start);
  return delta.user + delta.system;
}

export function round(value: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
