import { DBSQLClient as DriverDBSQLClient, LogLevel } from '@databricks/sql';
import type { ConnectionOptions, OpenSessionRequest } from '@databricks/sql/dist/contracts/IDBSQLClient';
import type IDBSQLSession from '@databricks/sql/dist/contracts/IDBSQLSession';
import type IDBSQLLogger from '@databricks/sql/dist/contracts/IDBSQLLogger';
import type IConnectionProvider from '@databricks/sql/dist/connection/contracts/IConnectionProvider';
import type ClientConfig from '@databricks/sql/dist/contracts/IClientContext';
import ExceptionClassifier from '../telemetry/ExceptionClassifier';
import type OpenTelemetryOutput from '../telemetry/OpenTelemetryOutput';
import TelemetryClientProvider from '../telemetry/TelemetryClientProvider';
import { TelemetryConfiguration, TelemetryOptions } from '../telemetry/types';
import TelemetryConnection from './TelemetryConnection';
import watchAuthHeaders from './authHeaders';
import {
  DRIVER_VERSION,
  getAuthType,
  getConnectionParameters,
  getCredentialKey,
  getWorkspaceId,
  normalizeHost,
  telemetryUserAgent,
} from './connectionFacts';

/** The driver's client as telemetry uses it: its public context methods only. */
export interface DriverClient {
  getLogger(): IDBSQLLogger;
  getConfig(): ReturnType<ClientConfig['getConfig']>;
  getConnectionProvider(): Promise<IConnectionProvider>;
  getClient(): Promise<object>;
}

export type TelemetryConnectionOptions = ConnectionOptions & TelemetryOptions;

/** Drivers from 1.15 ask their client for a telemetry emitter at points inside their own code. */
export const DRIVER_REPORTS_EVENTS =
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

/**
 * One driver client's telemetry across its connections: what `connect()`, `openSession()` and
 * `close()` add to the driver's own, whether the client is this package's `DBSQLClient` or the
 * driver's own one instrumented in place. At most one `TelemetryConnection` at a time.
 */
export default class ClientTelemetry {
  private connection?: TelemetryConnection;

  /** Set by `connect()` when the connection's statements go to OpenTelemetry. */
  private output?: OpenTelemetryOutput;

  /** `server.address` and `server.port` of the connection, for the session spans. */
  private server: Record<string, string | number> = {};

  /**
   * `driverReportsEvents`: the client's driver calls its telemetry hook points (from 1.15);
   * `driverVersion`: the version of the client's driver, which the logs and the flag name.
   */
  constructor(
    private readonly client: DriverClient,
    private readonly provider: TelemetryClientProvider,
    private readonly driverReportsEvents: boolean = DRIVER_REPORTS_EVENTS,
    private readonly driverVersion: string = DRIVER_VERSION,
  ) {}

  /** What the driver's telemetry hook points report to; undefined while nothing is observed. */
  get driverEvents(): TelemetryConnection['driverEvents'] {
    return this.connection?.driverEvents;
  }

  /**
   * Runs the driver's `connect()` (inside a span when the OpenTelemetry output is on), then starts
   * observing with `config`. Telemetry that cannot start is logged at debug level and left off.
   */
  async connect<T>(
    options: TelemetryConnectionOptions,
    config: TelemetryConfiguration,
    output: OpenTelemetryOutput | undefined,
    driverConnect: () => Promise<T>,
  ): Promise<T> {
    await this.stop();
    this.output = output;
    this.server = serverAttributes(options);
    const result =
      output === undefined
        ? await driverConnect()
        : await output.traceCall(this, 'CONNECT', this.server, driverConnect, errorType);
    try {
      await this.start(options, config);
    } catch (error) {
      this.client.getLogger().log(LogLevel.debug, `Telemetry: could not start: ${(error as Error)?.message}`);
      await this.stop();
    }
    return result;
  }

