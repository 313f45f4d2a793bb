/**
 * Outage memory (`BENCH_ONLY=outage`): one simulated hour at 1,000 statements/s against an
 * endpoint that fails (503 for 30 min, then hangs), in a child with --expose-gc and fake timers
 * (children/outage.ts): heap, drops and the circuit breaker's attempts.
 */
import type { OutageResult } from '../children/outage';
import { DEFAULT_TELEMETRY_CONFIG } from '../../lib/telemetry/types';
import { cleanEnv } from '../support/clients';
import { figure, FigureRecorder } from '../support/figures';
import { runJsonChild } from '../support/jsonChild';
import { QUICK } from '../support/mode';
import type { Part } from '../support/part';
import { progress } from '../support/progress';
import { max, median } from '../support/stats';
import { above, atMost, holds } from '../support/target';

interface OutageReading {
  result: OutageResult;
  minutes: number;
}

const dropped = ({ result }: OutageReading) => result.clientDropped + result.exporterDropped;

/** Upload attempts the circuit breaker lets through in a minute: its threshold, then one probe. */
const ATTEMPTS_PER_MINUTE = DEFAULT_TELEMETRY_CONFIG.circuitBreakerThreshold + 1;

export const HEAP_GROWTH = figure<OutageReading>({
  id: 'outage.heapGrowth',
  group: 'Outage',
  title: ({ minutes }) => `retained heap growth over ${minutes} simulated min (after gc, vs minute 2)`,
  target: atMost(({ result }) => result.maxGrowthMB, 4, { unit: 'MB' }),
  measured: ({ result }) =>
    `max +${result.maxGrowthMB.toFixed(2)} MB, end ${result.endGrowthMB >= 0 ? '+' : ''}${result.endGrowthMB.toFixed(2)} MB (baseline ${result.baselineMB.toFixed(1)} MB)`,
});

export const DROPS_COUNTED = figure<OutageReading>({
  id: 'outage.dropsCounted',
  group: 'Outage',
  title: ({ result }) => `drops counted (${result.statements.toLocaleString('en-US')} statement logs)`,
  target: holds<OutageReading>(
    'all accounted (<= 1 batch in flight)',
    ({ result }) => result.unaccounted >= 0 && result.unaccounted <= result.batchSize,
  ).and(above(dropped, 0, { unit: 'dropped' })),
  measured: (reading) => {
    const { result } = reading;
    return `${dropped(reading).toLocaleString('en-US')} dropped (queue ${result.clientDropped.toLocaleString('en-US')}, exporter ${result.exporterDropped.toLocaleString('en-US')}), ${result.queued} queued, ${result.unaccounted} in flight`;
  },
});

export const BREAKER_ATTEMPTS = figure<OutageReading>({
  id: 'outage.breakerAttempts',
  group: 'Outage',
  title: 'upload attempts per minute (circuit breaker)',
  target: atMost(({ result }) => max(result.attemptsPerMinute), ATTEMPTS_PER_MINUTE, { unit: 'in any minute' }),
  measured: ({ result, minutes }) => {
    const perMinute = result.attemptsPerMinute;
    return `max ${max(perMinute)}, median ${median(perMinute)}, total ${perMinute.reduce((a, b) => a + b, 0)} in ${minutes} min`;
  },
});

export const outage: Part = {
  name: 'outage',
  emulator: false,
  async run(recorder: FigureRecorder) {
    progress('outage: one simulated hour at 1,000 statements/s (503 for 30 min, then hanging)');
    const minutes = QUICK ? 6 : 60;
    const result = await runJsonChild<OutageResult>('outage.ts', [], ['--expose-gc'], {
      ...cleanEnv(),
      BENCH_OUTAGE_MINUTES: String(minutes),
    });
    recorder.results.outage = result;
    for (const definition of [HEAP_GROWTH, DROPS_COUNTED, BREAKER_ATTEMPTS]) {
      recorder.record(definition, { result, minutes });
    }
  },
};
