import { spawn } from 'child_process';
import { resolve } from 'path';
import { expect } from 'chai';
import { Emulator, startEmulator } from '../../../lib/emulator';
import { connectionLogs } from '../../support/harness';

const SCRIPT = resolve(__dirname, '../../support/forgetClose.ts');
const HARD_LIMIT_MS = 12000;

interface Run {
  /** Time from the script's `done` line to its 'exit' event, as the script measured it. */
  exitAfterWorkMs: number;
  code: number | null;
  stdout: string;
}

/** Runs the forgetful script in a child process (with this process's module hooks) and times its exit. */
function runForgetful(emulator: Emulator, telemetry: boolean, close: 'never' | 'unawaited' = 'never'): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [...hookArgs(), '-r', 'ts-node/register/transpile-only', SCRIPT], {
      cwd: resolve(__dirname, '../../..'),
      env: {
        ...process.env,
        EMULATOR_CONNECT: JSON.stringify(emulator.connectOptions()),
        TELEMETRY: telemetry ? 'on' : 'off',
        CLOSE: close,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (part: Buffer) => {
      stdout += part.toString();
    });
    child.stderr.on('data', (part: Buffer) => {
      stderr += part.toString();
    });
    const killer = setTimeout(() => child.kill('SIGKILL'), HARD_LIMIT_MS);
    child.on('error', fail);
    child.on('close', (code) => {
      clearTimeout(killer);
      const exitAfterWork = /exit-after-work (\d+)/.exec(stdout);
      if (!stdout.includes('done') || !exitAfterWork) {
        fail(new Error(`the script did not finish its work (code ${code}): ${stdout} ${stderr}`));
        return;
      }
      done({ exitAfterWorkMs: Number(exitAfterWork[1]), code, stdout });
    });
  });
}

/** `-r` hooks this mocha run was given (e.g. the 1.x driver redirect), so the child loads the same driver. */
function hookArgs(): string[] {
  const hook = process.env.DBSQL_TELEMETRY_DRIVER_HOOK;
  return hook ? ['-r', hook] : [];
}

function sessionOf(run: Run): string {
  const match = /session (\S+)/.exec(run.stdout);
  expect(match, run.stdout).to.not.equal(null);
  return match?.[1] ?? '';
}

describe('client e2e: a process that forgets close()', () => {
  let emulator: Emulator;

  before(async () => {
    emulator = await startEmulator();
  });

  after(async () => {
    await emulator.close();
  });

  it('still exits by itself, and telemetry adds no delay to its exit', async function () {
    this.timeout(30000);
    emulator.resetRequestCounts();
    const off = await runForgetful(emulator, false);
    const flagRequestsOff = emulator.requestCounts().featureFlags;
    const on = await runForgetful(emulator, true);
    const flagRequestsOn = emulator.requestCounts().featureFlags - flagRequestsOff;
    expect(off.code).to.equal(0);
    expect(on.code).to.equal(0);
    expect(on.stdout).to.contain('done 3');
    expect(on.exitAfterWorkMs, `telemetry on: ${on.exitAfterWorkMs} ms, off: ${off.exitAfterWorkMs} ms`).to.be.below(
      off.exitAfterWorkMs + 500,
    );
    expect(on.exitAfterWorkMs, 'exits within ~2 s of its work').to.be.below(Math.max(2000, off.exitAfterWorkMs + 500));
    // Telemetry really ran in the child with it on (it asked for the host's flag), and not in the one with it off.
    expect(flagRequestsOff, 'telemetry off: no flag request').to.equal(0);
    expect(flagRequestsOn, 'telemetry on: the flag was fetched').to.equal(1);
    expect(sessionOf(on)).to.not.equal(sessionOf(off));
    expect(connectionLogs(emulator, sessionOf(off))).to.deep.equal([]);
    // What was pending when the loop emptied was sent on 'beforeExit': the connection log, and the
    // statement the child never closed.
    expect(connectionLogs(emulator, sessionOf(on))).to.have.length(1);
    const statementLogs = emulator.telemetry
      .logs()
      .map(
        (log) =>
          (log as { entry: { sql_driver_log: { session_id?: string; sql_statement_id?: string } } }).entry
            .sql_driver_log,
      )
      .filter((log) => log.session_id === sessionOf(on) && log.sql_statement_id);
    expect(statementLogs).to.have.length(1);
    console.log(`      exit after work: telemetry off ${off.exitAfterWorkMs} ms, on ${on.exitAfterWorkMs} ms`);
  });

  it('with a hanging telemetry endpoint, waits for pending logs at most 50 ms', async function () {
    this.timeout(30000);
    emulator.faults.set('telemetry', { kind: 'hang', times: 'forever' });
    try {
      const on = await runForgetful(emulator, true);
      expect(on.code).to.equal(0);
      // The hung upload is abandoned after the exit deadline (50 ms).
      expect(on.exitAfterWorkMs).to.be.within(40, 300);
    } finally {
      emulator.faults.clear();
    }
  });

  it('with a hanging telemetry endpoint and a close() nobody awaits, stays up at most the close deadline', async function () {
    this.timeout(30000);
    emulator.faults.set('telemetry', { kind: 'hang', times: 'forever' });
    try {
      const run = await runForgetful(emulator, true, 'unawaited');
      expect(run.code).to.equal(0);
      // close() holds the process for its flush, bounded by its deadline (300 ms), then lets go.
      expect(run.exitAfterWorkMs).to.be.within(250, 1000);
    } finally {
      emulator.faults.clear();
    }
  });
});
