import { DBSQLClient as DriverDBSQLClient, LogLevel } from '@databricks/sql';
import type { ClientOptions, ConnectionOptions, OpenSessionRequest } from '@databricks/sql/dist/contracts/IDBSQLClient';
import type IDBSQLClient from '@databricks/sql/dist/contracts/IDBSQLClient';
import type IDBSQLSession from '@databricks/sql/dist/contracts/IDBSQLSession';
import type IAuthentication from '@databricks/sql/dist/connection/contracts/IAuthentication';
import type IConnectionProvider from '@databricks/sql/dist/connection/contracts/IConnectionProvider';
import { resolveTelemetryConfig } from '../telemetry/config';
import TelemetryClientProvider from '../telemetry/TelemetryClientProvider';
import { TelemetryOptions } from '../telemetry/types';
import TelemetryConnection from './TelemetryConnection';
import {
  DRIVER_VERSION,
  TELEMETRY_USER_AGENT,
  getAuthType,
  getConnectionParameters,
  getCredentialKey,
  getWorkspaceId,
  normalizeHost,
} from './connectionFacts';

export type TelemetryClientOptions = ClientOptions & TelemetryOptions;
export type TelemetryConnectionOptions = ConnectionOptions & TelemetryOptions;

/** Drivers from 1.15 ask their client for a telemetry emitter at points inside their own code. */
const DRIVER_REPORTS_EVENTS =
  typeof (DriverDBSQLClient.prototype as { getTelemetryEmitter?: unknown }).getTelemetryEmitter === 'function';

/**
 * The driver's native backend (the "kernel", over its own HTTP stack), which a driver that ships
 * one runs in place of Thrift when connected with `useKernel`.
 */
const DriverKernelBackend = driverKernelBackend();

/** Said once per connect() when telemetry is on but the driver runs its kernel backend. */
const KERNEL_NOT_OBSERVED =
  "Telemetry: this connection runs on the driver's kernel backend (useKernel), which sends no Thrift calls; " +
  'nothing is observed or reported for it (no connection, statement or error logs, no feature-flag or telemetry requests), ' +
  "and the kernel's own telemetry stays off";

type HeadersLike =
  Record<string, string> | Iterable<[string, string]> | { forEach(cb: (v: string, k: string) => void): void };

/**
 * The driver's own client with our telemetry underneath: same API, same behaviour, one import
 * changed. The driver's built-in telemetry is always off under it, so nothing is reported twice.
 */
export default class DBSQLClient extends DriverDBSQLClient {
  private readonly clientTelemetryOptions: TelemetryOptions;

  private readonly telemetryProvider: TelemetryClientProvider;

  private telemetry?: TelemetryConnection;

  /** `provider` is for tests and embedders; by default connections share the process-wide one. */
  constructor(
    options: TelemetryClientOptions = {},
    provider: TelemetryClientProvider = TelemetryClientProvider.getDefault(),
  ) {
    super(options);
    this.clientTelemetryOptions = options;
    this.telemetryProvider = provider;
    this.getConfig().telemetryEnabled = false;
  }

  async connect(options: TelemetryConnectionOptions, authProvider?: IAuthentication): Promise<IDBSQLClient> {
    await this.stopTelemetry();
    await super.connect({ ...options, telemetryEnabled: false }, authProvider);
    this.getConfig().telemetryEnabled = false;
    try {
      await this.startTelemetry(options);
    } catch (error) {
      this.getLogger().log(LogLevel.debug, `Telemetry: could not start: ${(error as Error)?.message}`);
      await this.stopTelemetry();
    }
    return this;
  }

  async openSession(request?: OpenSessionRequest): Promise<IDBSQLSession> {
    const { telemetry } = this;
    if (!telemetry) {
      return super.openSession(request);
    }
    const calledAt = Date.now();
    let session: IDBSQLSession;
    try {
      session = await super.openSession(request);
    } catch (error) {
      telemetry.sessionOpenFailed(error);
      throw error;
    }
    if (telemetry.needsThriftClient()) {
      await this.observeThriftClient(telemetry);
    }
    try {
      return telemetry.sessionOpened(session, calledAt);
    } catch (error) {
      this.getLogger().log(LogLevel.debug, `Telemetry: could not observe the session: ${(error as Error)?.message}`);
      return session;
    }
  }

  /**
   * The driver's hook for its built-in telemetry, which stays off: while our telemetry runs, the
   * driver's events go to this connection's receiver instead.
   */
  getTelemetryEmitter(): ReturnType<DriverDBSQLClient['getTelemetryEmitter']> {
    return this.telemetry?.driverEvents as unknown as ReturnType<DriverDBSQLClient['getTelemetryEmitter']>;
  }

  getTelemetryAggregator(): ReturnType<DriverDBSQLClient['getTelemetryAggregator']> {
    return this.telemetry?.driverEvents as unknown as ReturnType<DriverDBSQLClient['getTelemetryAggregator']>;
  }

  async close(): Promise<void> {
    try {
      await super.close();
    } finally {
      await this.stopTelemetry();
    }
  }

