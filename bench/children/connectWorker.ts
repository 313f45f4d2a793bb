/**
 * Connect latency: `connect()` + the first `openSession()`, telemetry on against a feature-flag
 * endpoint that hangs (the parent set the fault) vs telemetry off, interleaved in this one process
 * (alternating which side goes first), each on a fresh client. Prints one JSON line.
 * Argument: JSON `{ endpoint, rounds }`.
 */
import { performance } from 'perf_hooks';
import { ClientKind, connect } from '../support/clients';
import type { EmulatorEndpoint } from '../support/emulatorProcess';

export interface ConnectResult {
  onMs: number[];
  offMs: number[];
  /** Slowest close of a telemetry-on client (not part of the figure). */
  onCloseMaxMs: number;
}

async function once(kind: ClientKind, endpoint: EmulatorEndpoint): Promise<{ ms: number; closeMs: number }> {
  const started = performance.now();
  const client = await connect(kind, endpoint, {
    // A short close deadline only so the bench does not wait on the hanging flag at every close.
    telemetry: { telemetryCloseTimeoutMs: 100 },
  });
  const session = await client.openSession();
  const ms = performance.now() - started;
  const closing = performance.now();
  await session.close();
  await client.close();
  return { ms, closeMs: performance.now() - closing };
}

async function main(): Promise<void> {
  // The worker holds its own event loop open: with telemetry on, nothing else may hold it while
  // `await client.close()` is pending (see the close/exit figures), and the process would exit early.
  const hold = setInterval(() => undefined, 1000);
  const { endpoint, rounds } = JSON.parse(process.argv[2]) as { endpoint: EmulatorEndpoint; rounds: number };
  // Warm-up: module loading, TLS and JIT are not what is measured.
  await once('off', endpoint);
  await once('on', endpoint);
  const result: ConnectResult = { onMs: [], offMs: [], onCloseMaxMs: 0 };
  for (let i = 0; i < rounds; i += 1) {
    const order: ClientKind[] = i % 2 === 0 ? ['on', 'off'] : ['off', 'on'];
    for (const kind of order) {
      const { ms, closeMs } = await once(kind, endpoint);
      if (kind === 'on') {
        result.onMs.push(ms);
        result.onCloseMaxMs = Math.max(result.onCloseMaxMs, closeMs);
      } else {
        result.offMs.push(ms);
      }
    }
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
  clearInterval(hold);
}

main().catch((error: unknown) => {
  process.stderr.write(`connect worker: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exitCode = 1;
});
