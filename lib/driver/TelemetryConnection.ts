import type { Agent } from 'http';
import { LogLevel } from '@databricks/sql';
import type IDBSQLLogger from '@databricks/sql/dist/contracts/IDBSQLLogger';
import type IConnectionProvider from '@databricks/sql/dist/connection/contracts/IConnectionProvider';
import type IDBSQLSession from '@databricks/sql/dist/contracts/IDBSQLSession';
import ITelemetryContext from '../telemetry/contracts/ITelemetryContext';
import TelemetryTarget from '../telemetry/contracts/TelemetryTarget';
import ExceptionClassifier from '../telemetry/ExceptionClassifier';
import MetricsAggregator from '../telemetry/MetricsAggregator';
import OpenTelemetryBridge from '../telemetry/OpenTelemetryBridge';
import type OpenTelemetryOutput from '../telemetry/OpenTelemetryOutput';
import TelemetryClient from '../telemetry/TelemetryClient';
import TelemetryClientProvider from '../telemetry/TelemetryClientProvider';
import TelemetryEventEmitter from '../telemetry/TelemetryEventEmitter';
import { ConnectionParameters, TelemetryConfiguration, TelemetryLog } from '../telemetry/types';
import { watchAgent, unwatchAgent } from './httpDiagnostics';
import DeferredEvents from './DeferredEvents';
import DriverEventReceiver from './DriverEventReceiver';
import RetryCounter from './RetryCounter';
import SessionCallWatch from './SessionCallWatch';
import { getAuthType, getDriverConfiguration } from './connectionFacts';
import { observeSession } from './sessionObserver';
import type { SessionObserverSink } from './contracts/SessionObserverSink';
import type { ExitFlushable } from './contracts/ExitFlushable';
import ThriftClientObserver, { ObservedForOpenTelemetry } from './ThriftClientObserver';
import { trackForExit, untrackForExit } from './exitFlush';

/**
 * A process that forgot `close()` should still exit within 100 ms of its work: its pending logs
 * get this long, enough for an upload to a nearby healthy endpoint, never a noticeable delay
 * behind a dead one.
 */
const EXIT_FLUSH_DEADLINE_MS = 50;

/** What one connection's telemetry is built from (the public `TelemetryConnectionOptions` are the options of `connect()`). */
export interface TelemetryConnectionSetup {
  config: TelemetryConfiguration;
  logger: IDBSQLLogger;
  connectionProvider: IConnectionProvider;
  target: TelemetryTarget;
  workspaceId?: string;
  authType: ReturnType<typeof getAuthType>;
  connectionParams: ConnectionParameters;
  provider: TelemetryClientProvider;
  /**
   * The driver calls its client's telemetry emitter at points of its own (from 1.15): the
   * connection then receives the driver's events there, sets nothing on its sessions and
   * operations, and takes chunk downloads from the driver instead of watching its agent.
   */
  driverReportsEvents: boolean;
  /** Where statements are reported as spans and metrics; none when OpenTelemetry output is off. */
  openTelemetry?: OpenTelemetryOutput;
}

/**
 * One connection's telemetry: the observers that watch the driver, the emitter and aggregator
 * they feed (through DeferredEvents, in batches), and a reference on the shared
 * per-host-and-credential client. The shared client is acquired when the first session opens (or
 * fails to), never in `connect()`, so connecting makes no telemetry or feature-flag request (and
 * never starts an OAuth sign-in early).
 */
export default class TelemetryConnection implements ITelemetryContext, SessionObserverSink, ExitFlushable {
  private readonly emitter: TelemetryEventEmitter;

  /** What the adapter emits into: events reach the emitter in batches. */
  public readonly events: DeferredEvents;

  public readonly observer: ThriftClientObserver;

  /**
   * What the client hands the driver as its telemetry emitter and aggregator; undefined while the
   * workspace's feature flag is off, so the driver skips its telemetry calls.
   */
  public driverEvents?: DriverEventReceiver;

  private readonly receiver: DriverEventReceiver;

  private readonly sessionCalls: SessionCallWatch;

  /** The connection's Thrift client, once its first session opened. */
  private thriftClient?: object;

  /** Set while the workspace's flag is off: when it expires, the connection observes again. */
  private idleTimer?: NodeJS.Timeout;

  /** Waiting for the flag's answer; one wait at a time. */
  private awaitingFlag = false;

  private readonly bridge?: OpenTelemetryBridge;

  /** Builds the logs uploaded to Databricks; none when only OpenTelemetry is on. */
  private readonly aggregator?: MetricsAggregator;

  private client?: TelemetryClient;

