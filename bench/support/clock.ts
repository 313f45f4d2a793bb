import { readFileSync } from 'fs';
import type { PairedSample } from './pairing';
import { cpuNow } from './stats';

/**
 * Milliseconds on the machine's monotonic clock (CLOCK_MONOTONIC on Linux), which every process
 * reads alike, so a parent can time a child's exit against a time the child printed. The wall
 * clock would not do: it can be stepped between two processes' starts (a VM's clock sync moved it
 * 5.4 s during one bench run, and every exit then measured -5.4 s).
 */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint() / 1000n) / 1000;
}

const SCHEDSTAT = `/proc/self/task/${process.pid}/schedstat`;

/** CPU time of this process's main thread in µs (Linux), so helper threads' noise stays out. */
function mainThreadMicros(): number {
  return Number(readFileSync(SCHEDSTAT, 'latin1').split(' ')[0]) / 1000;
}

/** The main thread's CPU clock in µs where the system has one; else the whole process's, noisier but alike. */
export function mainThreadClock(): [PairedSample['clock'], () => number] {
  try {
    if (Number.isFinite(mainThreadMicros())) {
      return ['main thread', mainThreadMicros];
    }
  } catch {
    // Not Linux.
  }
  return ['process', cpuNow];
}
