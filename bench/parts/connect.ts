/**
 * Connect latency (`BENCH_ONLY=connect`): `connect()` + the first `openSession()` with the
 * feature-flag endpoint hanging, telemetry on against off, interleaved in one child
 * (children/connectWorker.ts).
 */
import type { ConnectResult } from '../children/connectWorker';
import { EmulatorProcess, requestsBetween } from '../support/emulatorProcess';
import { figure, FigureRecorder } from '../support/figures';
import { runJsonChild } from '../support/jsonChild';
import { QUICK } from '../support/mode';
import type { Part } from '../support/part';
import { progress } from '../support/progress';
import { median } from '../support/stats';
import { atMost, guard } from '../support/target';

interface ConnectReading {
  /** Medians, ms. */
  on: number;
  off: number;
  rounds: number;
  /** Feature-flag requests that hung meanwhile: none would mean the fault was never met. */
  flagRequests: number;
}

export const CONNECT_LATENCY = figure<ConnectReading>({
  id: 'connect.flagHanging',
  group: 'Connect',
  title: (r) => `connect() + openSession(), flag endpoint hanging (${r.flagRequests} flag requests hung)`,
  target: atMost<ConnectReading>(
    (r) => r.on,
    (r) => r.off + Math.max(2, r.off * 0.05),
    {
      name: 'on',
      label: () => 'off + max(2 ms, 5%)',
    },
  ).and(guard((r) => r.flagRequests > 0)),
  measured: (r) => `on ${r.on.toFixed(1)} ms vs off ${r.off.toFixed(1)} ms (median of ${r.rounds})`,
});

export const connect: Part = {
  name: 'connect',
  emulator: true,
  async run(recorder: FigureRecorder, emulator: EmulatorProcess) {
    const rounds = QUICK ? 5 : 20;
    progress(`connect: connect() + openSession(), feature flags hanging, ${rounds} each side`);
    const countsBefore = await emulator.requestCounts();
    await emulator.setFault('featureFlags', { kind: 'hang', times: 'forever' });
    let result: ConnectResult;
    try {
      result = await runJsonChild<ConnectResult>(
        'connectWorker.ts',
        [JSON.stringify({ endpoint: emulator.endpoint, rounds })],
        [],
      );
    } finally {
      await emulator.clearFaults('featureFlags');
    }
    const flagRequests = requestsBetween(countsBefore, await emulator.requestCounts()).featureFlags ?? 0;
    const on = median(result.onMs);
    const off = median(result.offMs);
    recorder.results.connect = { ...result, flagRequests, medianOn: on, medianOff: off };
    recorder.record(CONNECT_LATENCY, { on, off, rounds, flagRequests });
  },
};