  private agent?: Agent;

  private closed = false;

  /** Set once the shared client is released: later logs have nowhere to go. */
  private released = false;

  /** Logs were handed to the shared client since the last flush at exit. */
  private enqueuedSinceExitFlush = false;

  constructor(private readonly options: TelemetryConnectionSetup) {
    this.emitter = new TelemetryEventEmitter(this);
    if (options.openTelemetry !== undefined) {
      this.bridge = new OpenTelemetryBridge(this, options.openTelemetry, {
        address: options.target.host,
        port: options.target.port,
      });
      this.bridge.subscribe(this.emitter);
    }
    this.events = new DeferredEvents(this.emitter);
    this.observer = new ThriftClientObserver(
      this.events,
      options.logger,
      () => this.watchDownloads(),
      options.driverReportsEvents,
      options.openTelemetry && observedForOpenTelemetry(options.openTelemetry),
    );
    this.receiver = new DriverEventReceiver(this);
    this.sessionCalls = new SessionCallWatch(this.observer, this.events);
    this.driverEvents = this.receiver;
    if (options.config.enabled) {
      this.aggregator = new MetricsAggregator(this, this.emitter, this, {
        has: (statementId) => this.observer.isRunning(statementId),
      });
    }
  }

  /**
   * Counts the driver's HTTP retries, and finds this connection's HTTP agent, to watch it for
   * CloudFetch downloads once there are any; a driver that reports its downloads itself needs no agent.
   */
  async start(): Promise<void> {
    RetryCounter.observe(this.options.connectionProvider, this.observer, this.options.logger);
    if (!this.options.driverReportsEvents) {
      const agent = await this.options.connectionProvider.getAgent();
      if (agent && !this.closed) {
        this.agent = agent;
      }
    }
    trackForExit(this);
  }

  /**
   * Subscribes to the agent's requests when the server announces the first CloudFetch link, before
   * the driver downloads it. A connection that never gets a link pays nothing per request: with a
   * subscriber, Node publishes every request of the process on the channel.
   */
  private watchDownloads(): void {
    if (this.agent && !this.closed) {
      watchAgent(this.agent, (request) => this.observer.links.observeRequest(request));
    }
  }

  getLogger(): IDBSQLLogger {
    return this.options.logger;
  }

  getTelemetryConfig(): TelemetryConfiguration {
    return this.options.config;
  }

  async getConnectionProvider(): Promise<IConnectionProvider> {
    return this.options.connectionProvider;
  }

  /** The aggregator's sink: hands finished logs to the shared client. */
  enqueue(log: TelemetryLog): void {
    if (this.released) {
      return;
    }
    this.acquireClient();
    this.client?.enqueue(log);
    this.enqueuedSinceExitFlush = true;
  }

  /** The shared client, on the first need for it; only when uploading to Databricks. */
  private acquireClient(): void {
    if (this.aggregator !== undefined && !this.released && this.client === undefined) {
      this.client = this.options.provider.getOrCreateClient(this, this.options.target);
      this.watchFeatureFlag();
    }
  }

  /** Observes the connection's Thrift client (see ThriftClientObserver), unless the flag says idle. */
  observeThriftClient(client: object): void {
    this.thriftClient = client;
    if (this.idleTimer === undefined) {
      this.observer.observeClient(client);
    }
  }

  /** True until the connection has its Thrift client. */
  needsThriftClient(): boolean {
    return this.thriftClient === undefined;
  }

  /** Waits for the workspace's feature-flag answer; an answer of off makes the connection idle. */
  private watchFeatureFlag(): void {
    const { client } = this;
    if (client === undefined || this.awaitingFlag) {
      return;
    }
    this.awaitingFlag = true;
    client.featureFlagAnswer().then(
      (answer) => {
        this.awaitingFlag = false;
        // OpenTelemetry output does not depend on the flag: the connection keeps observing for it.
        if (answer.state === 'disabled' && !this.options.config.openTelemetry) {
          this.idle(answer.expiresAt);
        }
      },
      () => {
        this.awaitingFlag = false;
      },
    );
  }

