import { execFile } from 'child_process';
import path from 'path';
import { expect } from 'chai';
import { startEmulator, Emulator } from '../../../lib/emulator';

interface ChildResult {
  code: number | null;
  stdout: string;
  elapsedMs: number;
}

function runChild(emulator: Emulator): Promise<ChildResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['-r', 'ts-node/register/transpile-only', path.join(__dirname, 'closeChild.ts')],
      { env: { ...process.env, EMULATOR_CONNECT: JSON.stringify(emulator.connectOptions()) }, timeout: 20000 },
      (error, stdout) =>
        resolve({
          code: error ? ((error as { code?: number }).code ?? 1) : 0,
          stdout,
          elapsedMs: Date.now() - started,
        }),
    );
  });
}

describe('proof: an awaited close() completes in a process nothing else keeps alive', function () {
  this.timeout(30000);
  let emulator: Emulator;

  before(async () => {
    emulator = await startEmulator();
  });

  after(async () => {
    await emulator.close();
  });

  beforeEach(() => {
    emulator.telemetry.clear();
    emulator.faults.clear();
  });

  it('returns after flushing what was pending, and the code after it runs', async () => {
    const result = await runChild(emulator);
    expect(result.code).to.equal(0);
    expect(result.stdout).to.match(/^closed \d+$/m);
    const kinds = emulator.telemetry
      .logs()
      .map((log) => Object.keys((log as { entry: { sql_driver_log: object } }).entry.sql_driver_log));
    expect(
      kinds.some((keys) => keys.includes('sql_statement_id')),
      'the statement log was delivered by close()',
    ).to.equal(true);
  });

  it('returns within the close deadline when the telemetry endpoint hangs', async () => {
    emulator.faults.set('telemetry', { kind: 'hang', times: 'forever' });
    const result = await runChild(emulator);
    expect(result.code).to.equal(0);
    const closeMs = Number(/^closed (\d+)$/m.exec(result.stdout)?.[1]);
    expect(closeMs).to.be.within(400, 1500);
  });
});
