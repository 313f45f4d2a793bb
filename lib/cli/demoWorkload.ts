import type IDBSQLLogger from '@databricks/sql/dist/contracts/IDBSQLLogger';
import type IDBSQLSession from '@databricks/sql/dist/contracts/IDBSQLSession';
import type IOperation from '@databricks/sql/dist/contracts/IOperation';
import DBSQLClient, { TelemetryConnectionOptions } from '../driver/DBSQLClient';
import Progress from './progress';

/** Where and how to run the demo workload. */
export interface DemoWorkloadOptions {
  /** Host, path, token (and port, CA) of the emulator or a real workspace. */
  connection: TelemetryConnectionOptions;
  /** Extra telemetry options for every connection (flush interval, audit file...). */
  telemetry: Partial<TelemetryConnectionOptions>;
  /** Rows of the CloudFetch query. */
  cloudFetchRows: number;
  /** How long the slow query reports RUNNING on the emulator. */
  slowQueryMs: number;
  logger: IDBSQLLogger;
  progress: Progress;
}

export interface DemoWorkloadResult {
  connections: number;
  sessions: number;
  /** Statements and metadata calls started. */
  operations: number;
  /** Rows fetched by every operation. */
  rows: number;
  /** Rows of the CloudFetch query. */
  cloudFetchRows: number;
  /** Errors the workload caught on purpose (and any other), by class name. */
  caughtErrors: string[];
  durationMs: number;
}

/** Rows per `fetchChunk` of the CloudFetch query: memory stays bounded by one chunk. */
const FETCH_ROWS = 100_000;

function errorLabel(error: unknown): string {
  if (!(error instanceof Error)) {
    return String(error);
  }
  // OperationStateError carries the operation status: its SQLSTATE names the failure without the message.
  const { response } = error as { response?: { sqlState?: unknown; status?: { sqlState?: unknown } } };
  const sqlState = response?.sqlState ?? response?.status?.sqlState;
  return typeof sqlState === 'string' && sqlState !== ''
    ? `${error.constructor.name} (${sqlState})`
    : error.constructor.name;
}

/**
 * The demo workload, run through our `DBSQLClient` with telemetry on: three sessions of an
 * interactive client (small queries in columns and Arrow; metadata calls; a slow and two failing
 * queries) and a bulk client reading a multi-million-row CloudFetch result chunk by chunk.
 */
export async function runDemoWorkload(options: DemoWorkloadOptions): Promise<DemoWorkloadResult> {
  const startedAt = Date.now();
  const { progress } = options;
  const result: DemoWorkloadResult = {
    connections: 0,
    sessions: 0,
    operations: 0,
    rows: 0,
    cloudFetchRows: 0,
    caughtErrors: [],
    durationMs: 0,
  };

  const connect = async (label: string, extra: Partial<TelemetryConnectionOptions> = {}): Promise<DBSQLClient> => {
    progress.step(`connecting (${label})`);
    const client = new DBSQLClient({ logger: options.logger });
    await client.connect({
      ...options.connection,
      telemetryEnabled: true,
      ...options.telemetry,
      ...extra,
    } as TelemetryConnectionOptions);
    result.connections += 1;
    return client;
  };

  const withSession = async (client: DBSQLClient, body: (session: IDBSQLSession) => Promise<void>): Promise<void> => {
    const session = await client.openSession();
    result.sessions += 1;
    try {
      await body(session);
    } finally {
      await session.close();
    }
  };

  /** Reads an operation to the end, a chunk at a time, then closes it. */
  const drain = async (operation: IOperation, onRows?: (rows: number) => void): Promise<number> => {
    let rows = 0;
    try {
      do {
        const chunk = await operation.fetchChunk({ maxRows: FETCH_ROWS, disableBuffering: true });
        rows += chunk.length;
        onRows?.(rows);
      } while (await operation.hasMoreRows());
    } finally {
      await operation.close();
    }
    result.rows += rows;
    return rows;
  };

  const run = async (session: IDBSQLSession, sql: string): Promise<number> => {
    result.operations += 1;
    return drain(await session.executeStatement(sql));
  };

  const interactive = await connect('interactive client');
  try {
    await withSession(interactive, async (session) => {
      progress.step('session 1: SELECT 1 x5, range(100) in columns x3 and in Arrow x3');
      for (let i = 0; i < 5; i += 1) {
        await run(session, 'SELECT 1');
      }
      for (let i = 0; i < 3; i += 1) {
        await run(session, 'SELECT * FROM range(100) /* emulator: format=columns */');
      }
      for (let i = 0; i < 3; i += 1) {
        await run(session, 'SELECT * FROM range(100) /* emulator: format=arrow */');
      }
    });

    await withSession(interactive, async (session) => {
      const calls: Array<[string, () => Promise<IOperation>]> = [
        ['type info', () => session.getTypeInfo()],
        ['catalogs', () => session.getCatalogs()],
        ['schemas', () => session.getSchemas({ catalogName: 'main' })],
        ['tables', () => session.getTables({ catalogName: 'main', schemaName: 'default' })],
        ['table types', () => session.getTableTypes()],
        ['columns', () => session.getColumns({ catalogName: 'main', schemaName: 'default', tableName: 'orders' })],
        ['functions', () => session.getFunctions({ catalogName: 'main', schemaName: 'default', functionName: '%' })],
        [
          'primary keys',
          () => session.getPrimaryKeys({ catalogName: 'main', schemaName: 'default', tableName: 'orders' }),
        ],
        [
          'cross reference',
          () =>
            session.getCrossReference({
              parentCatalogName: 'main',
              parentSchemaName: 'default',
              parentTableName: 'customers',
              foreignCatalogName: 'main',
              foreignSchemaName: 'default',
              foreignTableName: 'orders',
            }),
        ],
      ];
      for (const [name, call] of calls) {
        progress.step(`session 2: metadata: ${name}`);
        result.operations += 1;
        try {
          await drain(await call());
        } catch (error) {
          result.caughtErrors.push(errorLabel(error));
        }
      }
    });

    await withSession(interactive, async (session) => {
      progress.step(`session 3: a slow query (${options.slowQueryMs} ms)`);
      await run(session, `SELECT 2 /* emulator: sleep=${options.slowQueryMs} */`);
      for (const sql of ['SELEC 1 FROM nowhere', 'SELECT id FROM main.default.no_such_table']) {
        progress.step(`session 3: a failing query: ${sql}`);
        try {
          await run(session, sql);
          result.caughtErrors.push('(no error)');
        } catch (error) {
          result.caughtErrors.push(errorLabel(error));
        }
      }
    });
  } finally {
    progress.step('closing the interactive client (final telemetry flush)');
    await interactive.close();
  }

  // A separate client: rows are parsed but not turned into objects, so a few million cost little.
  const bulk = await connect('bulk client', { disableRowMaterialization: true });
  try {
    await withSession(bulk, async (session) => {
      const total = options.cloudFetchRows.toLocaleString('en-US');
      progress.step(`session 4: CloudFetch: SELECT * FROM range(${options.cloudFetchRows})`);
      result.operations += 1;
      const operation = await session.executeStatement(
        `SELECT * FROM range(${options.cloudFetchRows}) /* emulator: format=cloudfetch chunks=8 */`,
      );
      result.cloudFetchRows = await drain(operation, (rows) => {
        progress.update(`session 4: CloudFetch: ${rows.toLocaleString('en-US')} of ${total} rows`);
      });
    });
  } finally {
    progress.step('closing the bulk client (final telemetry flush)');
    await bulk.close();
  }

  result.durationMs = Date.now() - startedAt;
  return result;
}
