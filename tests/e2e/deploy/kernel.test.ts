import { spawn } from 'child_process';
import { resolve } from 'path';
import { expect } from 'chai';
import { DBSQLClient as DriverDBSQLClient } from '@databricks/sql';
import { DBSQLClient } from '../../../lib';
import type { TelemetryConnectionOptions } from '../../../lib';
import { Emulator, startEmulator } from '../../../lib/emulator';
import type { RequestCounts } from '../../../lib/emulator';
import { RecordingLogger, rejectionOf, telemetryOptions } from '../../support/harness';

const REPO = resolve(__dirname, '../../..');
const KERNEL_LOG = /kernel backend \(useKernel\).*nothing is observed or reported/;

/** Requests of every kind but `unknown` (paths the emulator does not serve). */
function served(counts: RequestCounts): Record<string, number> {
  const { thrift, cloudFetch, telemetryExt, telemetryUnauth, featureFlags } = counts;
  return { thrift, cloudFetch, telemetryExt, telemetryUnauth, featureFlags };
}

const NOTHING_SERVED = { thrift: 0, cloudFetch: 0, telemetryExt: 0, telemetryUnauth: 0, featureFlags: 0 };

/** `-r` hooks this mocha run was given (e.g. the 1.x driver redirect), so a child loads the same driver. */
function hookArgs(): string[] {
  const hook = process.env.DBSQL_TELEMETRY_DRIVER_HOOK;
  return hook ? ['-r', hook] : [];
}

/**
 * Connects with useKernel in a child process in which the kernel's native package cannot be
 * found, as on a platform whose optional dependency was not installed: first the bare driver,
 * then our client, with telemetry on.
 */
const MISSING_NATIVE_SCRIPT = `
const Module = require('module');
const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (/databricks-sql-kernel-|^\\.\\/index\\.[^/]+\\.node$/.test(request)) {
    throw Object.assign(new Error("Cannot find module '" + request + "'"), { code: 'MODULE_NOT_FOUND' });
  }
  return resolveFilename.call(this, request, ...rest);
};
const unhandled = [];
process.on('unhandledRejection', (reason) => unhandled.push(String(reason)));
const { DBSQLClient: Driver } = require('@databricks/sql');
const { DBSQLClient } = require(process.env.KERNEL_TEST_LIB);
const options = JSON.parse(process.env.KERNEL_TEST_CONNECT);
const lines = [];
const logger = { log: (level, message) => lines.push({ level, message }) };
const attempt = (client, extra) => client.connect({ ...options, ...extra }).then(() => undefined, (error) => error);
const describe = (error) => error && { class: error.constructor.name, name: error.name, message: error.message };
(async () => {
  const driverError = await attempt(new Driver({ logger: { log() {} } }), { telemetryEnabled: false });
  const ours = await attempt(new DBSQLClient({ logger }), { telemetryEnabled: true, telemetryFlushIntervalMs: 50 });
  await new Promise((done) => setTimeout(done, 100));
  console.log('RESULT ' + JSON.stringify({
    driver: describe(driverError),
    ours: describe(ours),
    same: driverError !== undefined && ours === driverError,
    unhandled,
    telemetryAboveDebug: lines.filter((line) => line.level !== 'debug' && /telemetry/i.test(line.message)),
  }));
})();
`;

interface MissingNativeRun {
  driver?: { class: string; name: string; message: string };
  ours?: { class: string; name: string; message: string };
  same: boolean;
  unhandled: string[];
  telemetryAboveDebug: unknown[];
}

