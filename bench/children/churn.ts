/**
 * Connection churn (tests/support/churn.ts): connect / openSession / one query / close cycles
 * across many host names resolved to the emulator, one in `forgetEvery` never closed. Run with
 * `CHURN_NODE_FLAGS`. Prints one JSON line (`ChurnResult`) on 'exit', so it also tells what was
 * still held then and how long the process took to exit after its work. Argument: a JSON
 * `ChurnSpec`. bench/run.ts imports the spec and the rows from here: nothing of the driver is
 * loaded unless this file runs as the child.
 */
import { writeSync } from 'fs';
import { performance } from 'perf_hooks';
import type { EmulatorEndpoint } from '../support/emulatorProcess';
import type { ChurnResult, ChurnSpec } from '../../tests/support/churn';

export type { ChurnResult, ChurnSpec };

/**
 * Node flags of the churn child: gc on demand; the interpreter only, with bytecode kept once
 * compiled. V8 otherwise drops the bytecode of functions idle for a few collections and adds
 * optimized code as functions get hot, and either moves the heap between two readings by more
 * * than a small leak per cycle would. No warning for the experimental `v8.queryObjects`.
 */
export const CHURN_NODE_FLAGS = [
  '--expose-gc',
  '--no-flush-bytecode',
  '--no-opt',
  '--no-sparkplug',
  '--disable-warning=ExperimentalWarning',
];

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

export interface ChurnRow {
  figure: string;
  target: string;
  measured: string;
  pass?: boolean;
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

/** The bench rows from a telemetry-on run and a plain-driver run of one spec. */
export function churnRows(on: ChurnResult, plain: ChurnResult): ChurnRow[] {
  const { start, held, end } = on;
  const left = end.provider;
  const measured = on.cycles - on.warmup;
  // As in the churn test: over the plain driver's own growth, all closed cycles together may
  // retain less than one open connection's telemetry does.
  const allowance = Math.max(plain.heapGrowthPerCycleBytes, 0) + on.heapPerForgottenBytes / measured;
  const sameHandles = JSON.stringify(end.handles) === JSON.stringify(start.handles);
  return [
    {
      figure: `left after ${on.cycles.toLocaleString('en-US')} cycles over ${on.hosts} host names (1 in ${on.forgetEvery} forgotten, closed late)`,
      target: 'no client, flag entry, breaker, connection or agent',
      measured:
        `${left.clients} clients, ${left.flagHosts} flag entries, ${left.breakers} breakers, ` +
        `${end.telemetryConnections - start.telemetryConnections} telemetry connections, ${end.agents - start.agents} agents ` +
        `(cycles ${on.cyclesSeconds.toFixed(1)} s, plain driver ${plain.cyclesSeconds.toFixed(1)} s)`,
      pass:
        Object.values(left).every((count) => count === 0) &&
        end.telemetryConnections === start.telemetryConnections &&
        end.agents === start.agents,
    },
    {
      figure: 'open handles and TLS sockets, start -> end',
      target: 'back to the start',
      measured: `handles ${start.handles.length} -> ${end.handles.length}, TLS sockets ${start.tlsSockets} -> ${end.tlsSockets}`,
      pass: sameHandles && end.tlsSockets <= start.tlsSockets,
    },
    {
      figure: `retained heap growth per cycle after a ${on.warmup}-cycle warm-up (after gc)`,
      target: `<= plain driver + a connection over the run (${Math.round(allowance)} B)`,
      measured:
        `${Math.round(on.heapGrowthPerCycleBytes)} B/cycle (${mb(on.warm.heapUsedBytes)} -> ${mb(end.heapUsedBytes)}), ` +
        `plain driver ${Math.round(plain.heapGrowthPerCycleBytes)} B/cycle`,
      pass: on.heapGrowthPerCycleBytes <= allowance,
    },
    {
      figure: 'what the forgotten connections held until closed (else until exit)',
      target: 'their own host state only',
      measured:
        `${held.forgottenAlive} alive (plain driver: ${plain.held.forgottenAlive}), ${held.provider.clients} shared clients, ` +
        `${held.provider.flagHosts} flag entries, ${held.provider.breakers} breakers, ${held.agents - start.agents} agents, ${kb(on.heapPerForgottenBytes)} heap each`,
    },
  ];
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2]) as ChurnSpec;
  const [{ runChurn }, { default: TelemetryClientProvider }] = await Promise.all([
    import('../../tests/support/churn'),
    import('../../lib/telemetry/TelemetryClientProvider'),
  ]);
  const provider = new TelemetryClientProvider();
  const result = await runChurn(spec, provider);
  const doneAt = performance.now();
  // Nothing is closed here: the process must end by itself, whatever is still open.
  process.once('exit', () => {
    result.atExit = { provider: provider.getStats(), exitAfterWorkMs: Math.round(performance.now() - doneAt) };
    writeSync(1, `${JSON.stringify(result)}\n`);
  });
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`churn: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exitCode = 1;
  });
}
