import { readFileSync } from 'fs';
import { parseArgs } from 'util';
import { DBSQLLogger, LogLevel } from '@databricks/sql';
import type IDBSQLLogger from '@databricks/sql/dist/contracts/IDBSQLLogger';
import type { TelemetryConnectionOptions } from '../driver/DBSQLClient';
import { startEmulator } from '../emulator';
import { runDemoWorkload, DemoWorkloadResult } from './demoWorkload';
import Progress, { ProgressStream } from './progress';
import { formatBytes, renderSummary } from './render';
import { decodeRecordedUploads, decodeTelemetryText, DecodedInput, factsOf } from './telemetryInput';
import { summarize, TelemetrySummary } from './telemetrySummary';

export const DEMO_USAGE = `Usage: dbsql-telemetry demo [options]

Starts the workspace emulator in this process, runs a realistic workload through the
telemetry DBSQLClient (sessions, small queries in columns and Arrow, a multi-million-row
CloudFetch query, a slow and failing queries, metadata calls), then prints what the
telemetry pipeline uploaded, decoded from the emulator's collector.

Options:
  --rows N              rows of the CloudFetch query (default 3000000)
  --slow-ms N           how long the slow query runs on the emulator (default 1500)
  --flush-interval-ms N telemetryFlushIntervalMs (default 250)
  --audit-file F        pass telemetryAuditFile=F to every connection
  --json                print the summary as JSON instead of a table
  --verbose             driver log lines (debug) on stdout
  --host H --path P --token T [--port N]
                        run the same workload against a real workspace instead; the
                        collector cannot be read then, so the summary comes from the
                        audit file when --audit-file is given`;

/** Where the command writes: the summary to `out`, progress to `err`. */
export interface DemoIO {
  out: (line: string) => void;
  err: ProgressStream;
}

const DEFAULT_IO: DemoIO = { out: (line) => console.log(line), err: process.stderr };

/** Logs nothing: the demo's progress line owns stderr. */
const QUIET_LOGGER: IDBSQLLogger = { log: () => undefined };

function positiveInt(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) {
    return fallback;
  }
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) {
    throw new Error(`Invalid --${name}: ${raw}`);
  }
  return value;
}

function workloadLine(result: DemoWorkloadResult): string {
  return (
    `workload: ${result.connections} connections, ${result.sessions} sessions, ${result.operations} operations, ` +
    `${result.rows.toLocaleString('en-US')} rows (${result.cloudFetchRows.toLocaleString('en-US')} over CloudFetch) ` +
    `in ${(result.durationMs / 1000).toFixed(1)} s; errors caught: ${result.caughtErrors.join(', ') || 'none'}`
  );
}

function print(
  io: DemoIO,
  json: boolean,
  title: string,
  summary: TelemetrySummary,
  extra: Record<string, unknown>,
): void {
  if (json) {
    io.out(JSON.stringify({ ...extra, summary }));
    return;
  }
  io.out('');
  io.out(title);
  io.out('');
  renderSummary(summary).forEach((line) => io.out(line));
}

/** `dbsql-telemetry demo`: returns the exit code. */
export async function demoCommand(args: string[], io: DemoIO = DEFAULT_IO): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      host: { type: 'string' },
      path: { type: 'string' },
      token: { type: 'string' },
      port: { type: 'string' },
      'audit-file': { type: 'string' },
      rows: { type: 'string' },
      'slow-ms': { type: 'string' },
      'flush-interval-ms': { type: 'string' },
      json: { type: 'boolean' },
      verbose: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    io.out(DEMO_USAGE);
    return 0;
  }
  const real = values.host !== undefined || values.path !== undefined || values.token !== undefined;
  if (real && (!values.host || !values.path || !values.token)) {
    throw new Error('--host, --path and --token go together');
  }
  const auditFile = values['audit-file'];
  const telemetry: Partial<TelemetryConnectionOptions> = {
    telemetryFlushIntervalMs: positiveInt('flush-interval-ms', values['flush-interval-ms'], 250),
    ...(auditFile ? { telemetryAuditFile: auditFile } : {}),
  };
  const progress = new Progress(io.err);
  const base = {
    telemetry,
    cloudFetchRows: positiveInt('rows', values.rows, 3_000_000),
    slowQueryMs: positiveInt('slow-ms', values['slow-ms'], 1500),
    logger: values.verbose ? new DBSQLLogger({ level: LogLevel.debug }) : QUIET_LOGGER,
    progress,
  };
  const json = values.json === true;

  if (real) {
    const port = values.port === undefined ? undefined : positiveInt('port', values.port, 443);
    const startedAt = Date.now();
    const result = await runDemoWorkload({
      ...base,
      connection: { host: values.host!, path: values.path!, token: values.token!, ...(port ? { port } : {}) },
    });
    progress.done('done');
    if (!json) {
      io.out(workloadLine(result));
    }
    if (!auditFile) {
      io.out(
        json
          ? JSON.stringify({ workload: result, summary: null })
          : "A real workspace's telemetry collector cannot be read; run with --audit-file F to see what was sent.",
      );
      return 0;
    }
    // Every client is closed: the audit file holds every log that was sent.
    let decoded: DecodedInput;
    try {
      decoded = decodeTelemetryText(readFileSync(auditFile, 'utf8'));
    } catch (error) {
      io.out(
        `Could not read the audit file: ${(error as Error).message} (did the server feature flag allow telemetry?)`,
      );
      return 0;
    }
    // The audit file may hold earlier runs: keep this run's logs.
    const logs = decoded.logs.filter(({ log }) => (factsOf(log).timestamp ?? startedAt) >= startedAt - 1000);
    print(
      io,
      json,
      `What was sent (decoded from the audit file ${auditFile}; upload sizes are not in it)`,
      summarize({ uploads: [], logs }),
      {
        workload: result,
      },
    );
    return 0;
  }

  progress.step('starting the workspace emulator');
  const emulator = await startEmulator();
  try {
    const result = await runDemoWorkload({ ...base, connection: emulator.connectOptions() });
    progress.done(`done: ${emulator.telemetry.requests().length} telemetry uploads recorded`);
    const decoded = decodeRecordedUploads(emulator.telemetry.requests());
    const summary = summarize(decoded);
    const counts = emulator.requestCounts();
    if (!json) {
      io.out(workloadLine(result));
    }
    print(io, json, "What was uploaded (decoded from the emulator's telemetry collector)", summary, {
      workload: result,
      requestCounts: counts,
    });
    if (!json) {
      io.out(
        `emulator: ${counts.thrift} Thrift calls, ${counts.cloudFetch} CloudFetch downloads, ` +
          `${counts.featureFlags} feature-flag requests, ${counts.telemetryExt} /telemetry-ext and ` +
          `${counts.telemetryUnauth} /telemetry-unauth uploads (${formatBytes(summary.uploads.totalBytes)})`,
      );
    }
    decoded.problems.forEach((problem) => io.out(`warning: ${problem.source}: ${problem.reason}`));
    if (summary.logs === 0) {
      io.out('error: the collector received no telemetry');
      return 1;
    }
    return 0;
  } finally {
    await emulator.close();
  }
}