  private async startTelemetry(options: TelemetryConnectionOptions): Promise<void> {
    const logger = this.getLogger();
    const config = resolveTelemetryConfig(
      { connectionOptions: options, clientConfig: this.clientTelemetryOptions, env: process.env },
      logger,
    );
    if (!config.enabled && !config.openTelemetry) {
      return;
    }
    const connectOptions = options as TelemetryConnectionOptions & Record<string, unknown>;
    if (this.runsOnKernel(connectOptions)) {
      // Everything a log is built from (statement starts, polls, results, server errors, retries)
      // is seen on the Thrift client and the driver's retry policy, which the kernel never uses:
      // the driver's few hook points alone would only yield partial, mislabelled logs. Uploading
      // would also authenticate with the driver's own auth provider, which the kernel does not
      // use: with OAuth that would be a second sign-in.
      logger.log(LogLevel.debug, KERNEL_NOT_OBSERVED);
      return;
    }
    const connectionProvider = await this.getConnectionProvider();
    const getAuthHeaders = watchAuthHeaders(connectionProvider);
    const workspaceId = getWorkspaceId(options.path);
    const telemetry = new TelemetryConnection({
      config,
      logger,
      connectionProvider,
      workspaceId,
      authType: getAuthType(connectOptions),
      connectionParams: getConnectionParameters(connectOptions, this.getConfig()),
      provider: this.telemetryProvider,
      driverReportsEvents: DRIVER_REPORTS_EVENTS,
      target: {
        host: normalizeHost(options.host),
        port: options.port ?? 443,
        userAgent: TELEMETRY_USER_AGENT,
        orgId: workspaceId,
        driverVersion: DRIVER_VERSION,
        credentialKey: getCredentialKey(connectOptions),
        getAuthHeaders,
      },
    });
    this.telemetry = telemetry;
    await telemetry.start();
  }

  /** The driver connected through its kernel backend, not Thrift. */
  private runsOnKernel(options: Record<string, unknown>): boolean {
    if (DriverKernelBackend === undefined) {
      return false;
    }
    // The backend the driver built decides (drivers differ on which `useKernel` values count);
    // the option only for a driver that keeps its backend elsewhere.
    const { backend } = this as unknown as { backend?: unknown };
    return backend !== undefined ? backend instanceof DriverKernelBackend : Boolean(options.useKernel);
  }

  /**
   * Observes the connection's Thrift client once its first session is open: every later RPC goes
   * through it (the driver makes one per connection), and nothing runs on the driver's
   * per-RPC `getClient()` calls.
   */
  private async observeThriftClient(telemetry: TelemetryConnection): Promise<void> {
    try {
      telemetry.observeThriftClient(await super.getClient());
    } catch (error) {
      this.getLogger().log(
        LogLevel.debug,
        `Telemetry: could not observe the Thrift client: ${(error as Error)?.message}`,
      );
    }
  }

  private async stopTelemetry(): Promise<void> {
    const { telemetry } = this;
    this.telemetry = undefined;
    await telemetry?.close();
  }
}

function driverKernelBackend(): (abstract new (...args: never[]) => object) | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('@databricks/sql/dist/kernel/KernelBackend').default;
  } catch {
    return undefined;
  }
}

/**
 * The authentication headers the driver last set on the connection, each time after its own call
 * to the auth provider succeeded. Telemetry never calls the provider itself, so it never signs in
 * (no OAuth token request, no browser) and sends only what the application's own calls obtained,
 * also after close() (the driver forgets its provider there). Rejects before the first sign-in,
 * and while the token is a JWT past its `exp` (the driver renews it on the application's next
 * call): the exporter then drops the batch with a debug log.
 */
function watchAuthHeaders(connectionProvider: IConnectionProvider): () => Promise<Record<string, string>> {
  // Kept as the driver passed them: the driver sets them before every call, an upload reads them rarely.
  let current: unknown;
  const { setHeaders } = connectionProvider;
  connectionProvider.setHeaders = function setHeadersWatched(this: IConnectionProvider, headers) {
    current = headers;
    return setHeaders.call(this, headers);
  };
  return async () => {
    if (current === undefined || current === null) {
      throw new Error('the connection has not signed in');
    }
    const headers = toRecord(current as HeadersLike);
    if (bearerExpired(headers)) {
      throw new Error("the connection's token has expired");
    }
    return headers;
  };
}

/** A bearer JWT whose `exp` has passed, read as the driver's OAuth reads it; anything else is not expired. */
function bearerExpired(headers: Record<string, string>): boolean {
  const authorization = Object.entries(headers).find(([name]) => name.toLowerCase() === 'authorization')?.[1];
  const payload = /^Bearer [\w-]+\.([\w-]+)\.[\w-]*$/.exec(authorization ?? '')?.[1];
  if (payload === undefined) {
    return false;
  }
  try {
    const { exp } = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { exp?: unknown };
    return typeof exp === 'number' && exp <= Math.floor(Date.now() / 1000);
  } catch {
    return false;
  }
}

function toRecord(headers: HeadersLike): Record<string, string> {
  const result: Record<string, string> = {};
  if (typeof (headers as { forEach?: unknown }).forEach === 'function' && !Array.isArray(headers)) {
    (headers as { forEach(cb: (v: string, k: string) => void): void }).forEach((value, key) => {
      result[key] = value;
    });
  } else if (Symbol.iterator in Object(headers)) {
    for (const [key, value] of headers as Iterable<[string, string]>) {
      result[key] = value;
    }
  } else {
    Object.assign(result, headers);
  }
  return result;
}
