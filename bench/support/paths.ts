import { join } from 'path';

export const ROOT = join(__dirname, '..', '..');
export const CHILDREN = join(__dirname, '..', 'children');

/** `node -r ts-node/register/transpile-only` arguments for a TypeScript entry point. */
export function tsNodeArgs(entry: string, nodeFlags: string[] = []): string[] {
  return [...nodeFlags, '-r', 'ts-node/register/transpile-only', entry];
}
