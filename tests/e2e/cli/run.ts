import { join } from 'path';
import { runNodeProcess } from '../../support/childProcess';
import type { Run } from '../../support/childProcess';

export const ROOT = join(__dirname, '..', '..', '..');
export const FIXTURES = join(__dirname, 'fixtures');

export type { Run };

/** Runs a TypeScript entry point of the repository in a child process, as `node -r ts-node/register/transpile-only`. */
export function runTs(
  script: string,
  args: string[] = [],
  env: NodeJS.ProcessEnv = {},
  timeoutMs = 60_000,
): Promise<Run> {
  return runNodeProcess(['-r', 'ts-node/register/transpile-only', join(ROOT, script), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    timeoutMs,
  });
}