function runWithoutNative(connect: Record<string, unknown>): Promise<MissingNativeRun> {
  return new Promise((done, fail) => {
    const child = spawn(
      process.execPath,
      [...hookArgs(), '-r', 'ts-node/register/transpile-only', '-e', MISSING_NATIVE_SCRIPT],
      {
        cwd: REPO,
        env: { ...process.env, KERNEL_TEST_LIB: resolve(REPO, 'lib'), KERNEL_TEST_CONNECT: JSON.stringify(connect) },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (part: Buffer) => {
      stdout += part.toString();
    });
    child.stderr.on('data', (part: Buffer) => {
      stderr += part.toString();
    });
    const killer = setTimeout(() => child.kill('SIGKILL'), 20000);
    child.on('error', fail);
    child.on('close', (code) => {
      clearTimeout(killer);
      const result = /^RESULT (.*)$/m.exec(stdout);
      if (!result) {
        fail(new Error(`the script did not finish (code ${code}): ${stdout} ${stderr}`));
        return;
      }
      done(JSON.parse(result[1]) as MissingNativeRun);
    });
  });
}

describe('deployment e2e: the driver kernel backend (useKernel)', function () {
  this.timeout(30000);

  let emulator: Emulator;

  beforeEach(async () => {
    emulator = await startEmulator({});
  });

  afterEach(async () => {
    await emulator.close();
  });

  /**
   * The kernel speaks the workspace's statement REST API, not Thrift, and ignores `port`: the
   * host carries the port so its requests reach the emulator. One attempt, no retry waits.
   */
  function kernelOptions(extra: Record<string, unknown> = {}): TelemetryConnectionOptions {
    const options = emulator.connectOptions();
    return {
      ...options,
      host: `${options.host}:${options.port}`,
      useKernel: true,
      retryMaxAttempts: 1,
      ...extra,
    } as unknown as TelemetryConnectionOptions;
  }

  it("gives the application the kernel's own session-open error and sends the workspace nothing of ours", async () => {
    const bare = new DriverDBSQLClient({ logger: new RecordingLogger() });
    await bare.connect(kernelOptions({ telemetryEnabled: false }));
    const driverError = await rejectionOf(bare.openSession());
    await bare.close();
    const driverCounts = emulator.requestCounts();
    emulator.resetRequestCounts();

    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    const logger = new RecordingLogger();
    const client = new DBSQLClient({ logger });
    try {
      await client.connect(kernelOptions(telemetryOptions()));
      const ours = await rejectionOf(client.openSession());
      expect(ours).to.be.instanceOf(driverError.constructor);
      expect(ours.name).to.equal(driverError.name);
      expect(ours.message).to.equal(driverError.message);
      // The kernel reached the emulator on a path it does not serve, not the Thrift endpoint.
      expect(ours.message).to.match(/\/api\/2\.0\/sql\/sessions/);
      await client.close();
      await new Promise((done) => setTimeout(done, 100));
      expect(unhandled).to.deep.equal([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    const counts = emulator.requestCounts();
    expect(served(counts)).to.deep.equal(NOTHING_SERVED);
    // Exactly the requests the driver alone makes: nothing added, nothing reported.
    expect(counts.unknown).to.equal(driverCounts.unknown);
    expect(served(driverCounts)).to.deep.equal(NOTHING_SERVED);
    expect(logger.lines.filter((line) => KERNEL_LOG.test(line.message))).to.have.length(1);
    expect(logger.aboveDebug().filter((line) => /telemetry/i.test(line.message))).to.deep.equal([]);
  });

  it("rejects connect() with the driver's own error when the kernel's native package is missing", async () => {
    const run = await runWithoutNative(kernelOptions() as unknown as Record<string, unknown>);
    expect(run.driver, 'the driver alone fails to connect').to.not.equal(undefined);
    expect(run.driver?.message).to.match(/native binding/i);
    expect(run.ours).to.deep.equal(run.driver);
    expect(run.same, 'the very error object the driver threw').to.equal(true);
    expect(run.unhandled).to.deep.equal([]);
    expect(run.telemetryAboveDebug).to.deep.equal([]);
    expect(emulator.requestCounts()).to.deep.include({ ...NOTHING_SERVED, unknown: 0 });
  });
});
