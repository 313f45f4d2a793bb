import { createServer, connect as netConnect, Server, Socket } from 'net';
import sinon from 'sinon';
import { LogLevel } from '@databricks/sql';
import type IDBSQLLogger from '@databricks/sql/dist/contracts/IDBSQLLogger';
import type IAuthentication from '@databricks/sql/dist/connection/contracts/IAuthentication';
import { DBSQLClient } from '../../../lib';
import type { TelemetryConnectionOptions } from '../../../lib';
import { Emulator } from '../../../lib/emulator';
import DatabricksTelemetryExporter from '../../../lib/telemetry/DatabricksTelemetryExporter';
import TelemetryClientProvider from '../../../lib/telemetry/TelemetryClientProvider';
import * as httpRequestModule from '../../../lib/telemetry/httpRequest';

export type Session = Awaited<ReturnType<DBSQLClient['openSession']>>;
export type Operation = Awaited<ReturnType<Session['executeStatement']>>;

export interface LogLine {
  level: LogLevel;
  message: string;
  /** Epoch ms when it was logged. */
  at: number;
}

/** A logger that keeps every line; `onLine` sees each one as it is logged. */
export class RecordingLogger implements IDBSQLLogger {
  readonly lines: LogLine[] = [];

  constructor(private readonly onLine?: (line: LogLine) => void) {}

  log(level: LogLevel, message: string): void {
    const line = { level, message, at: Date.now() };
    this.lines.push(line);
    this.onLine?.(line);
  }

  /** Lines above debug, with ids masked so two runs compare. */
  aboveDebug(): string[] {
    return this.lines
      .filter((line) => line.level !== LogLevel.debug)
      .map((line) => `${line.level}: ${maskIds(line.message)}`)
      .sort();
  }

  has(pattern: RegExp): boolean {
    return this.lines.some((line) => pattern.test(line.message));
  }

  first(pattern: RegExp): LogLine | undefined {
    return this.lines.find((line) => pattern.test(line.message));
  }
}

export function maskIds(text: string): string {
  return text.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, '<id>');
}

/** Who asked for authentication headers, read from the synchronous part of the call stack. */
export type TelemetryRequestKind = 'flags' | 'upload';

/**
 * Hooks on the telemetry's own HTTP requests (the feature-flag fetch and the uploads), so a test
 * can act at an exact moment, e.g. make the host refuse connections just before the n-th upload
 * attempt. `install()` wraps the engine's request function; `uninstall()` restores it.
 */
export class TelemetryRequestHooks {
  readonly calls: Record<TelemetryRequestKind, number> = { flags: 0, upload: 0 };

  hooks: Partial<Record<TelemetryRequestKind, (call: number) => Promise<void> | void>> = {};

  private stub?: sinon.SinonStub;

  install(): void {
    const original = httpRequestModule.default;
    this.stub = sinon.stub(httpRequestModule, 'default').callsFake(async (context, request) => {
      const kind: TelemetryRequestKind = /\/telemetry-(ext|unauth)$/.test(request.url) ? 'upload' : 'flags';
      this.calls[kind] += 1;
      await this.hooks[kind]?.(this.calls[kind]);
      return original(context, request);
    });
  }

  uninstall(): void {
    this.stub?.restore();
    this.stub = undefined;
  }
}

/** The connection's own PAT, as the driver's auth provider. */
export class PatAuth implements IAuthentication {
  constructor(private readonly token: string) {}

  async authenticate(): ReturnType<IAuthentication['authenticate']> {
    return { Authorization: `Bearer ${this.token}` };
  }
}

/**
 * A TCP forwarder in front of the emulator. `down()` stops listening and cuts every connection,
 * so new connections to its port are refused; `up()` listens on the same port again.
 */
export class Forwarder {
  private server?: Server;

  private readonly sockets = new Set<Socket>();

  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  async up(): Promise<void> {
    if (this.server) {
      return;
    }
    const server = createServer((client) => {
      const upstream = netConnect(this.target.port, this.target.host);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, this.target.host, () => resolve());
    });
    this.server = server;
    this.port = (server.address() as { port: number }).port;
  }

  async down(): Promise<void> {
    const { server } = this;
    this.server = undefined;
    this.sockets.forEach((socket) => socket.destroy());
    if (server) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  get isUp(): boolean {
    return this.server !== undefined;
  }
}

/** Resolves whether something accepts TCP connections on the port (false on ECONNREFUSED). */
export function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = netConnect(port, host);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** A provider whose exporters are the real ones, watched: the batches handed over and whether one is in flight. */
export function watchedProvider(): { provider: TelemetryClientProvider; batches: string[][]; busy: () => boolean } {
  const batches: string[][] = [];
  let inFlight = 0;
  const provider = new TelemetryClientProvider(undefined, undefined, (context, target, breaker) => {
    const real = new DatabricksTelemetryExporter(context, target, breaker);
    return {
      export: async (logs) => {
        batches.push(logs.map((log) => log.eventId.toLowerCase()));
        inFlight += 1;
        try {
          await real.export(logs);
        } finally {
          inFlight -= 1;
        }
      },
      forceFlush: () => real.forceFlush(),
      shutdown: () => real.shutdown(),
    };
  });
  return { provider, batches, busy: () => inFlight > 0 };
}

/** Small engine settings, so faults cost milliseconds. */
export const FAST_TELEMETRY = {
  telemetryEnabled: true,
  telemetryFlushIntervalMs: 50,
  telemetryBackoffBaseMs: 10,
  telemetryBackoffMaxMs: 50,
  telemetryRequestTimeoutMs: 500,
  telemetryCloseTimeoutMs: 1000,
  telemetryMaxRetries: 3,
  telemetryCircuitBreakerThreshold: 5,
  telemetryFeatureFlagFailureTtlMs: 1000,
};

export interface ClientSetup {
  emulator: Emulator;
  logger: IDBSQLLogger;
  provider?: TelemetryClientProvider;
  auth?: IAuthentication;
  port?: number;
  options?: Partial<TelemetryConnectionOptions> & Record<string, unknown>;
}

/** Our drop-in client, connected to the emulator (optionally through another port). */
export async function connectClient(setup: ClientSetup): Promise<DBSQLClient> {
  const client = new DBSQLClient({ logger: setup.logger }, setup.provider ?? new TelemetryClientProvider());
  const options = { ...setup.emulator.connectOptions(), ...(setup.port ? { port: setup.port } : {}), ...setup.options };
  await client.connect(options as TelemetryConnectionOptions, setup.auth);
  return client;
}

export async function waitFor(condition: () => boolean, timeoutMs: number, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await sleep(10);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Collects unhandled rejections while installed. */
export class RejectionWatch {
  readonly reasons: unknown[] = [];

  private readonly listener = (reason: unknown) => {
    this.reasons.push(reason);
  };

  install(): void {
    process.on('unhandledRejection', this.listener);
  }

  uninstall(): void {
    process.off('unhandledRejection', this.listener);
  }
}

/** The decoded frontend logs the emulator accepted, with their ids. */
export function receivedEventIds(emulator: Emulator): string[] {
  return emulator.telemetry
    .logs()
    .map((log) => String((log as { frontend_log_event_id?: unknown }).frontend_log_event_id).toLowerCase());
}

export function countBy<T>(items: T[]): Map<T, number> {
  const counts = new Map<T, number>();
  for (const item of items) {
    counts.set(item, (counts.get(item) ?? 0) + 1);
  }
  return counts;
}
