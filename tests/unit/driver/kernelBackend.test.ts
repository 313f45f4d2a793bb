import { expect } from 'chai';
import sinon from 'sinon';
import { DBSQLClient as DriverDBSQLClient, LogLevel } from '@databricks/sql';
import DBSQLClient, { TelemetryConnectionOptions } from '../../../lib/driver/DBSQLClient';
import { DRIVER_VERSION } from '../../../lib/driver/connectionFacts';
import type TelemetryClient from '../../../lib/telemetry/TelemetryClient';
import type TelemetryClientProvider from '../../../lib/telemetry/TelemetryClientProvider';
import type { TelemetryLog } from '../../../lib/telemetry/types';
import LoggerStub from '../.stubs/LoggerStub';

/** The driver's native-binding loader; only drivers with a kernel backend (2.1 on) have one. */
type NativeLoaderModule = {
  getKernelNative: () => unknown;
  KernelNativeLoader: new (load: () => unknown, nodeMajor?: () => number) => { get(): unknown };
};

function driverModule<T>(path: string): T | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(`@databricks/sql/dist/${path}`) as T;
  } catch {
    return undefined;
  }
}

const nativeLoader = driverModule<NativeLoaderModule>('kernel/KernelNativeLoader');
const PlainHttpAuthentication = driverModule<{ default: { prototype: { authenticate(): unknown } } }>(
  'connection/auth/PlainHttpAuthentication',
)?.default;

const KERNEL_LOG = /kernel backend \(useKernel\).*nothing is observed or reported/;

/** Two rows of one INT column, as Arrow IPC bytes (what the kernel hands the driver). */
function arrowRows(): Buffer {
  // Loaded here, not at the top: only the kernel tests need it, and it is the driver's own dependency.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const arrow = require('apache-arrow');
  return Buffer.from(arrow.tableToIPC(arrow.tableFromArrays({ n: Int32Array.from([1, 2]) }), 'stream'));
}

/**
 * A stand-in for the kernel's native binding: sessions whose statements complete at once with
 * two rows, `SELECT fail` failing as the kernel fails a statement, and every call recorded.
 */
class FakeKernel {
  readonly opened: Array<Record<string, unknown>> = [];

  readonly calls: string[] = [];

  openSessionError?: Error;

  async openSession(options: Record<string, unknown>): Promise<unknown> {
    this.opened.push(options);
    if (this.openSessionError) {
      throw this.openSessionError;
    }
    const { calls } = this;
    const ipc = arrowRows();
    let statements = 0;
    return {
      sessionId: `kernel-session-${this.opened.length}`,
      async executeStatementDirect(sql: string) {
        calls.push(`execute ${sql}`);
        if (sql === 'SELECT fail') {
          throw new Error('[kernel] SqlError: TABLE_OR_VIEW_NOT_FOUND');
        }
        statements += 1;
        let batches = 1;
        return {
          statementId: `kernel-statement-${statements}`,
          schema: () => ({ ipcBytes: ipc }),
          fetchNextBatch: async () => (batches-- > 0 ? { ipcBytes: ipc } : null),
          cancel: async () => {},
          close: async () => {
            calls.push('close statement');
          },
        };
      },
      async close() {
        calls.push('close session');
      },
    };
  }
}

/** The shared telemetry client as a connection would use it: everything it is handed is kept. */
function fakeProvider(): { provider: TelemetryClientProvider; acquired: sinon.SinonSpy; logs: TelemetryLog[] } {
  const logs: TelemetryLog[] = [];
  const shared = {
    enqueue: (log: TelemetryLog) => logs.push(log),
    featureFlagAnswer: async () => ({ state: 'enabled', expiresAt: Date.now() + 60_000 }),
    flush: async () => {},
  };
  const acquired = sinon.spy(() => shared as unknown as TelemetryClient);
  const provider = { getOrCreateClient: acquired, releaseClient: async () => {} } as unknown as TelemetryClientProvider;
  return { provider, acquired, logs };
}

const connectOptions = (extra: Record<string, unknown> = {}) =>
  ({
    host: 'workspace.example.com',
    path: '/sql/1.0/warehouses/abc',
    token: 'dapi-kernel-test',
    telemetryEnabled: true,
    ...extra,
  }) as TelemetryConnectionOptions;

