import path from 'path';
import * as api from '@opentelemetry/api';
import {
  InstrumentationBase,
  InstrumentationConfig,
  InstrumentationNodeModuleDefinition,
  InstrumentationNodeModuleFile,
  isWrapped,
} from '@opentelemetry/instrumentation';
import type { OpenSessionRequest } from '@databricks/sql/dist/contracts/IDBSQLClient';
import type IDBSQLSession from '@databricks/sql/dist/contracts/IDBSQLSession';
import { resolveTelemetryConfig } from '../telemetry/config';
import OpenTelemetryOutput, { INSTRUMENTATION_SCOPE, OpenTelemetryHooks } from '../telemetry/OpenTelemetryOutput';
import TelemetryClientProvider from '../telemetry/TelemetryClientProvider';
import ClientTelemetry, { DriverClient, TelemetryConnectionOptions } from './ClientTelemetry';
import DriverEventReceiver from './DriverEventReceiver';
import { DRIVER_VERSION } from './connectionFacts';
import { OWN_TELEMETRY } from './ownTelemetry';

export interface DatabricksSqlInstrumentationConfig extends InstrumentationConfig, OpenTelemetryHooks {
  /** Put `db.query.text` on statement spans: the statement's text with every literal replaced by `?`. */
  queryText?: boolean;
}

/** The driver versions whose client this instrumentation knows. */
const SUPPORTED_VERSIONS = ['>=1.0.0 <3'];

const VERSION: string = readVersion();

/** The driver client's methods that the instrumentation wraps, where the driver has them. */
const WRAPPED = ['connect', 'openSession', 'close', 'getTelemetryEmitter', 'getTelemetryAggregator'] as const;

type Method = (this: InstrumentedClient, ...args: unknown[]) => unknown;

type InstrumentedClient = DriverClient & {
  [OWN_TELEMETRY]?: boolean;
  getTelemetryEmitter?: () => unknown;
};

interface DriverClientClass {
  prototype: Record<string, unknown>;
}

/** The receiver's methods, which the driver calls on its telemetry emitter and aggregator. */
const RECEIVER_METHODS = Object.getOwnPropertyNames(DriverEventReceiver.prototype).filter(
  (name) => name !== 'constructor',
);

/**
 * OpenTelemetry instrumentation of `@databricks/sql` itself: once registered (with
 * `registerInstrumentations`, or in the Node SDK's `instrumentations`), every client of the
 * driver, created by `new DBSQLClient()` from the driver's own package, reports its connects,
 * session opens and statements as spans and metrics under the stable database conventions. The
 * application changes no import. Like other instrumentations it can be disabled and enabled at
 * run time, and takes a request and a response hook to enrich statement spans.
 *
 * Uploads to Databricks follow the usual environment variables (`DATABRICKS_TELEMETRY_ENABLED`,
 * ...): when they are on, this package's pipeline replaces the driver's built-in telemetry for
 * the connection, so nothing is reported twice; when off (the default), the driver's built-in
 * telemetry is left exactly as the application configured it. Clients of this package's own
 * `DBSQLClient` are left to their own options.
 */
export default class DatabricksSqlInstrumentation extends InstrumentationBase<DatabricksSqlInstrumentationConfig> {
  /** Each instrumented client's telemetry, created at its first connect. */
  private readonly clients = new WeakMap<object, ClientTelemetry>();

  /** Connected clients, so that `disable()` ends what they observe. */
  private readonly connected = new Set<ClientTelemetry>();

  /** The driver's built-in emitter or aggregator, teed with this package's receiver, per receiver. */
  private readonly tees = new WeakMap<object, { receiver: object; tee: object }>();

  private output?: OpenTelemetryOutput;

  private meterProvider?: api.MeterProvider;

  private readonly constructed: boolean;

  constructor(config: DatabricksSqlInstrumentationConfig = {}) {
    super(INSTRUMENTATION_SCOPE, VERSION, config);
    this.constructed = true;
    this.patchLoadedDriver();
  }

