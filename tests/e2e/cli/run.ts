import { spawn } from 'child_process';
import { join } from 'path';

export const ROOT = join(__dirname, '..', '..', '..');
export const FIXTURES = join(__dirname, 'fixtures');

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs a TypeScript entry point of the repository in a child process, as `node -r ts-node/register/transpile-only`. */
export function runTs(
  script: string,
  args: string[] = [],
  env: NodeJS.ProcessEnv = {},
  timeoutMs = 60_000,
): Promise<Run> {
  const startedAt = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', join(ROOT, script), ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (part: Buffer) => (stdout += part.toString()));
    child.stderr.on('data', (part: Buffer) => (stderr += part.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - startedAt });
    });
  });
}
