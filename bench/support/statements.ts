/** The statements the overhead figures run, one per result format the emulator answers in. */
export const SQL = {
  columns: '/* emulator: format=columns */ SELECT 1',
  arrow: '/* emulator: format=arrow */ SELECT 1',
  cloudfetch: '/* emulator: format=cloudfetch chunks=2 */ SELECT * FROM range(2000)',
} as const;

/** Share of the plain driver's CPU per statement that the informational overhead rows are shown against. */
export const HALF_PERCENT = 0.005;

/** The text of a figure without a target, beside the 0.5 % of `offMicros` it would be held to. */
export function noTargetBeside(offMicros: number): string {
  return `none (0.5 % = ${(HALF_PERCENT * offMicros).toFixed(1)} µs)`;
}