  protected init(): InstrumentationNodeModuleDefinition {
    // The package's main module for `require('@databricks/sql')`; the client's own file for a
    // driver whose main module is not loaded through `require` (an ES-module importer).
    return new InstrumentationNodeModuleDefinition(
      '@databricks/sql',
      SUPPORTED_VERSIONS,
      (exports: { DBSQLClient?: DriverClientClass }, version?: string) => {
        this.patch(exports?.DBSQLClient, version);
        return exports;
      },
      (exports: { DBSQLClient?: DriverClientClass }) => this.unpatch(exports?.DBSQLClient),
      [
        new InstrumentationNodeModuleFile(
          '@databricks/sql/dist/DBSQLClient.js',
          SUPPORTED_VERSIONS,
          (exports: { default?: DriverClientClass }, version?: string) => {
            this.patch(exports?.default, version);
            return exports;
          },
          (exports: { default?: DriverClientClass }) => this.unpatch(exports?.default),
        ),
      ],
    );
  }

  enable(): void {
    super.enable();
    if (this.constructed) {
      this.patchLoadedDriver();
    }
  }

  /** Also ends what the connected clients observe: their open statements' spans end now. */
  disable(): void {
    super.disable();
    const connected = [...(this.connected ?? [])];
    this.connected?.clear();
    for (const telemetry of connected) {
      telemetry.stop().catch(() => undefined);
    }
  }

  setTracerProvider(tracerProvider: api.TracerProvider): void {
    super.setTracerProvider(tracerProvider);
    this.output = undefined;
  }

  setConfig(config: DatabricksSqlInstrumentationConfig = {}): void {
    super.setConfig(config);
    this.output = undefined;
  }

  /**
   * The output records to this provider; the API's no-op provider (what registering before the
   * application set up its own hands over) means the global one, looked up at each recording.
   */
  setMeterProvider(meterProvider: api.MeterProvider): void {
    super.setMeterProvider(meterProvider);
    this.meterProvider = meterProvider;
  }