/** Runs `body`, failing if it leaves an unhandled rejection behind. */
async function withoutUnhandledRejections(body: () => Promise<void>): Promise<void> {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  try {
    await body();
    await new Promise((resolve) => setImmediate(resolve));
    expect(unhandled).to.deep.equal([]);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
}

async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

(nativeLoader ? describe : describe.skip)('DBSQLClient on the driver kernel backend (useKernel)', () => {
  let kernel: FakeKernel;
  let logger: LoggerStub;
  let getClient: sinon.SinonSpy;
  let authenticate: sinon.SinonSpy;

  beforeEach(() => {
    kernel = new FakeKernel();
    logger = new LoggerStub();
    sinon.stub(nativeLoader as NativeLoaderModule, 'getKernelNative').returns(kernel);
    getClient = sinon.spy(DriverDBSQLClient.prototype, 'getClient');
    authenticate = sinon.spy(PlainHttpAuthentication!.prototype, 'authenticate');
  });

  afterEach(() => {
    sinon.restore();
  });

  it('runs statements through the kernel untouched and reports, observes and authenticates nothing', async () => {
    const { provider, acquired, logs } = fakeProvider();
    const client = new DBSQLClient({ logger }, provider);
    await withoutUnhandledRejections(async () => {
      await client.connect(connectOptions({ useKernel: true }));
      const session = await client.openSession();
      expect(session.id).to.equal('kernel-session-1');
      // The driver gets no emitter, so its hook points in the session and operation code stay silent.
      expect(client.getTelemetryEmitter()).to.equal(undefined);
      expect(client.getTelemetryAggregator()).to.equal(undefined);
      const operation = await session.executeStatement('SELECT n');
      expect(await operation.fetchAll()).to.deep.equal([{ n: 1 }, { n: 2 }]);
      await operation.close();
      expect(await rejectionOf(session.executeStatement('SELECT fail')))
        .to.have.property('message')
        .that.match(/TABLE_OR_VIEW_NOT_FOUND/);
      await session.close();
      await client.close();
    });
    expect(kernel.calls).to.deep.equal(['execute SELECT n', 'close statement', 'execute SELECT fail', 'close session']);
    expect(acquired.callCount, 'shared telemetry clients acquired').to.equal(0);
    expect(logs).to.deep.equal([]);
    // No Thrift client made, and the driver's own auth provider never asked for headers.
    expect(getClient.callCount).to.equal(0);
    expect(authenticate.callCount).to.equal(0);
  });

  it('says once, at debug level only, that the connection is not observed', async () => {
    const client = new DBSQLClient({ logger }, fakeProvider().provider);
    await client.connect(connectOptions({ useKernel: true }));
    const session = await client.openSession();
    await session.close();
    await client.close();
    const said = logger.lines.filter((line) => KERNEL_LOG.test(line.message));
    expect(said.map((line) => line.level)).to.deep.equal([LogLevel.debug]);
    expect(logger.aboveDebug().filter((line) => /telemetry/i.test(line.message))).to.deep.equal([]);
  });

  it('says nothing about it when telemetry is off', async () => {
    const client = new DBSQLClient({ logger }, fakeProvider().provider);
    await client.connect(connectOptions({ useKernel: true, telemetryEnabled: false }));
    await client.close();
    expect(logger.has(KERNEL_LOG)).to.equal(false);
  });

  it("keeps the kernel's own telemetry off, whatever the application asks of ours", async () => {
    const client = new DBSQLClient({ logger }, fakeProvider().provider);
    await client.connect(connectOptions({ useKernel: true, telemetryEnabled: true }));
    await client.openSession();
    await client.close();
    expect(kernel.opened).to.have.length(1);
    // Left out, it is off too (the binding's contract); only `true` turns it on.
    expect(kernel.opened[0].telemetryEnabled).not.to.equal(true);
  });

  it("stops a Thrift connection's telemetry when the client reconnects with useKernel", async () => {
    const { provider } = fakeProvider();
    const client = new DBSQLClient({ logger }, provider);
    await client.connect(connectOptions());
    expect(client.getTelemetryEmitter(), 'observed on Thrift').not.to.equal(undefined);
    await client.connect(connectOptions({ useKernel: true }));
    expect(client.getTelemetryEmitter()).to.equal(undefined);
    await client.close();
  });

  it("rejects connect() with exactly the driver's error when the native module is missing, as the driver alone does", async () => {
    // The driver's own loader, failing as it does when the platform package is not installed.
    const missing = Object.assign(new Error("Cannot find module '@databricks/databricks-sql-kernel-linux-x64-gnu'"), {
      code: 'MODULE_NOT_FOUND',
    });
    const loader = new nativeLoader!.KernelNativeLoader(() => {
      throw missing;
    });
    (nativeLoader!.getKernelNative as sinon.SinonStub).callsFake(() => loader.get());
    const { provider, acquired } = fakeProvider();
    const bare = new DriverDBSQLClient({ logger: new LoggerStub() });
    // The bare driver without its own telemetry, which some drivers run on the kernel backend too.
    const bareOptions = connectOptions({ useKernel: true, telemetryEnabled: false });
    const client = new DBSQLClient({ logger }, provider);
    await withoutUnhandledRejections(async () => {
      const driverError = await rejectionOf(bare.connect(bareOptions));
      const ours = await rejectionOf(client.connect(connectOptions({ useKernel: true })));
      expect(driverError)
        .to.be.instanceOf(Error)
        .with.property('message')
        .that.match(/kernel native binding not installed/);
      // The loader keeps its failure: the very object the driver threw reaches the application.
      expect(ours).to.equal(driverError);
      const driverNext = await rejectionOf(bare.openSession());
      const oursNext = await rejectionOf(client.openSession());
      expect(oursNext).to.be.instanceOf((driverNext as Error).constructor);
      expect((oursNext as Error).message).to.equal((driverNext as Error).message);
      await client.close();
      await bare.close();
    });
    expect(acquired.callCount).to.equal(0);
    expect(client.getTelemetryEmitter()).to.equal(undefined);
    expect(logger.aboveDebug().filter((line) => /telemetry/i.test(line.message))).to.deep.equal([]);
  });

  it("passes the kernel's session-open failure through unchanged and reports nothing", async () => {
    kernel.openSessionError = new Error('[kernel] HTTP 404: No endpoint at /api/2.0/sql/sessions');
    const { provider, acquired, logs } = fakeProvider();
    const bare = new DriverDBSQLClient({ logger: new LoggerStub() });
    // The bare driver without its own telemetry, which some drivers run on the kernel backend too.
    const bareOptions = connectOptions({ useKernel: true, telemetryEnabled: false });
    const client = new DBSQLClient({ logger }, provider);
    await withoutUnhandledRejections(async () => {
      await bare.connect(bareOptions);
      await client.connect(connectOptions({ useKernel: true }));
      const driverError = (await rejectionOf(bare.openSession())) as Error;
      const ours = (await rejectionOf(client.openSession())) as Error;
      expect(ours).to.be.instanceOf(driverError.constructor);
      expect(ours.name).to.equal(driverError.name);
      expect(ours.message).to.equal(driverError.message);
      await client.close();
      await bare.close();
    });
    expect(acquired.callCount).to.equal(0);
    expect(logs).to.deep.equal([]);
  });

  it('follows the backend the driver chose, whatever value of useKernel chose it', async () => {
    const getKernelNative = nativeLoader!.getKernelNative as sinon.SinonStub;
    const client = new DBSQLClient({ logger }, fakeProvider().provider);
    // Drivers differ: 2.x takes only `true`, 1.x any truthy value.
    await client.connect(connectOptions({ useKernel: 'yes' }));
    const onKernel = getKernelNative.called;
    expect(onKernel, `driver ${DRIVER_VERSION} built its kernel backend`).to.equal(DRIVER_VERSION.startsWith('1.'));
    expect(client.getTelemetryEmitter() === undefined, 'not observed').to.equal(onKernel);
    expect(logger.has(KERNEL_LOG)).to.equal(onKernel);
    await client.close();
  });
});