  /** Runs the driver's `openSession()` and observes the session it opened. */
  async openSession(
    request: OpenSessionRequest | undefined,
    driverOpenSession: () => Promise<IDBSQLSession>,
  ): Promise<IDBSQLSession> {
    const { connection, output } = this;
    if (!connection) {
      return driverOpenSession();
    }
    const calledAt = Date.now();
    let session: IDBSQLSession;
    try {
      session =
        output === undefined
          ? await driverOpenSession()
          : await output.traceCall(this, 'CREATE_SESSION', this.server, driverOpenSession, errorType);
    } catch (error) {
      connection.sessionOpenFailed(error);
      throw error;
    }
    if (connection.needsThriftClient()) {
      await this.observeThriftClient(connection);
    }
    try {
      return connection.sessionOpened(session, calledAt, request?.initialCatalog, request?.initialSchema);
    } catch (error) {
      this.client
        .getLogger()
        .log(LogLevel.debug, `Telemetry: could not observe the session: ${(error as Error)?.message}`);
      return session;
    }
  }

  /** Reports what is open and releases the shared client (bounded by the close deadline). */
  async stop(): Promise<void> {
    const { connection } = this;
    this.connection = undefined;
    await connection?.close();
  }

  getLogger(): IDBSQLLogger {
    return this.client.getLogger();
  }

  private async start(options: TelemetryConnectionOptions, config: TelemetryConfiguration): Promise<void> {
    if (!config.enabled && this.output === undefined) {
      return;
    }
    const logger = this.client.getLogger();
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
    const connectionProvider = await this.client.getConnectionProvider();
    const getAuthHeaders = watchAuthHeaders(connectionProvider);
    const workspaceId = getWorkspaceId(options.path);
    const connection = new TelemetryConnection({
      config,
      logger,
      connectionProvider,
      workspaceId,
      authType: getAuthType(connectOptions),
      connectionParams: getConnectionParameters(connectOptions, this.client.getConfig()),
      provider: this.provider,
      driverReportsEvents: this.driverReportsEvents,
      openTelemetry: this.output,
      target: {
        host: normalizeHost(options.host),
        port: options.port ?? 443,
        userAgent: telemetryUserAgent(this.driverVersion),
        orgId: workspaceId,
        driverVersion: this.driverVersion,
        credentialKey: getCredentialKey(connectOptions),
        getAuthHeaders,
      },
    });
    this.connection = connection;
    await connection.start();
  }

  /** The driver connected through its kernel backend, not Thrift. */
  private runsOnKernel(options: Record<string, unknown>): boolean {
    if (DriverKernelBackend === undefined) {
      return false;
    }
    // The backend the driver built decides (drivers differ on which `useKernel` values count);
    // the option only for a driver that keeps its backend elsewhere.
    const { backend } = this.client as unknown as { backend?: unknown };
    return backend !== undefined ? backend instanceof DriverKernelBackend : Boolean(options.useKernel);
  }

  /**
   * Observes the connection's Thrift client once its first session is open: every later RPC goes
   * through it (the driver makes one per connection), and nothing runs on the driver's
   * per-RPC `getClient()` calls.
   */
  private async observeThriftClient(connection: TelemetryConnection): Promise<void> {
    try {
      connection.observeThriftClient(await this.client.getClient());
    } catch (error) {
      this.client
        .getLogger()
        .log(LogLevel.debug, `Telemetry: could not observe the Thrift client: ${(error as Error)?.message}`);
    }
  }
}

/** `server.address` and `server.port` of a connection. */
function serverAttributes(options: ConnectionOptions): Record<string, string | number> {
  return { 'server.address': normalizeHost(options.host), 'server.port': options.port ?? 443 };
}

/** `error.type` of a failed connect or session open: a SQLSTATE or an error class name, never a message. */
function errorType(error: unknown): string {
  return ExceptionClassifier.safeErrorName(error);
}

function driverKernelBackend(): (abstract new (...args: never[]) => object) | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('@databricks/sql/dist/kernel/KernelBackend').default;
  } catch {
    return undefined;
  }
}
