import { expect } from 'chai';
import fs from 'fs';
import path from 'path';
import { Emulator, startEmulator } from '../../../lib/emulator';
import { CollectedTelemetry, SPAN_KIND_CLIENT, STATUS_ERROR, histogram, statementSpans } from '../../support/otelSdk';
import { driverV1Copy } from '../../support/driverCopy';
import { AppDir, builtPackage, emulatorEnv, makeAppDir, resultOf, runNode } from './support';

/*
 * `node --require dbsql-telemetry/register app.js` and `node --import dbsql-telemetry/register
 * app.mjs`: applications that use `@databricks/sql` and know nothing of this package (fixtures/app.js
 * and app.mjs) are instrumented from the command line. Each sets up the OpenTelemetry SDK itself,
 * after the register ran, and prints what its in-memory exporters got. The apps run in a
 * temporary directory whose node_modules holds this package (built from lib/), the driver and
 * OpenTelemetry, as an application's would.
 */

interface AppResult extends CollectedTelemetry {
  rows: number[];
  failure?: string;
  wrapped: boolean;
  driverVersion: string;
  /** The ES-module app's `process.execArgv`. */
  execArgv?: string[];
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const DRIVER_VERSION: string = require('@databricks/sql/package.json').version;

describe('e2e OTel: dbsql-telemetry/register instruments an unchanged application (child processes)', function () {
  this.timeout(30_000);

  let emulator: Emulator;
  let app: AppDir;

  before(async function () {
    this.timeout(120_000);
    emulator = await startEmulator();
    app = makeAppDir();
    app.add('app.js', 'app.mjs', 'sdk.js');
  });

  after(async () => {
    app?.remove();
    await emulator?.close();
  });

  beforeEach(() => {
    emulator.resetRequestCounts();
  });

  async function runApp(args: string[], dir = app.dir): Promise<AppResult> {
    return resultOf(await runNode(args, dir, emulatorEnv(emulator))) as unknown as AppResult;
  }

  function expectInstrumented(result: AppResult, driverVersion = DRIVER_VERSION): void {
    expect(result.driverVersion).to.equal(driverVersion);
    expect(result.wrapped).to.equal(true);
    expect(result.rows).to.deep.equal([1, 5]);
    expect(result.failure).to.match(/TABLE_OR_VIEW_NOT_FOUND/);
    expect(result.spans.map((span) => span.name)).to.deep.equal([
      'CONNECT',
      'CREATE_SESSION',
      'EXECUTE_STATEMENT',
      'EXECUTE_STATEMENT',
      'EXECUTE_STATEMENT',
    ]);
    const server = { 'server.address': emulator.host, 'server.port': emulator.port };
    for (const span of result.spans) {
      expect(span.kind).to.equal(SPAN_KIND_CLIENT);
      expect(span.scope).to.equal('dbsql-telemetry');
      expect(span.attributes).to.include({ 'db.system.name': 'databricks', ...server });
    }
    const [one, five, failed] = statementSpans(result.spans);
    expect(one.attributes).to.include({ 'db.namespace': 'main.default', 'db.response.returned_rows': 1 });
    expect(five.attributes).to.include({ 'db.namespace': 'main.default', 'db.response.returned_rows': 5 });
    expect(failed.status).to.equal(STATUS_ERROR);
    expect(failed.attributes).to.include({ 'error.type': '42P01', 'db.response.status_code': '42P01' });
    const counts = emulator.requestCounts();
    expect(counts.featureFlags + counts.telemetryExt + counts.telemetryUnauth, 'no upload by default').to.equal(0);
  }

  it('in the app directory, dbsql-telemetry/register is the package built from lib/', async () => {
    // Resolved by node in the app directory: in this process, the name would resolve to the
    // repository itself (a package's own files may import it by its name).
    const run = await runNode(
      ['-p', "require('fs').realpathSync(require.resolve('dbsql-telemetry/register'))"],
      app.dir,
    );
    expect(run.stdout.trim(), run.stderr).to.equal(fs.realpathSync(path.join(builtPackage(), 'dist', 'register.js')));
  });

  it('node --require dbsql-telemetry/register app.js: the CommonJS app reports spans to the SDK it set up afterwards', async () => {
    expectInstrumented(await runApp(['--require', 'dbsql-telemetry/register', 'app.js']));
  });

  it('node --import dbsql-telemetry/register app.mjs: the ES-module app reports spans to the SDK it set up afterwards', async () => {
    const result = await runApp(['--import', 'dbsql-telemetry/register', 'app.mjs']);
    expect(result.execArgv).to.deep.equal(['--import', 'dbsql-telemetry/register']);
    expectInstrumented(result);
  });

  it('node --require dbsql-telemetry/register app.js on driver 1.x: the same spans from the 1.x client', async function () {
    this.timeout(60_000);
    const v1 = driverV1Copy();
    const appV1 = makeAppDir({ databricksScope: path.join(v1.projectDir, 'node_modules', '@databricks') });
    try {
      appV1.add('app.js', 'sdk.js');
      const result = await runApp(['--require', 'dbsql-telemetry/register', 'app.js'], appV1.dir);
      expect(result.driverVersion).to.match(/^1\./);
      expectInstrumented(result, v1.version);
    } finally {
      appV1.remove();
    }
  });

  // The metrics API has no proxy provider: the instrumentation must follow the global meter
  // provider registered after it, not keep the no-op one it was handed at registration.
  it('both register forms: the app also gets both metrics from the MeterProvider it set up afterwards', async () => {
    for (const args of [
      ['--require', 'dbsql-telemetry/register', 'app.js'],
      ['--import', 'dbsql-telemetry/register', 'app.mjs'],
    ]) {
      const result = await runApp(args);
      const duration = histogram(result.metrics, 'db.client.operation.duration');
      expect(duration?.points.map((point) => point.count).sort(), args.join(' ')).to.deep.equal([1, 2]);
      const rows = histogram(result.metrics, 'db.client.response.returned_rows');
      expect(
        rows?.points.map((point) => point.sum),
        args.join(' '),
      ).to.include(6);
    }
  });

  it('an app that enables neither (no register, no instrumentation) gets no wrapped method and no span', async () => {
    for (const script of ['app.js', 'app.mjs']) {
      const result = await runApp([script]);
      expect(result.rows, script).to.deep.equal([1, 5]);
      expect(result.wrapped, script).to.equal(false);
      expect(result.spans, script).to.deep.equal([]);
      expect(result.metrics, script).to.deep.equal([]);
    }
  });
});
