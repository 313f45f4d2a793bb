/**
 * Milliseconds on the machine's monotonic clock (CLOCK_MONOTONIC on Linux), which every process
 * reads alike, so a parent can time a child's exit against a time the child printed. The wall
 * clock would not do: it can be stepped between two processes' starts (a VM's clock sync moved it
 * 5.4 s during one bench run, and every exit then measured -5.4 s).
 */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint() / 1000n) / 1000;
}