  /**
   * Nothing would be uploaded until `until` (the flag's answer expires then): stop observing the
   * driver and building logs until then. The driver is handed no telemetry emitter, the Thrift
   * client gets its own methods back, and what was open ends now (its logs are dropped, as the
   * flag says). An unref'ed timer takes observing up again when the answer expires, which asks
   * the flag again.
   */
  private idle(until: number): void {
    if (this.closed || this.idleTimer !== undefined) {
      return;
    }
    try {
      this.driverEvents = undefined;
      this.sessionCalls.release();
      this.observer.releaseClient(Date.now());
      this.events.deliver();
      if (this.agent) {
        unwatchAgent(this.agent);
      }
      const waitMs = Math.max(0, until - Date.now());
      this.idleTimer = setTimeout(() => this.resume(), waitMs);
      this.idleTimer.unref();
      this.options.logger.log(
        LogLevel.debug,
        `Telemetry: the workspace's feature flag is off; not observing the driver for ${waitMs} ms`,
      );
    } catch (error) {
      this.options.logger.log(LogLevel.debug, `Telemetry: could not go idle: ${(error as Error)?.message}`);
    }
  }

  private resume(): void {
    this.idleTimer = undefined;
    if (this.closed) {
      return;
    }
    this.driverEvents = this.receiver;
    if (this.thriftClient !== undefined) {
      this.observer.observeClient(this.thriftClient);
    }
    if (this.observer.links.hasAnnounced()) {
      this.watchDownloads();
    }
    this.watchFeatureFlag();
  }

  hasExitWork(): boolean {
    return (
      !this.released && (this.enqueuedSinceExitFlush || this.events.hasHeld() || this.observer.hasOpenOperations())
    );
  }

  async flushAtExit(): Promise<void> {
    try {
      // The process is ending: statements the application never closed end here.
      this.observer.completeAll(Date.now());
      this.events.deliver();
      this.enqueuedSinceExitFlush = false;
      await this.client?.flush();
    } catch (error) {
      this.options.logger.log(LogLevel.debug, `Telemetry: flush at exit failed: ${(error as Error)?.message}`);
    }
  }

  exitDeadlineMs(): number {
    return Math.min(this.options.config.closeTimeoutMs, EXIT_FLUSH_DEADLINE_MS);
  }

  /** `catalog` and `schema` are the ones the application asked the session to start in. */
  sessionOpened(session: IDBSQLSession, calledAt: number, catalog?: unknown, schema?: unknown): IDBSQLSession {
    const now = Date.now();
    this.bridge?.sessionOpened(session.id, catalog, schema);
    // Not left to the first delivered log: the feature-flag fetch starts now, so it has answered
    // by the time a batch of events arrives (or the process exits).
    this.acquireClient();
    this.events.emitConnectionOpen({
      sessionId: session.id,
      timestamp: now,
      latencyMs: now - calledAt,
      workspaceId: this.options.workspaceId,
      authType: this.options.authType,
      driverConfig: getDriverConfiguration(this.options.target.driverVersion),
      connectionParams: this.options.connectionParams,
    });
    if (this.idleTimer !== undefined) {
      return session;
    }
    return this.sessionCalls.watch(this.options.driverReportsEvents ? session : observeSession(session, this));
  }

  /** A failed session open is reported without credentials or ids: the credentials may be what failed. */
  sessionOpenFailed(error: unknown): void {
    const errorName = ExceptionClassifier.safeErrorName(error);
    if (ExceptionClassifier.isHostUnreachable(error)) {
      // The telemetry endpoint is on the same host: a report would fail the same way.
      this.options.logger.log(
        LogLevel.debug,
        `Telemetry: the session open failed before reaching the host (${errorName}); not reported`,
      );
      return;
    }
    this.acquireClient();
    this.events.emitError({ errorName, isTerminal: true, unauthenticated: true });
  }

  sessionClosed(sessionId: string): void {
    this.sessionCalls.forget(sessionId);
    const now = Date.now();
    this.observer.completeSession(sessionId, now);
    // The aggregator reports what the session left open: it must see the held events first.
    this.events.deliver();
    this.bridge?.sessionClosed(sessionId);
    this.aggregator?.completeSession(sessionId);
  }

  /** Reports what is still open, then releases the shared client (bounded by its close deadline). */
  async close(): Promise<void> {
    if (this.closed) {
      return;
    }
    this.closed = true;
    untrackForExit(this);
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    try {
      if (this.agent) {
        // A no-op for an agent never watched (no CloudFetch link came).
        unwatchAgent(this.agent);
      }
      this.observer.completeAll(Date.now());
      this.events.close();
      this.aggregator?.close();
      this.released = true;
      if (this.client) {
        await this.options.provider.releaseClient(this.options.target);
      }
    } catch (error) {
      this.options.logger.log(LogLevel.debug, `Telemetry: closing failed: ${(error as Error)?.message}`);
    }
  }
}

function observedForOpenTelemetry(output: OpenTelemetryOutput): ObservedForOpenTelemetry {
  return { queryText: output.options.queryText === true, activeContext: () => output.api.context.active() };
}
