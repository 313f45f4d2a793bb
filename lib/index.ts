// Each export is written so that an ES-module importer sees it as a named export.
import DBSQLClient from './driver/DBSQLClient';
import DatabricksSqlInstrumentation from './driver/DatabricksSqlInstrumentation';
import TelemetryClientProvider from './telemetry/TelemetryClientProvider';
import { DEFAULT_TELEMETRY_CONFIG } from './telemetry/types';

export * from '@databricks/sql';
export { DBSQLClient, DatabricksSqlInstrumentation, TelemetryClientProvider, DEFAULT_TELEMETRY_CONFIG };
export type { TelemetryClientOptions, TelemetryConnectionOptions } from './driver/DBSQLClient';
export type { DatabricksSqlInstrumentationConfig } from './driver/DatabricksSqlInstrumentation';
export type { OpenTelemetryHooks, StatementResultInfo, StatementSpanInfo } from './telemetry/OpenTelemetryOutput';
export type { TelemetryConfiguration, TelemetryOptions } from './telemetry/types';
