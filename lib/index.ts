export * from '@databricks/sql';
export { default as DBSQLClient } from './driver/DBSQLClient';
export type { TelemetryClientOptions, TelemetryConnectionOptions } from './driver/DBSQLClient';
export { default as TelemetryClientProvider } from './telemetry/TelemetryClientProvider';
export { DEFAULT_TELEMETRY_CONFIG } from './telemetry/types';
export type { TelemetryConfiguration, TelemetryOptions } from './telemetry/types';
