/** Text for the measured column. */
import type { PairedResult } from './pairing';

/** `+1.2` / `-0.3`: a difference in µs, one decimal, always signed. */
export function signed(micros: number): string {
  return `${micros >= 0 ? '+' : ''}${micros.toFixed(1)}`;
}

/** `1 process`, `3 processes`. */
export function processCount(count: number): string {
  return `${count} process${count === 1 ? '' : 'es'}`;
}

/** Each process's own median difference, signed, comma-separated. */
export function perProcessMedians(result: PairedResult): string {
  return result.processMedianDiffs.map((diff) => signed(diff)).join(', ');
}
