/**
 * OpenTelemetry: the driver's connects, session opens and statements as spans and metrics in the
 * application's own OpenTelemetry providers, under the stable database semantic conventions.
 * Three ways:
 *   (a) the driver's own client, unchanged: register `DatabricksSqlInstrumentation` and every
 *       `DBSQLClient` from `@databricks/sql` is traced;
 *   (b) this package's `DBSQLClient` with `telemetryOpenTelemetry: true`; uploads to Databricks
 *       (`telemetryEnabled`) are a separate switch and stay off here;
 *   (c) no code at all: (a) from the command line, for the application's own providers
 *         node --require dbsql-telemetry/register app.js
 *         node --import dbsql-telemetry/register app.mjs   # an ES-module application
 * The providers here keep what they get in memory and the example prints it; an application
 * exports it instead (OTLP, console, ...). In an application the imports from '../lib' read
 * `from 'dbsql-telemetry'`, and the connection is a real workspace's, not the local emulator's.
 *
 * Run: node -r ts-node/register/transpile-only examples/openTelemetry.ts
 */
import { metrics, trace } from '@opentelemetry/api';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { DBSQLClient as DriverDBSQLClient } from '@databricks/sql';
import type IDBSQLSession from '@databricks/sql/dist/contracts/IDBSQLSession';
import { DBSQLClient, DBSQLLogger, DatabricksSqlInstrumentation, LogLevel } from '../lib';
import { Emulator, startEmulator } from '../lib/emulator';

const logger = new DBSQLLogger({ level: LogLevel.error });

// The application's OpenTelemetry setup: its providers, registered globally.
const spans = new InMemorySpanExporter();
const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
const metricExporter = new InMemoryMetricExporter(AggregationTemporality.DELTA);
const metricReader = new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 60_000 });
const meterProvider = new MeterProvider({ readers: [metricReader] });
trace.setGlobalTracerProvider(tracerProvider);
metrics.setGlobalMeterProvider(meterProvider);

async function runQuery(session: IDBSQLSession, sql: string): Promise<void> {
  try {
    const operation = await session.executeStatement(sql);
    await operation.fetchAll();
    await operation.close();
  } catch (error) {
    console.log(`  statement failed: ${(error as Error).message}`);
  }
}

/** Prints what the providers got since the last call, and returns the span names. */
async function report(label: string): Promise<string[]> {
  console.log(`${label}:`);
  const finished = spans.getFinishedSpans();
  for (const span of finished) {
    const shown = Object.entries(span.attributes).filter(
      ([name]) => !/^(server\.|databricks\.(statement|session)\.id)/.test(name),
    );
    const events = span.events.length > 0 ? `, ${span.events.length} x ${span.events[0].name}` : '';
    console.log(`  span ${span.name}: ${shown.map(([name, value]) => `${name}=${String(value)}`).join(' ')}${events}`);
  }
  await metricReader.forceFlush();
  for (const { scopeMetrics } of metricExporter.getMetrics()) {
    for (const { metrics: instruments } of scopeMetrics) {
      for (const { descriptor, dataPoints } of instruments) {
        const recorded = dataPoints.reduce(
          (sum, { value }) => sum + (typeof value === 'object' && 'count' in value ? value.count : 0),
          0,
        );
        console.log(`  metric ${descriptor.name} (${descriptor.unit}): ${recorded} recorded`);
      }
    }
  }
  spans.reset();
  metricExporter.reset();
  return finished.map((span) => span.name);
}

/** (a) The driver's own client, traced by the instrumentation: the application's code is unchanged. */
async function instrumentedDriver(emulator: Emulator): Promise<boolean> {
  // At start-up, before the application's first connect(); or in NodeSDK's `instrumentations`.
  const instrumentation = new DatabricksSqlInstrumentation({
    // Enrich statement spans with what only the application knows.
    requestHook: (span) => span.setAttribute('app.job', 'nightly-report'),
    responseHook: (span, info) => span.setAttribute('app.large_result', (info.rowsReturned ?? 0) > 1000),
  });
  registerInstrumentations({ instrumentations: [instrumentation] });

  const client = new DriverDBSQLClient({ logger });
  await client.connect(emulator.connectOptions());
  const session = await client.openSession({ initialCatalog: 'main', initialSchema: 'default' });
  await runQuery(session, 'SELECT 1');
  await runQuery(session, '/* emulator: format=cloudfetch chunks=3 */ SELECT * FROM range(3000)');
  await runQuery(session, 'SELECT * FROM missing_table');
  const tables = await session.getTables({ catalogName: 'main', schemaName: 'default' });
  await tables.fetchAll();
  await tables.close();
  await session.close();
  await client.close();

  instrumentation.disable(); // instrumentations can be switched off (and on) at run time
  const names = await report('(a) @databricks/sql DBSQLClient under DatabricksSqlInstrumentation');
  return ['CONNECT', 'CREATE_SESSION', 'EXECUTE_STATEMENT', 'LIST_TABLES'].every((name) => names.includes(name));
}

/** (b) This package's client with the OpenTelemetry output on and the upload to Databricks off. */
async function ownClient(emulator: Emulator): Promise<boolean> {
  emulator.resetRequestCounts();
  const client = new DBSQLClient({
    logger,
    telemetryEnabled: false, // nothing uploaded to Databricks, no feature-flag request
    telemetryOpenTelemetry: true, // spans and metrics to the global providers
    telemetryOpenTelemetryQueryText: true, // opt-in db.query.text, each literal replaced by ?
  });
  await client.connect(emulator.connectOptions());
  const session = await client.openSession();
  await runQuery(session, 'SELECT 42');
  await session.close();
  await client.close();

  const names = await report('(b) dbsql-telemetry DBSQLClient with telemetryOpenTelemetry: true');
  const counts = emulator.requestCounts();
  console.log(
    `  Databricks: ${counts.telemetryExt + counts.telemetryUnauth} uploads, ${counts.featureFlags} flag requests`,
  );
  return (
    names.includes('EXECUTE_STATEMENT') && counts.telemetryExt + counts.telemetryUnauth + counts.featureFlags === 0
  );
}

async function main(): Promise<void> {
  const emulator = await startEmulator();
  try {
    const instrumented = await instrumentedDriver(emulator);
    const own = await ownClient(emulator);
    if (!instrumented || !own) {
      process.exitCode = 1;
    }
  } finally {
    await emulator.close();
    await tracerProvider.shutdown();
    await meterProvider.shutdown();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
