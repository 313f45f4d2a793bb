/**
 * Connection churn: connect / openSession / one query / close, cycle after cycle, across many host
 * names that all resolve to one emulator, with some cycles forgetting `close()`. Measures what the
 * process still holds afterwards: retained heap (after gc), ref'ed handles, live HTTP agents and
 * TLS sockets, live TelemetryConnections and driver clients, and what a private
 * TelemetryClientProvider holds. Runs in a child process of its own (bench/children/churn.ts,
 * started by `runChurnChild`), so the counts are this workload's alone and the child's exit shows
 * whether anything keeps the process alive.
 */
import { spawn } from 'child_process';
import { readFileSync } from 'fs';
import http from 'http';
import { join } from 'path';
import tls from 'tls';
import v8 from 'v8';
import { DBSQLClient as PlainDBSQLClient, LogLevel } from '@databricks/sql';
import type IDBSQLLogger from '@databricks/sql/dist/contracts/IDBSQLLogger';
import type IDBSQLClient from '@databricks/sql/dist/contracts/IDBSQLClient';
import { DBSQLClient } from '../../lib';
import TelemetryConnection from '../../lib/driver/TelemetryConnection';
import TelemetryClientProvider, { TelemetryClientProviderStats } from '../../lib/telemetry/TelemetryClientProvider';
import type { EmulatorEndpoint } from '../../bench/support/emulatorProcess';
import { resolveTo } from '../../bench/support/loopbackName';
import { CHURN_NODE_FLAGS } from '../../bench/children/churn';
import { getGc } from './gc';

/** `on`: our client, telemetry on with a short flush interval; `plain`: the driver's own client, telemetry off. */
export type ChurnKind = 'on' | 'plain';

export interface ChurnSpec {
  /** The emulator; every churn host name resolves to `endpoint.host`. */
  endpoint: EmulatorEndpoint;
  kind: ChurnKind;
  cycles: number;
  /** Host names `h0.emulator.test` ... `h<hosts-1>.emulator.test`, taken in turn. */
  hosts: number;
  /** Cycles before the first heap reading: module loading, JIT and pools are not growth. */
  warmup: number;
  /** One cycle in this many forgets `close()` (see `isForgotten`). */
  forgetEvery: number;
  /**
   * Close the forgotten clients late (found through weak references, so the run itself pins
   * nothing) right before the warm and end readings, so those two readings compare equal states.
   * The `held` reading is taken before that, with every forgotten connection still open.
   */
  releaseForgotten: boolean;
  /** Longest wait for idle keep-alive sockets to close before a reading. */
  settleMs: number;
  /**
   * How the emulator's CA is trusted. `customCaCert`: the driver's option, with which the driver
   * passes every root certificate as `ca`, so each agent builds its TLS context from all of them
   * and names its TLS session cache after them. `extraCaCerts`: `NODE_EXTRA_CA_CERTS` (the child's
   * environment must set it to `endpoint.caPath`), as with a public CA: no `ca` option at all.
   */
  trust: 'customCaCert' | 'extraCaCerts';
  /**
   * The driver's `socketTimeout`: idle keep-alive sockets close after it, which shortens the
   * waits before readings (the server closes them after its own keep-alive timeout otherwise).
   */
  socketTimeoutMs?: number;
}

/** What the process holds at one moment, read after a full gc. */
export interface ChurnSnapshot {
  heapUsedBytes: number;
  /** `process.getActiveResourcesInfo()`, sorted: what keeps the event loop alive. */
  handles: string[];
  /** Live `http.Agent` objects (https and proxy agents included). */
  agents: number;
  /** Live TLS sockets, idle keep-alive ones included (those are unref'ed, so not among `handles`). */
  tlsSockets: number;
  /** Live TelemetryConnection objects. */
  telemetryConnections: number;
  /** Live driver clients (ours extend the driver's). */
  driverClients: number;
  /** Forgotten clients still alive: something other than the application holds them. */
  forgottenAlive: number;
  /** What the private provider holds (all 0 for `plain`). */
  provider: TelemetryClientProviderStats;
}

export interface ChurnResult {
  kind: ChurnKind;
  cycles: number;
  hosts: number;
  warmup: number;
  forgetEvery: number;
  /** Cycles that never closed their session or client, and the distinct hosts they were on. */
  forgotten: number;
  forgottenHosts: number;
  /** Before the first cycle. */
  start: ChurnSnapshot;
  /** After the warm-up (its forgotten clients closed late when `releaseForgotten`). */
  warm: ChurnSnapshot;
  /** After the last cycle, every forgotten connection still open. */
  held: ChurnSnapshot;
  /** After the forgotten clients were closed late (the same as `held` without `releaseForgotten`). */
  end: ChurnSnapshot;
  /** Retained heap growth per cycle after the warm-up: end less warm. */
  heapGrowthPerCycleBytes: number;
  /** Retained heap per forgotten connection while open: held less end, over the forgotten. */
  heapPerForgottenBytes: number;
  cyclesSeconds: number;
  /** How long each wait for idle sockets took (before warm, held and end). */
  settledMs: number[];
  /** Logger lines at warn or error level (none expected) and the first of them. */
  warnings: number;
  firstWarning?: string;
  /** Set by the child on 'exit': what the provider still held then, and how long exit took after the work. */
  atExit?: { provider: TelemetryClientProviderStats; exitAfterWorkMs: number };
}

