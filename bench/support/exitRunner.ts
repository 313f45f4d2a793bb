import { spawn } from 'child_process';
import { join } from 'path';
import type { ExitChildSpec } from '../children/exitChild';
import { cleanEnv } from './clients';
import { CHILDREN, ROOT, tsNodeArgs } from './paths';
import { monotonicMs } from './clock';

export interface ExitRun {
  /** From the child's DONE line (its last line of work) to its exit, in ms. */
  exitMs: number;
  /** False when the process exited while `await client.close()` was pending: code after it never ran. */
  finished: boolean;
  /** When unfinished: from the `close()` call to the exit, in ms. */
  exitDuringCloseMs?: number;
  /** `client.close()` duration, when the child closed. */
  closeMs?: number;
  code: number | null;
}

/** Runs one exitChild and times its exit on the same monotonic, sub-millisecond clock it prints. */
export function runExitChild(spec: ExitChildSpec, killAfterMs = 30_000): Promise<ExitRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, tsNodeArgs(join(CHILDREN, 'exitChild.ts')).concat([JSON.stringify(spec)]), {
      cwd: ROOT,
      env: cleanEnv(),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let doneAt: number | undefined;
    let closingAt: number | undefined;
    let closeMs: number | undefined;
    let error: string | undefined;
    let buffer = '';
    child.stdout.on('data', (data: Buffer) => {
      buffer += data.toString();
      let newline = buffer.indexOf('\n');
      while (newline >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        const [word, value] = line.split(' ', 2);
        if (word === 'DONE') {
          doneAt = Number(value);
        } else if (word === 'CLOSE') {
          closeMs = Number(value);
        } else if (word === 'CLOSING') {
          closingAt = Number(value);
        } else if (word === 'ERROR') {
          error = line;
        }
        newline = buffer.indexOf('\n');
      }
    });
    const killer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    let exitAt = 0;
    child.once('exit', () => {
      exitAt = monotonicMs();
    });
    // 'close' comes after the last stdout data; the exit time was taken at 'exit'.
    child.once('close', (code) => {
      clearTimeout(killer);
      if (doneAt === undefined && closingAt !== undefined && error === undefined && code === 0) {
        resolve({ exitMs: NaN, finished: false, exitDuringCloseMs: exitAt - closingAt, code });
        return;
      }
      if (doneAt === undefined) {
        reject(
          new Error(
            `exit child ${JSON.stringify({ ...spec, endpoint: undefined })} ended without DONE (${code}) ${error ?? ''}`,
          ),
        );
        return;
      }
      resolve({ exitMs: exitAt - doneAt, finished: true, closeMs, code });
    });
  });
}
