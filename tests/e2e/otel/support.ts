import { execFileSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import type { Emulator } from '../../../lib/emulator';
import type { CollectedTelemetry } from '../../support/otelSdk';
import { processCacheDir } from '../../support/processCacheDir';
import { runNodeProcess } from '../../support/childProcess';

export const ROOT = path.join(__dirname, '..', '..', '..');
export const FIXTURES = path.join(__dirname, 'fixtures');

/** The line a fixture app prints its result on: this prefix, then JSON. */
export const RESULT_PREFIX = 'OTEL_E2E_RESULT ';

const BUILD_PREFIX = 'dbsql-telemetry-build-';

let built: string | undefined;

/**
 * This package as npm would install it: its package.json and a `dist/` compiled from lib/ now
 * (with tsconfig.build.json), once per test process. Built apart from the repository's own `dist/`
 * so a stale or concurrently rebuilt `dist/` can neither fail nor fake these tests; under the
 * repository's `node_modules/.cache`, so `dist/` resolves its dependencies from the repository's
 * `node_modules` as an installed package resolves its own. Removed when the process exits.
 */
export function builtPackage(): string {
  if (built !== undefined) {
    return built;
  }
  const dir = processCacheDir(BUILD_PREFIX);
  const tsc = require.resolve('typescript/bin/tsc');
  const outDir = path.join(dir, 'dist');
  try {
    execFileSync(
      process.execPath,
      [tsc, '-p', path.join(ROOT, 'tsconfig.build.json'), '--outDir', outDir, '--declaration', 'false'],
      { cwd: ROOT, stdio: 'pipe' },
    );
  } catch (error) {
    // A type error elsewhere in lib/ still emits JavaScript; only a missing entry point is fatal here.
    if (!fs.existsSync(path.join(outDir, 'index.js')) || !fs.existsSync(path.join(outDir, 'register.js'))) {
      throw new Error(`building lib/ failed: ${String((error as { stdout?: Buffer }).stdout ?? error)}`);
    }
  }
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(dir, 'package.json'));
  built = dir;
  return dir;
}

export interface AppDir {
  dir: string;
  /** Copies fixture files into the app directory. */
  add(...fixtures: string[]): void;
  remove(): void;
}

/**
 * A temporary application directory whose `node_modules` holds `dbsql-telemetry` (the built
 * package), `@databricks` and `@opentelemetry` (the repository's), as symbolic links: package
 * names resolve there as in an application that installed them.
 */
export function makeAppDir(options: { withPackage?: boolean; databricksScope?: string } = {}): AppDir {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbsql-otel-app-'));
  const modules = path.join(dir, 'node_modules');
  fs.mkdirSync(modules);
  if (options.withPackage !== false) {
    fs.symlinkSync(builtPackage(), path.join(modules, 'dbsql-telemetry'), 'dir');
  }
  // `databricksScope`: another `@databricks` folder, to run the app on another driver.
  const scopes: Array<[string, string]> = [
    ['@databricks', options.databricksScope ?? path.join(ROOT, 'node_modules', '@databricks')],
    ['@opentelemetry', path.join(ROOT, 'node_modules', '@opentelemetry')],
  ];
  for (const [scope, target] of scopes) {
    fs.symlinkSync(target, path.join(modules, scope), 'dir');
  }
  return {
    dir,
    add(...fixtures: string[]) {
      for (const fixture of fixtures) {
        fs.copyFileSync(path.join(FIXTURES, fixture), path.join(dir, fixture));
      }
    },
    remove() {
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface ChildRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The app's result line, parsed; undefined when it printed none. */
  result?: CollectedTelemetry & Record<string, unknown>;
}

/** What a fixture app needs to reach the emulator: its connect options, as JSON in `EMULATOR_CONNECT`. */
export function emulatorEnv(emulator: Emulator): NodeJS.ProcessEnv {
  return { EMULATOR_CONNECT: JSON.stringify(emulator.connectOptions()) };
}

/**
 * Runs `node <args>` in `cwd` with the test process's environment plus `env` (with every
 * `DATABRICKS_TELEMETRY_*` variable and NODE_OPTIONS removed first, so the app gets only what a test
 * gives it).
 */
export function runNode(
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv = {},
  timeoutMs = 30_000,
): Promise<ChildRun> {
  const base: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('DATABRICKS_TELEMETRY_') && name !== 'NODE_OPTIONS') {
      base[name] = value;
    }
  }
  return runNodeProcess(args, { cwd, env: { ...base, ...env }, timeoutMs }).then(({ code, stdout, stderr }) => {
    const line = stdout.split('\n').find((text) => text.startsWith(RESULT_PREFIX));
    return {
      code,
      stdout,
      stderr,
      result: line === undefined ? undefined : JSON.parse(line.slice(RESULT_PREFIX.length)),
    };
  });
}

/** The run's result, or an error that shows what the child said. */
export function resultOf(run: ChildRun): CollectedTelemetry & Record<string, unknown> {
  if (run.code !== 0 || run.result === undefined) {
    throw new Error(`app exited with ${run.code}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`);
  }
  return run.result;
}
