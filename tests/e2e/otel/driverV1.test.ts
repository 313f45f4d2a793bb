import { expect } from 'chai';
import fs from 'fs';
import path from 'path';
import { Emulator, OAUTH_HOST, startEmulator } from '../../../lib/emulator';
import { DRIVER_V1_SOURCE, DriverCopy, driverV1Copy } from '../../support/driverCopy';
import { CollectedTelemetry, STATUS_ERROR, STATUS_UNSET, histogram, statementSpans } from '../../support/otelSdk';
import { FIXTURES, ROOT, emulatorEnv, resultOf, runNode } from './support';

/*
 * The instrumentation on driver 1.x: a child process in which `@databricks/sql` really is the
 * 1.17 driver, at a path ending in `node_modules/@databricks/sql/` (a copy of the installed npm
 * alias `databricks-sql-v1`), which is how require-in-the-middle recognizes the module. The
 * instrumentation itself comes from lib/ and resolves driver 2.x for its own use, as an installed
 * dbsql-telemetry does beside an application that stays on 1.x.
 */

interface V1Result extends CollectedTelemetry {
  driverVersion: string;
  driverMain: string;
  wrappedAtLoad: string[];
  wrappedAfterDisable: string[];
  builtInTelemetryEnabled: boolean;
  rows: (number | string)[];
}

interface DriverLogShape {
  sql_statement_id?: string;
  system_configuration?: { driver_version?: string };
}

const WRAPPED = ['connect', 'openSession', 'close', 'getTelemetryEmitter', 'getTelemetryAggregator'];

