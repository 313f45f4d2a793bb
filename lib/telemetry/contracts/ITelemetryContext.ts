import type IDBSQLLogger from '@databricks/sql/dist/contracts/IDBSQLLogger';
import type IConnectionProvider from '@databricks/sql/dist/connection/contracts/IConnectionProvider';
import { TelemetryConfiguration } from '../types';

/**
 * What every engine component is constructed with, shaped like the driver's `IClientContext`:
 * the connection's logger, the resolved telemetry settings, and the connection provider whose
 * HTTP agent (TLS settings, proxy) every telemetry request goes through.
 */
export default interface ITelemetryContext {
  getLogger(): IDBSQLLogger;
  getTelemetryConfig(): TelemetryConfiguration;
  getConnectionProvider(): Promise<Pick<IConnectionProvider, 'getAgent'>>;
}