export const CHURN_DOMAIN = 'emulator.test';

export function churnHost(cycle: number, hosts: number): string {
  return `h${cycle % hosts}.${CHURN_DOMAIN}`;
}

/**
 * One cycle in `forgetEvery` forgets `close()`, on a host that shifts from round to round (a round
 * is one pass over the hosts), so forgotten connections spread over many hosts, not a fixed few.
 */
export function isForgotten(cycle: number, hosts: number, forgetEvery: number): boolean {
  const round = Math.floor(cycle / hosts);
  return (round + (cycle % hosts)) % forgetEvery === forgetEvery - 1;
}

/** The forgotten cycles among cycles `from` to `to` (excluded), and their distinct hosts, counted without running them. */
export function forgottenPlan(
  spec: Pick<ChurnSpec, 'cycles' | 'hosts' | 'forgetEvery'>,
  from = 0,
  to = spec.cycles,
): { count: number; hosts: number } {
  const hosts = new Set<string>();
  let count = 0;
  for (let cycle = from; cycle < to; cycle += 1) {
    if (isForgotten(cycle, spec.hosts, spec.forgetEvery)) {
      count += 1;
      hosts.add(churnHost(cycle, spec.hosts));
    }
  }
  return { count, hosts: hosts.size };
}

/** The forgotten connections still open at the `held` reading: those after the warm-up when they are closed late. */
export function heldPlan(spec: ChurnSpec): { count: number; hosts: number } {
  return forgottenPlan(spec, spec.releaseForgotten ? Math.min(spec.warmup, spec.cycles) : 0);
}

/** Keeps counts, not lines: a logger that kept every line would itself be retained heap. */
class CountingLogger implements IDBSQLLogger {
  warnings = 0;

  firstWarning?: string;

  log(level: LogLevel, message: string): void {
    if (level === LogLevel.warn || level === LogLevel.error) {
      this.warnings += 1;
      this.firstWarning ??= `${level}: ${message}`;
    }
  }
}

const sleep = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms);
  });

/** A forgotten cycle's client, weakly: the application dropped it, and so does the run. */
type Forgotten = WeakRef<IDBSQLClient>;

async function snapshot(
  gc: () => void,
  provider: TelemetryClientProvider,
  forgotten: Forgotten[],
): Promise<ChurnSnapshot> {
  // Twice, with a turn between: weak entries and finalizers freed by the first are collected by the second.
  gc();
  await new Promise((resolve) => setImmediate(resolve));
  gc();
  return {
    heapUsedBytes: process.memoryUsage().heapUsed,
    handles: process.getActiveResourcesInfo().sort(),
    agents: v8.queryObjects(http.Agent, { format: 'count' }),
    tlsSockets: v8.queryObjects(tls.TLSSocket, { format: 'count' }),
    telemetryConnections: v8.queryObjects(TelemetryConnection, { format: 'count' }),
    driverClients: v8.queryObjects(PlainDBSQLClient, { format: 'count' }),
    forgottenAlive: forgotten.filter((ref) => ref.deref() !== undefined).length,
    provider: provider.getStats(),
  };
}

/**
 * Waits until no more TLS sockets are alive than at `baseline` (idle keep-alive sockets close
 * after the socket timeout or the server's keep-alive timeout), at most `limitMs`.
 */
async function settleSockets(baseline: number, limitMs: number): Promise<number> {
  const started = Date.now();
  while (v8.queryObjects(tls.TLSSocket, { format: 'count' }) > baseline && Date.now() - started < limitMs) {
    await sleep(200);
  }
  return Date.now() - started;
}

/** Closes the forgotten clients still alive, as an application that remembered late would; empties the list. */
async function closeLate(forgotten: Forgotten[]): Promise<void> {
  const clients = forgotten.splice(0).flatMap((ref) => {
    const client = ref.deref();
    return client ? [client] : [];
  });
  for (const client of clients) {
    await client.close();
  }
}

/**
 * Runs the churn in this process (meant for a child process of its own) and reports what is left.
 * `provider` is private to the run, so the caller can read it again later (at exit).
 */
