import { DBSQLClient as DriverDBSQLClient } from '@databricks/sql';
import type { ClientOptions, OpenSessionRequest } from '@databricks/sql/dist/contracts/IDBSQLClient';
import type IDBSQLClient from '@databricks/sql/dist/contracts/IDBSQLClient';
import type IDBSQLSession from '@databricks/sql/dist/contracts/IDBSQLSession';
import type IAuthentication from '@databricks/sql/dist/connection/contracts/IAuthentication';
import { resolveTelemetryConfig } from '../telemetry/config';
import OpenTelemetryOutput from '../telemetry/OpenTelemetryOutput';
import TelemetryClientProvider from '../telemetry/TelemetryClientProvider';
import { TelemetryOptions } from '../telemetry/types';
import ClientTelemetry, { TelemetryConnectionOptions } from './ClientTelemetry';
import { OWN_TELEMETRY } from './ownTelemetry';

export type TelemetryClientOptions = ClientOptions & TelemetryOptions;
export type { TelemetryConnectionOptions } from './ClientTelemetry';

/**
 * The driver's own client with our telemetry underneath: same API, same behaviour, one import
 * changed. The driver's built-in telemetry is always off under it, so nothing is reported twice.
 */
export default class DBSQLClient extends DriverDBSQLClient {
  private readonly clientTelemetryOptions: TelemetryOptions;

  private readonly telemetry: ClientTelemetry;

  /** `provider` is for tests and embedders; by default connections share the process-wide one. */
  constructor(
    options: TelemetryClientOptions = {},
    provider: TelemetryClientProvider = TelemetryClientProvider.getDefault(),
  ) {
    super(options);
    this.clientTelemetryOptions = options;
    this.telemetry = new ClientTelemetry(this, provider);
    this.getConfig().telemetryEnabled = false;
    (this as Record<symbol, unknown>)[OWN_TELEMETRY] = true;
  }

  async connect(options: TelemetryConnectionOptions, authProvider?: IAuthentication): Promise<IDBSQLClient> {
    const config = resolveTelemetryConfig(
      { connectionOptions: options, clientConfig: this.clientTelemetryOptions, env: process.env },
      this.getLogger(),
    );
    const output = OpenTelemetryOutput.fromGlobalProviders({
      getLogger: () => this.getLogger(),
      getTelemetryConfig: () => config,
    });
    return this.telemetry.connect(options, config, output, async () => {
      await super.connect({ ...options, telemetryEnabled: false }, authProvider);
      this.getConfig().telemetryEnabled = false;
      return this;
    });
  }

  async openSession(request?: OpenSessionRequest): Promise<IDBSQLSession> {
    return this.telemetry.openSession(request, () => super.openSession(request));
  }

  /**
   * The driver's hook for its built-in telemetry, which stays off: while our telemetry runs, the
   * driver's events go to this connection's receiver instead.
   */
  getTelemetryEmitter(): ReturnType<DriverDBSQLClient['getTelemetryEmitter']> {
    return this.telemetry.driverEvents as unknown as ReturnType<DriverDBSQLClient['getTelemetryEmitter']>;
  }

  getTelemetryAggregator(): ReturnType<DriverDBSQLClient['getTelemetryAggregator']> {
    return this.telemetry.driverEvents as unknown as ReturnType<DriverDBSQLClient['getTelemetryAggregator']>;
  }

  async close(): Promise<void> {
    try {
      await super.close();
    } finally {
      await this.telemetry.stop();
    }
  }
}
