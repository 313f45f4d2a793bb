import { expect } from 'chai';
import DriverEventReceiver from '../../../lib/driver/DriverEventReceiver';
import { Emulator, startEmulator } from '../../../lib/emulator';
import { CollectedTelemetry, SPAN_KIND_CLIENT, histogram, statementSpans } from '../../support/otelSdk';
import { AppDir, emulatorEnv, makeAppDir, resultOf, runNode } from './support';

/*
 * An ES-module application importing this package by name (fixtures/client.mjs):
 * `import { DBSQLClient, DatabricksSqlInstrumentation, LogLevel } from 'dbsql-telemetry'` gets every
 * named export of the CommonJS build, `DBSQLClient` is this package's client (not the driver's
 * one re-exported), and with telemetryOpenTelemetry on its statements reach the SDK as spans and
 * metrics.
 */

interface ClientResult extends CollectedTelemetry {
  imports: { DBSQLClient: string; DatabricksSqlInstrumentation: string; LogLevel: Record<string, string> };
  ownClient: boolean;
  extendsDriverClient: boolean;
  instrumentationName: string;
  instrumentationEnabled: boolean;
  rows: number;
  logged: string[];
  emitterBeforeConnect: string[] | null;
  emitterWhileConnected: string[] | null;
  emitterAfterClose: string[] | null;
  driverEmitterWhileConnected: string[] | null;
}

describe('e2e OTel: an ES-module application imports dbsql-telemetry by name (child process)', function () {
  this.timeout(30_000);

  let emulator: Emulator;
  let app: AppDir;
  let result: ClientResult;

  before(async function () {
    this.timeout(120_000);
    emulator = await startEmulator();
    app = makeAppDir();
    app.add('client.mjs', 'sdk.js');
    result = resultOf(await runNode(['client.mjs'], app.dir, emulatorEnv(emulator))) as unknown as ClientResult;
  });

  after(async () => {
    app?.remove();
    await emulator?.close();
  });

  it('gets DBSQLClient, DatabricksSqlInstrumentation and LogLevel as named imports', () => {
    expect(result.imports.DBSQLClient).to.equal('function');
    expect(result.imports.DatabricksSqlInstrumentation).to.equal('function');
    expect(result.imports.LogLevel).to.deep.equal({ error: 'error', warn: 'warn', info: 'info', debug: 'debug' });
    expect(result.instrumentationName).to.equal('dbsql-telemetry');
    expect(result.instrumentationEnabled, 'constructed with enabled: false').to.equal(false);
    // The application's logger, comparing against LogLevel, got the driver's lines.
    expect(result.logged).to.include('info');
  });

  it("DBSQLClient is this package's client: a subclass of the driver's, whose telemetry emitter is our receiver while connected", () => {
    expect(result.ownClient).to.equal(true);
    expect(result.extendsDriverClient).to.equal(true);
    const receiverMethods = Object.getOwnPropertyNames(DriverEventReceiver.prototype)
      .filter((name) => name !== 'constructor')
      .sort();
    expect(result.emitterBeforeConnect).to.equal(null);
    expect(result.emitterWhileConnected).to.deep.equal(receiverMethods);
    expect(result.emitterAfterClose).to.equal(null);
    // The driver's own client, connected with the same options, has none.
    expect(result.driverEmitterWhileConnected).to.equal(null);
  });

  it('with telemetryOpenTelemetry on, the statement reaches the SDK as spans and metrics', () => {
    expect(result.rows).to.equal(4);
    expect(result.spans.map((span) => span.name)).to.deep.equal(['CONNECT', 'CREATE_SESSION', 'EXECUTE_STATEMENT']);
    for (const span of result.spans) {
      expect(span.kind).to.equal(SPAN_KIND_CLIENT);
      expect(span.scope).to.equal('dbsql-telemetry');
    }
    const [statement] = statementSpans(result.spans);
    expect(statement.attributes).to.include({
      'db.system.name': 'databricks',
      'db.operation.name': 'EXECUTE_STATEMENT',
      'db.namespace': 'main',
      'db.response.returned_rows': 4,
      'server.address': emulator.host,
      'server.port': emulator.port,
    });
    expect(histogram(result.metrics, 'db.client.operation.duration')?.points.map((point) => point.count)).to.deep.equal(
      [1],
    );
    expect(
      histogram(result.metrics, 'db.client.response.returned_rows')?.points.map((point) => point.sum),
    ).to.deep.equal([4]);
    const counts = emulator.requestCounts();
    expect(counts.featureFlags + counts.telemetryExt + counts.telemetryUnauth, 'upload off').to.equal(0);
  });
});