export async function runChurn(spec: ChurnSpec, provider = new TelemetryClientProvider()): Promise<ChurnResult> {
  const gc = getGc();
  for (let host = 0; host < spec.hosts; host += 1) {
    resolveTo(churnHost(host, spec.hosts), spec.endpoint.host);
  }
  if (spec.trust === 'extraCaCerts' && process.env.NODE_EXTRA_CA_CERTS !== spec.endpoint.caPath) {
    throw new Error('trust extraCaCerts: NODE_EXTRA_CA_CERTS must name the emulator CA file when the process starts');
  }
  const ca = spec.trust === 'customCaCert' ? { customCaCert: readFileSync(spec.endpoint.caPath) } : {};
  const logger = new CountingLogger();
  const plan = forgottenPlan(spec);
  const forgotten: Forgotten[] = [];

  const cycle = async (index: number): Promise<void> => {
    const client: IDBSQLClient =
      spec.kind === 'on' ? new DBSQLClient({ logger }, provider) : new PlainDBSQLClient({ logger });
    await client.connect({
      host: churnHost(index, spec.hosts),
      port: spec.endpoint.port,
      path: spec.endpoint.path,
      token: spec.endpoint.token,
      ...ca,
      ...(spec.socketTimeoutMs === undefined ? {} : { socketTimeout: spec.socketTimeoutMs }),
      ...(spec.kind === 'on' ? { telemetryEnabled: true, telemetryFlushIntervalMs: 50 } : { telemetryEnabled: false }),
    } as Parameters<IDBSQLClient['connect']>[0]);
    const session = await client.openSession();
    const operation = await session.executeStatement('SELECT * FROM range(10)');
    await operation.fetchAll();
    await operation.close();
    if (isForgotten(index, spec.hosts, spec.forgetEvery)) {
      // Forgotten: no session or client close; the application keeps no reference.
      forgotten.push(new WeakRef(client));
      return;
    }
    await session.close();
    await client.close();
  };
  const release = async () => {
    if (spec.releaseForgotten) {
      await closeLate(forgotten);
    }
  };

  const start = await snapshot(gc, provider, forgotten);
  const settledMs: number[] = [];
  const settle = async () => {
    settledMs.push(await settleSockets(start.tlsSockets, spec.settleMs));
  };
  let cyclesMs = 0;
  const runCycles = async (from: number, to: number) => {
    const startedAt = Date.now();
    for (let index = from; index < to; index += 1) {
      await cycle(index);
    }
    cyclesMs += Date.now() - startedAt;
  };
  const warmup = Math.min(spec.warmup, spec.cycles);
  await runCycles(0, warmup);
  await release();
  await settle();
  const warm = await snapshot(gc, provider, forgotten);
  await runCycles(warmup, spec.cycles);
  await settle();
  const held = await snapshot(gc, provider, forgotten);
  let end = held;
  if (spec.releaseForgotten) {
    await release();
    await settle();
    end = await snapshot(gc, provider, forgotten);
  }
  return {
    kind: spec.kind,
    cycles: spec.cycles,
    hosts: spec.hosts,
    warmup,
    forgetEvery: spec.forgetEvery,
    forgotten: plan.count,
    forgottenHosts: plan.hosts,
    start,
    warm,
    held,
    end,
    heapGrowthPerCycleBytes: (end.heapUsedBytes - warm.heapUsedBytes) / Math.max(1, spec.cycles - warmup),
    heapPerForgottenBytes: (held.heapUsedBytes - end.heapUsedBytes) / Math.max(1, held.forgottenAlive),
    cyclesSeconds: cyclesMs / 1000,
    settledMs,
    warnings: logger.warnings,
    firstWarning: logger.firstWarning,
  };
}

const CHILD = join(__dirname, '..', '..', 'bench', 'children', 'churn.ts');

export interface ChurnChildRun {
  result?: ChurnResult;
  code: number | null;
  /** The child did not exit by itself within the limit and was killed. */
  killed: boolean;
  stdout: string;
  stderr: string;
}

/** Runs bench/children/churn.ts with this process's module hooks (e.g. the 1.x driver); kills it after `limitMs`. */
export function runChurnChild(spec: ChurnSpec, limitMs: number): Promise<ChurnChildRun> {
  const hook = process.env.DBSQL_TELEMETRY_DRIVER_HOOK;
  const args = [
    ...(hook ? ['-r', hook] : []),
    ...CHURN_NODE_FLAGS,
    '-r',
    'ts-node/register/transpile-only',
    CHILD,
    JSON.stringify(spec),
  ];
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...(spec.trust === 'extraCaCerts' ? { NODE_EXTRA_CA_CERTS: spec.endpoint.caPath } : {}),
    };
    // Not under coverage (c8 runs the tests with it): its counters are heap of their own, allocated
    // as functions first run, which would be read as growth.
    delete env.NODE_V8_COVERAGE;
    const child = spawn(process.execPath, args, {
      cwd: join(__dirname, '..', '..'),
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let killed = false;
    child.stdout.on('data', (part: Buffer) => {
      stdout += part.toString();
    });
    child.stderr.on('data', (part: Buffer) => {
      stderr += part.toString();
    });
    const killer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, limitMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(killer);
      let result: ChurnResult | undefined;
      try {
        result = JSON.parse(stdout.trim().split('\n').pop() ?? '') as ChurnResult;
      } catch {
        result = undefined;
      }
      resolve({ result, code, killed, stdout, stderr });
    });
  });
}