describe('e2e OTel: DatabricksSqlInstrumentation on driver 1.x (child process)', function () {
  this.timeout(40_000);

  let emulator: Emulator;
  let copy: DriverCopy;

  before(async () => {
    emulator = await startEmulator();
    copy = driverV1Copy();
  });

  after(async () => {
    await emulator.close();
  });

  beforeEach(() => {
    emulator.resetRequestCounts();
    emulator.telemetry.clear();
  });

  async function runApp(env: NodeJS.ProcessEnv = {}): Promise<V1Result> {
    const run = await runNode(['-r', 'ts-node/register/transpile-only', path.join(FIXTURES, 'driverV1App.ts')], ROOT, {
      ...emulatorEnv(emulator),
      DRIVER_PROJECT_DIR: copy.projectDir,
      ...env,
    });
    return resultOf(run) as unknown as V1Result;
  }

  const driverLogs = () =>
    emulator.telemetry
      .logs()
      .map((log) => (log as { entry?: { sql_driver_log?: DriverLogShape } }).entry?.sql_driver_log ?? {});

  it('the copy is driver 1.x, found by its package name, with its dependencies resolving from the repository', () => {
    expect(copy.version).to.match(/^1\./);
    expect(copy.driverDir.split(path.sep).slice(-3)).to.deep.equal(['node_modules', '@databricks', 'sql']);
    expect(require.resolve('@databricks/sql', { paths: [copy.projectDir] })).to.equal(
      path.join(copy.driverDir, 'dist', 'index.js'),
    );
    // Each dependency resolves as it does for the installed alias: its own nested copy, or the repository's.
    const { dependencies } = JSON.parse(fs.readFileSync(path.join(DRIVER_V1_SOURCE, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    expect(Object.keys(dependencies)).not.to.deep.equal([]);
    for (const name of Object.keys(dependencies)) {
      const fromAlias = require.resolve(name, { paths: [DRIVER_V1_SOURCE] });
      const expected = fromAlias.startsWith(DRIVER_V1_SOURCE + path.sep)
        ? path.join(copy.driverDir, path.relative(DRIVER_V1_SOURCE, fromAlias))
        : fromAlias;
      expect(require.resolve(name, { paths: [copy.driverDir] }), name).to.equal(expected);
    }
  });

  it('reports connect, session open, statements (CloudFetch, polled, failing) and both metrics', async () => {
    const result = await runApp();
    expect(result.driverVersion).to.equal(copy.version);
    expect(result.driverMain.startsWith(copy.driverDir + path.sep)).to.equal(true);
    expect(result.wrappedAtLoad).to.deep.equal(WRAPPED);
    expect(result.wrappedAfterDisable).to.deep.equal([]);
    expect(result.builtInTelemetryEnabled, "the driver's own setting, untouched").to.equal(true);
    expect(result.rows.slice(0, 4)).to.deep.equal([1, 5, 3000, 7]);
    expect(result.rows[4]).to.match(/TABLE_OR_VIEW_NOT_FOUND/);

    const server = { 'server.address': emulator.host, 'server.port': emulator.port };
    expect(result.spans.map((span) => span.name)).to.deep.equal([
      'CONNECT',
      'CREATE_SESSION',
      ...Array(5).fill('EXECUTE_STATEMENT'),
    ]);
    expect(result.spans[0].attributes).to.deep.equal({
      'db.system.name': 'databricks',
      'db.operation.name': 'CONNECT',
      ...server,
    });
    expect(result.spans[1].attributes).to.deep.equal({
      'db.system.name': 'databricks',
      'db.operation.name': 'CREATE_SESSION',
      ...server,
    });
    const [one, five, cloudFetch, polled, failed] = statementSpans(result.spans);
    for (const span of [one, five, cloudFetch, polled, failed]) {
      expect(span.scope).to.equal('dbsql-telemetry');
      expect(span.attributes).to.include({
        'db.system.name': 'databricks',
        'db.operation.name': 'EXECUTE_STATEMENT',
        'db.namespace': 'main.default',
        ...server,
      });
    }
    expect([one, five, cloudFetch, polled].map((span) => span.attributes['db.response.returned_rows'])).to.deep.equal([
      1, 5, 3000, 7,
    ]);
    expect([one, five, cloudFetch, polled].map((span) => span.status)).to.deep.equal(Array(4).fill(STATUS_UNSET));
    expect(cloudFetch.events.map((event) => event.name)).to.deep.equal(Array(2).fill('databricks.cloudfetch.chunk'));
    expect(cloudFetch.attributes['databricks.chunks.present']).to.equal(2);
    expect(polled.attributes['databricks.poll.count']).to.be.at.least(1);
    expect(failed.status).to.equal(STATUS_ERROR);
    expect(failed.attributes).to.include({ 'error.type': '42P01', 'db.response.status_code': '42P01' });

    const duration = histogram(result.metrics, 'db.client.operation.duration');
    expect(duration?.unit).to.equal('s');
    const counts = (duration?.points ?? []).map((point) => [point.attributes['error.type'] ?? 'ok', point.count]);
    expect(counts).to.have.deep.members([
      ['ok', 4],
      ['42P01', 1],
    ]);
    const rows = histogram(result.metrics, 'db.client.response.returned_rows');
    expect(rows?.points.filter((point) => point.attributes['error.type'] === undefined)).to.have.length(1);
    expect(rows?.points.find((point) => point.attributes['error.type'] === undefined)?.sum).to.equal(3013);

    const counted = emulator.requestCounts();
    expect(counted.cloudFetch).to.equal(2);
    expect(counted.featureFlags + counted.telemetryExt + counted.telemetryUnauth, 'no upload by default').to.equal(0);
  });

  it("leaves the 1.x built-in telemetry on as configured: only the driver's own uploads", async () => {
    const result = await runApp({ ROUTE_HOST: OAUTH_HOST });
    expect(result.builtInTelemetryEnabled).to.equal(true);
    expect(statementSpans(result.spans)).to.have.length(5);
    const agents = emulator.telemetry.requests().map((request) => String(request.headers['user-agent']));
    expect(agents).not.to.deep.equal([]);
    for (const agent of agents) {
      expect(agent.startsWith(`NodejsDatabricksSqlConnector/${copy.version} (`), agent).to.equal(true);
    }
  });

  it('with DATABRICKS_TELEMETRY_ENABLED=true, ours replace the 1.x built-in: each statement reported once', async () => {
    const result = await runApp({ ROUTE_HOST: OAUTH_HOST, DATABRICKS_TELEMETRY_ENABLED: 'true' });
    expect(result.builtInTelemetryEnabled, 'the built-in is turned off for the connection').to.equal(false);
    const spans = statementSpans(result.spans);
    expect(spans).to.have.length(5);
    const logs = driverLogs();
    for (const span of spans) {
      const id = span.attributes['databricks.statement.id'];
      expect(
        logs.filter((log) => log.sql_statement_id === id),
        `statement ${id}`,
      ).to.have.length(1);
    }
    const agents = emulator.telemetry.requests().map((request) => String(request.headers['user-agent']));
    expect(agents).not.to.deep.equal([]);
    for (const agent of agents) {
      expect(agent, 'none from the built-in, which adds "(Node.js ...)"').not.to.include('(');
    }
  });

  // KNOWN BUG (lib/driver/connectionFacts.ts:9): uploads for a 1.x client describe the 2.x driver
  // that dbsql-telemetry depends on: User-Agent NodejsDatabricksSqlConnector/2.1.0, driver_version
  // 2.1.0 and the feature flag of NODEJS/2.1.0. Remove `.skip` once fixed.
  it("uploads describe the application's driver (1.x), not the 2.x that dbsql-telemetry depends on", async () => {
    await runApp({ ROUTE_HOST: OAUTH_HOST, DATABRICKS_TELEMETRY_ENABLED: 'true' });
    const agents = emulator.telemetry.requests().map((request) => String(request.headers['user-agent']));
    expect(agents).to.deep.equal(agents.map(() => `NodejsDatabricksSqlConnector/${copy.version}`));
    const connection = driverLogs().filter((log) => log.system_configuration !== undefined);
    expect(connection.map((log) => log.system_configuration?.driver_version)).to.deep.equal([copy.version]);
  });
});
