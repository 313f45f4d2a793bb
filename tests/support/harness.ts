import { LogLevel } from '@databricks/sql';
import type IDBSQLLogger from '@databricks/sql/dist/contracts/IDBSQLLogger';
import { DBSQLClient } from '../../lib';
import type { TelemetryConnectionOptions } from '../../lib';
import { Emulator } from '../../lib/emulator';
import TelemetryClientProvider from '../../lib/telemetry/TelemetryClientProvider';

export type Session = Awaited<ReturnType<DBSQLClient['openSession']>>;
export type Operation = Awaited<ReturnType<Session['executeStatement']>>;

/** One recorded logger line. */
export interface LogLine {
  level: LogLevel;
  message: string;
}

/** A logger that keeps every line (and adds no process-wide listeners, unlike DBSQLLogger). */
export class RecordingLogger implements IDBSQLLogger {
  readonly lines: LogLine[] = [];

  log(level: LogLevel, message: string): void {
    this.lines.push({ level, message });
  }

  /** Lines above debug (info, warn, error). */
  aboveDebug(): LogLine[] {
    return this.lines.filter((line) => line.level !== LogLevel.debug);
  }
}

/** Telemetry on, with a short flush interval; extra options win. */
export function telemetryOptions(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { telemetryEnabled: true, telemetryFlushIntervalMs: 50, ...extra };
}

export interface ConnectArgs {
  provider?: TelemetryClientProvider;
  logger?: IDBSQLLogger;
  /** Connection options spread over the emulator's and `telemetryOptions()`. */
  options?: Record<string, unknown>;
  /** Client-wide config (arrowEnabled, useLZ4Compression...). */
  config?: Record<string, unknown>;
}

/** Our DBSQLClient connected to the emulator, telemetry on unless `options` says otherwise. */
export async function connectClient(emulator: Emulator, args: ConnectArgs = {}): Promise<DBSQLClient> {
  const client = new DBSQLClient(
    { logger: args.logger ?? new RecordingLogger() },
    args.provider ?? new TelemetryClientProvider(),
  );
  Object.assign(client.getConfig(), args.config ?? {});
  await client.connect({
    ...emulator.connectOptions(),
    ...telemetryOptions(args.options),
  } as TelemetryConnectionOptions);
  return client;
}

/** Runs one statement to completion, returning its rows and the operation (closed). */
export async function runQuery(session: Session, sql: string): Promise<{ rows: unknown[]; operation: Operation }> {
  const operation = await session.executeStatement(sql);
  try {
    return { rows: await operation.fetchAll(), operation };
  } finally {
    await operation.close();
  }
}

/** The rejection of `promise`; fails when it resolves. */
export async function rejectionOf(promise: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await promise;
  } catch (error) {
    return error as Error & Record<string, unknown>;
  }
  throw new Error('expected a rejection');
}

export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    setTimeout(resolve, ms);
  });

const settled = (value: unknown): boolean => (Array.isArray(value) ? value.length > 0 : Boolean(value));

/** Polls `check` until it returns a truthy value (a non-empty array) or `timeoutMs` passes; returns the last value. */
export async function waitFor<T>(check: () => T, timeoutMs = 3000, intervalMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = check();
  while (!settled(value) && Date.now() < deadline) {
    await sleep(intervalMs);
    value = check();
  }
  return value;
}

/** The `sql_driver_log` of a decoded frontend log. */
export interface DriverLog {
  session_id?: string;
  sql_statement_id?: string;
  system_configuration?: Record<string, unknown>;
  driver_connection_params?: Record<string, unknown>;
  auth_type?: string;
  operation_latency_ms?: number;
  error_info?: { error_name?: string; stack_trace?: string };
  sql_operation?: {
    statement_type?: string;
    is_compressed?: boolean;
    execution_result?: string;
    retry_count?: number;
    chunk_details?: Record<string, number>;
    result_latency?: Record<string, number>;
    operation_detail?: {
      n_operation_status_calls?: number;
      operation_status_latency_millis?: number;
      operation_type?: string;
    };
  };
}

export function driverLog(log: unknown): DriverLog {
  return ((log as { entry?: { sql_driver_log?: DriverLog } }).entry?.sql_driver_log ?? {}) as DriverLog;
}

export function driverLogs(emulator: Emulator): DriverLog[] {
  return emulator.telemetry.logs().map(driverLog);
}

/** Logs of one statement, by operation id. */
export function statementLogs(emulator: Emulator, statementId: string): DriverLog[] {
  return driverLogs(emulator).filter((log) => log.sql_statement_id === statementId);
}

/** Connection logs (session id, no statement id, system configuration). */
export function connectionLogs(emulator: Emulator, sessionId?: string): DriverLog[] {
  return driverLogs(emulator).filter(
    (log) =>
      log.system_configuration !== undefined &&
      log.sql_statement_id === undefined &&
      (sessionId === undefined || log.session_id === sessionId),
  );
}

/** Waits until `count` logs of `statementId` arrived; returns them. */
export async function waitForStatementLogs(
  emulator: Emulator,
  statementId: string,
  count = 1,
  timeoutMs = 3000,
): Promise<DriverLog[]> {
  await waitFor(() => statementLogs(emulator, statementId).length >= count, timeoutMs);
  return statementLogs(emulator, statementId);
}

/** Decoded logs (as JSON text) of one session that carry an `error_info`. */
export function errorLogTexts(emulator: Emulator, sessionId: string): string[] {
  return emulator.telemetry
    .logs()
    .map((log) => JSON.stringify(log))
    .filter((text) => text.includes(sessionId) && text.includes('error_info'));
}
