/**
 * Connection churn (`BENCH_ONLY=churn`): connect / query / close cycles over many host names, some
 * never closed, in a child each for the plain driver and telemetry on (children/churn.ts, running
 * tests/support/churn.ts, the churn test's own workload): heap, handles and the shared state left
 * behind.
 */
import { CHURN_NODE_FLAGS, ChurnResult, ChurnSpec } from '../children/churn';
import { cleanEnv } from '../support/clients';
import type { EmulatorEndpoint, EmulatorProcess } from '../support/emulatorProcess';
import { figure, FigureRecorder } from '../support/figures';
import { runJsonChild } from '../support/jsonChild';
import { QUICK } from '../support/mode';
import type { Part } from '../support/part';
import { progress } from '../support/progress';
import { atMost, holds, informational } from '../support/target';

/**
 * The bench's churn, less its kind: the full count, or a smoke-sized one. The CA is trusted
 * through NODE_EXTRA_CA_CERTS (the caller sets it to `endpoint.caPath`), as a public CA would be:
 * with `customCaCert` the driver builds every agent's TLS context from all root certificates, and
 * the figure would measure that. The quick run closes idle sockets sooner, to wait less.
 */
export function benchChurnSpec(endpoint: EmulatorEndpoint, quick: boolean): Omit<ChurnSpec, 'kind'> {
  return {
    endpoint,
    trust: 'extraCaCerts',
    cycles: quick ? 250 : 2000,
    hosts: 50,
    // A round is one pass over the hosts. The second round is the first to meet hosts a forgotten
    // connection still holds; the eleventh the first to forget a second connection on one host.
    warmup: quick ? 100 : 550,
    forgetEvery: 10,
    releaseForgotten: true,
    settleMs: 10_000,
    ...(quick ? { socketTimeoutMs: 1500 } : {}),
  };
}

/** A telemetry-on run and a plain-driver run of one spec. */
interface ChurnReading {
  on: ChurnResult;
  plain: ChurnResult;
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

/**
 * As in the churn test: over the plain driver's own growth, all closed cycles together may retain
 * less than one open connection's telemetry does.
 */
const heapAllowance = ({ on, plain }: ChurnReading) =>
  Math.max(plain.heapGrowthPerCycleBytes, 0) + on.heapPerForgottenBytes / (on.cycles - on.warmup);

export const LEFT_AFTER = figure<ChurnReading>({
  id: 'churn.leftAfter',
  group: 'Churn',
  title: ({ on }) =>
    `left after ${on.cycles.toLocaleString('en-US')} cycles over ${on.hosts} host names (1 in ${on.forgetEvery} forgotten, closed late)`,
  target: holds(
    'no client, flag entry, breaker, connection or agent',
    ({ on: { start, end } }) =>
      Object.values(end.provider).every((count) => count === 0) &&
      end.telemetryConnections === start.telemetryConnections &&
      end.agents === start.agents,
  ),
  measured: ({ on: { start, end, cyclesSeconds }, plain }) =>
    `${end.provider.clients} clients, ${end.provider.flagHosts} flag entries, ${end.provider.breakers} breakers, ` +
    `${end.telemetryConnections - start.telemetryConnections} telemetry connections, ${end.agents - start.agents} agents ` +
    `(cycles ${cyclesSeconds.toFixed(1)} s, plain driver ${plain.cyclesSeconds.toFixed(1)} s)`,
});

export const HANDLES = figure<ChurnReading>({
  id: 'churn.handles',
  group: 'Churn',
  title: 'open handles and TLS sockets, start -> end',
  target: holds(
    'back to the start',
    ({ on: { start, end } }) =>
      JSON.stringify(end.handles) === JSON.stringify(start.handles) && end.tlsSockets <= start.tlsSockets,
  ),
  measured: ({ on: { start, end } }) =>
    `handles ${start.handles.length} -> ${end.handles.length}, TLS sockets ${start.tlsSockets} -> ${end.tlsSockets}`,
});

export const HEAP_GROWTH = figure<ChurnReading>({
  id: 'churn.heapGrowth',
  group: 'Churn',
  title: ({ on }) => `retained heap growth per cycle after a ${on.warmup}-cycle warm-up (after gc)`,
  target: atMost(({ on }) => on.heapGrowthPerCycleBytes, heapAllowance, {
    label: (allowance) => `plain driver + a connection over the run (${Math.round(allowance)} B)`,
  }),
  measured: ({ on, plain }) =>
    `${Math.round(on.heapGrowthPerCycleBytes)} B/cycle (${mb(on.warm.heapUsedBytes)} -> ${mb(on.end.heapUsedBytes)}), ` +
    `plain driver ${Math.round(plain.heapGrowthPerCycleBytes)} B/cycle`,
});

export const FORGOTTEN_HELD = figure<ChurnReading>({
  id: 'churn.forgottenHeld',
  group: 'Churn',
  title: 'what the forgotten connections held until closed (else until exit)',
  target: informational('their own host state only'),
  measured: ({ on: { start, held, heapPerForgottenBytes }, plain }) =>
    `${held.forgottenAlive} alive (plain driver: ${plain.held.forgottenAlive}), ${held.provider.clients} shared clients, ` +
    `${held.provider.flagHosts} flag entries, ${held.provider.breakers} breakers, ${held.agents - start.agents} agents, ${kb(heapPerForgottenBytes)} heap each`,
});

export const churn: Part = {
  name: 'churn',
  emulator: true,
  async run(recorder: FigureRecorder, emulator: EmulatorProcess) {
    const spec = benchChurnSpec(emulator.endpoint, QUICK);
    progress(
      `churn: ${spec.cycles} connect/query/close cycles over ${spec.hosts} host names, 1 in ${spec.forgetEvery} never closed (plain driver, then telemetry on)`,
    );
    const env = { ...cleanEnv(), NODE_EXTRA_CA_CERTS: emulator.endpoint.caPath };
    const run = (kind: 'on' | 'plain') =>
      runJsonChild<ChurnResult>('churn.ts', [JSON.stringify({ ...spec, kind })], CHURN_NODE_FLAGS, env);
    const plain = await run('plain');
    const on = await run('on');
    recorder.results.churn = { on, plain };
    for (const definition of [LEFT_AFTER, HANDLES, HEAP_GROWTH, FORGOTTEN_HELD]) {
      recorder.record(definition, { on, plain });
    }
  },
};
