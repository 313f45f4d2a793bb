/**
 * Runs an observation inside the driver's own calls and events, where a telemetry failure must
 * never change what the caller gets: whatever it throws is dropped (observers log their own).
 */
export default function quietly(observe: () => void): void {
  try {
    observe();
  } catch {
    // The caller's result, error or download stands exactly as the driver gave it.
  }
}