  /**
   * The driver this package itself loaded (the one the application gets too, unless it has a copy
   * of its own): required again through the hook, so it is patched even when it was loaded before
   * the instrumentation, as it is when the application imports this package first.
   */
  private patchLoadedDriver(): void {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      require('@databricks/sql');
    } catch {
      // No driver to patch.
    }
  }

  /** `version`: the patched driver's, which may not be the one this package depends on. */
  private patch(clientClass: DriverClientClass | undefined, version = DRIVER_VERSION): void {
    const prototype = clientClass?.prototype;
    if (prototype === undefined || typeof prototype.connect !== 'function' || isWrapped(prototype.connect)) {
      return;
    }
    const driverReportsEvents = typeof prototype.getTelemetryEmitter === 'function';
    this._wrap(prototype, 'connect', (original) => this.wrapConnect(original as Method, driverReportsEvents, version));
    this._wrap(prototype, 'openSession', (original) => this.wrapOpenSession(original as Method));
    this._wrap(prototype, 'close', (original) => this.wrapClose(original as Method));
    if (driverReportsEvents) {
      this._wrap(prototype, 'getTelemetryEmitter', (original) => this.wrapTelemetryHook(original as Method));
      if (typeof prototype.getTelemetryAggregator === 'function') {
        this._wrap(prototype, 'getTelemetryAggregator', (original) => this.wrapTelemetryHook(original as Method));
      }
    }
  }

  private unpatch(clientClass: DriverClientClass | undefined): void {
    const prototype = clientClass?.prototype;
    if (prototype === undefined) {
      return;
    }
    for (const name of WRAPPED) {
      if (isWrapped(prototype[name])) {
        this._unwrap(prototype, name);
      }
    }
  }

  /** The output to the instrumentation's tracer and meter, rebuilt when a provider or the config changes. */
  private getOutput(): OpenTelemetryOutput {
    if (this.output === undefined) {
      const { queryText, requestHook, responseHook } = this.getConfig();
      this.output = new OpenTelemetryOutput(
        api,
        this.tracer,
        () => {
          const provider = this.meterProvider;
          return provider === undefined || provider.constructor?.name === 'NoopMeterProvider'
            ? api.metrics.getMeterProvider()
            : provider;
        },
        { queryText, requestHook, responseHook },
        VERSION,
      );
    }
    return this.output;
  }

  /** Not for this package's own client, nor while disabled. */
  private observes(client: InstrumentedClient): boolean {
    return client[OWN_TELEMETRY] !== true && this.isEnabled();
  }

  /** The client's telemetry, created at its first connect. */
  private telemetryOf(client: InstrumentedClient, driverReportsEvents: boolean, version: string): ClientTelemetry {
    let telemetry = this.clients.get(client);
    if (telemetry === undefined) {
      telemetry = new ClientTelemetry(client, TelemetryClientProvider.getDefault(), driverReportsEvents, version);
      this.clients.set(client, telemetry);
    }
    return telemetry;
  }

  private wrapConnect(original: Method, driverReportsEvents: boolean, version: string): Method {
    const observes = (client: InstrumentedClient) => this.observes(client);
    const telemetryOf = (client: InstrumentedClient) => this.telemetryOf(client, driverReportsEvents, version);
    const output = () => this.getOutput();
    const { connected } = this;
    return function connect(this: InstrumentedClient, ...args: unknown[]) {
      if (!observes(this)) {
        return original.apply(this, args);
      }
      const [options, ...rest] = args as [TelemetryConnectionOptions, ...unknown[]];
      const telemetry = telemetryOf(this);
      // The driver's own `telemetryEnabled` is its built-in telemetry's switch, not the upload's.
      const telemetryOptions: Partial<TelemetryConnectionOptions> = { ...options };
      delete telemetryOptions.telemetryEnabled;
      const config = resolveTelemetryConfig(
        { connectionOptions: telemetryOptions, clientConfig: {}, env: process.env },
        this.getLogger(),
      );
      config.openTelemetry = true;
      const driverOptions = config.enabled ? { ...options, telemetryEnabled: false } : options;
      connected.add(telemetry);
      return telemetry.connect(
        driverOptions,
        config,
        output(),
        () => original.call(this, driverOptions, ...rest) as Promise<unknown>,
      );
    };
  }

  private wrapOpenSession(original: Method): Method {
    const observes = (client: InstrumentedClient) => this.observes(client);
    const { clients } = this;
    return function openSession(this: InstrumentedClient, ...args: unknown[]) {
      const telemetry = clients.get(this);
      if (telemetry === undefined || !observes(this)) {
        return original.apply(this, args);
      }
      return telemetry.openSession(
        args[0] as OpenSessionRequest | undefined,
        () => original.apply(this, args) as unknown as Promise<IDBSQLSession>,
      );
    };
  }

  private wrapClose(original: Method): Method {
    const { clients, connected } = this;
    return async function close(this: InstrumentedClient, ...args: unknown[]) {
      try {
        return await original.apply(this, args);
      } finally {
        const telemetry = clients.get(this);
        if (telemetry !== undefined) {
          connected.delete(telemetry);
          await telemetry.stop();
        }
      }
    };
  }

  /**
   * The driver's emitter or aggregator for its built-in telemetry, with this package's receiver
   * beside it while the connection is observed: both get every call, the built-in's result is
   * returned, so the application's own telemetry setting keeps working unchanged.
   */
  private wrapTelemetryHook(original: Method): Method {
    const { clients } = this;
    const tee = (receiver: object, builtIn: object) => this.tee(receiver, builtIn);
    return function telemetryHook(this: InstrumentedClient, ...args: unknown[]) {
      const builtIn = original.apply(this, args);
      const receiver = clients.get(this)?.driverEvents;
      if (receiver === undefined) {
        return builtIn;
      }
      if (builtIn === undefined || builtIn === null) {
        return receiver;
      }
      return tee(receiver, builtIn as object);
    };
  }

  private tee(receiver: object, builtIn: object): object {
    const known = this.tees.get(builtIn);
    if (known !== undefined && known.receiver === receiver) {
      return known.tee;
    }
    const both: Record<string, unknown> = {};
    for (const name of RECEIVER_METHODS) {
      const ours = (receiver as Record<string, (...args: unknown[]) => unknown>)[name];
      both[name] = function teed(...args: unknown[]) {
        try {
          ours.apply(receiver, args);
        } catch {
          // The receiver does not throw; the driver's own telemetry must run whatever happens.
        }
        const theirs = (builtIn as Record<string, unknown>)[name];
        return typeof theirs === 'function' ? theirs.apply(builtIn, args) : undefined;
      };
    }
    const tee = new Proxy(builtIn, {
      get: (target, property) =>
        typeof property === 'string' && Object.prototype.hasOwnProperty.call(both, property)
          ? both[property]
          : Reflect.get(target, property),
    });
    this.tees.set(builtIn, { receiver, tee });
    return tee;
  }
}

function readVersion(): string {
  try {
    // Two levels up from both lib/driver and dist/driver.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(path.join(__dirname, '..', '..', 'package.json')).version;
  } catch {
    return '0.0.0';
  }
}
