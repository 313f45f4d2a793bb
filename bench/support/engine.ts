import type IDBSQLLogger from '@databricks/sql/dist/contracts/IDBSQLLogger';
import type ITelemetryContext from '../../lib/telemetry/contracts/ITelemetryContext';
import MetricsAggregator from '../../lib/telemetry/MetricsAggregator';
import TelemetryEventEmitter from '../../lib/telemetry/TelemetryEventEmitter';
import { DEFAULT_TELEMETRY_CONFIG, TelemetryConfiguration, TelemetryLog } from '../../lib/telemetry/types';

/** A logger that drops everything, as an application logging at `error` would. */
export const silentLogger: IDBSQLLogger = { log: () => undefined };

/** An engine context with telemetry on; HTTP is never reached through it unless a test wants it. */
export function engineContext(overrides: Partial<TelemetryConfiguration> = {}): ITelemetryContext {
  const config: TelemetryConfiguration = { ...DEFAULT_TELEMETRY_CONFIG, enabled: true, ...overrides };
  return {
    getLogger: () => silentLogger,
    getTelemetryConfig: () => config,
    getConnectionProvider: async () => ({ getAgent: async () => undefined }),
  };
}

/** `count` distinct operation GUIDs in the driver's UUID form. */
export function statementIds(count: number, seed = 0): string[] {
  const ids: string[] = [];
  for (let i = 0; i < count; i += 1) {
    const hex = (seed * 1_000_003 + i).toString(16).padStart(12, '0');
    ids.push(`01ef${hex.slice(0, 4)}-0000-4000-8000-${hex}`);
  }
  return ids;
}

/**
 * The logs the real emitter and aggregator make, one per statement id: `emit` emits one
 * statement's events for the id at `index`. Throws unless every statement made exactly one log.
 */
export function aggregatedLogs(
  ids: readonly string[],
  emit: (emitter: TelemetryEventEmitter, statementId: string, index: number) => void,
): TelemetryLog[] {
  const context = engineContext();
  const emitter = new TelemetryEventEmitter(context);
  const logs: TelemetryLog[] = [];
  const aggregator = new MetricsAggregator(context, emitter, { enqueue: (log) => logs.push(log) });
  ids.forEach((statementId, index) => emit(emitter, statementId, index));
  aggregator.close();
  if (logs.length !== ids.length) {
    throw new Error(`bench: the aggregator made ${logs.length} logs for ${ids.length} statements`);
  }
  return logs;
}

export const SESSION_ID = '01ef0000-1111-4222-8333-444455556666';
export const USER_AGENT = 'NodejsDatabricksSqlConnector/2.1.0 (Node.js 20; Linux x64) dbsql-telemetry/0.1.0';
