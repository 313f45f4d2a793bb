import { LogLevel } from '@databricks/sql/dist/contracts/IDBSQLLogger';
import ITelemetryContext from './contracts/ITelemetryContext';
import { DEFAULT_TELEMETRY_CONFIG, TelemetryConfiguration } from './types';

/**
 * The one way telemetry logs: at debug level, through the connection's logger, with the error's
 * message when there is one. A missing or throwing logger is ignored: logging must never break
 * the driver.
 */
export default function debugLog(
  context: Pick<ITelemetryContext, 'getLogger'> | undefined,
  message: string,
  error?: unknown,
): void {
  try {
    const detail = error instanceof Error ? `: ${error.message}` : '';
    context?.getLogger().log(LogLevel.debug, message + detail);
  } catch {
    // A broken logger must not break the driver.
  }
}

/** The context's telemetry settings, or the defaults (with a debug log) when they cannot be read. */
export function readTelemetryConfig(context: ITelemetryContext): TelemetryConfiguration {
  try {
    return context.getTelemetryConfig();
  } catch (error) {
    debugLog(context, 'telemetry: reading the configuration failed; using defaults', error);
    return DEFAULT_TELEMETRY_CONFIG;
  }
}
