import { spawn } from 'child_process';
import { join } from 'path';
import { cleanEnv } from './clients';
import { emulatorTrustFile } from './emulatorTrust';
import { CHILDREN, ROOT, tsNodeArgs } from './paths';

/**
 * A child trusts the emulator's CA process-wide, as every process trusts a workspace's public CA:
 * its connections carry no `customCaCert` (see connectOptions), so telemetry's uploads and the
 * driver's built-in ones both go as they do against a real workspace (see emulatorTrust.ts).
 */
function trustingEmulatorCa(args: string[], env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  for (const arg of args) {
    try {
      const caPath = (JSON.parse(arg) as { endpoint?: { caPath?: unknown } })?.endpoint?.caPath;
      if (typeof caPath === 'string') {
        return { ...env, NODE_EXTRA_CA_CERTS: emulatorTrustFile(caPath, env.NODE_EXTRA_CA_CERTS) };
      }
    } catch {
      // Not a spec.
    }
  }
  return env;
}

/**
 * Runs `bench/children/<entry>` under ts-node with `args` (a JSON spec, by convention) and resolves
 * with the JSON of its last stdout line; rejects when it exits non-zero or prints no JSON.
 */
export function runJsonChild<T>(
  entry: string,
  args: string[],
  nodeFlags: string[],
  env: NodeJS.ProcessEnv = cleanEnv(),
): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, tsNodeArgs(join(CHILDREN, entry), nodeFlags).concat(args), {
      cwd: ROOT,
      env: trustingEmulatorCa(args, env),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.on('data', (data: Buffer) => {
      stdout += data.toString();
    });
    child.once('close', (code) => {
      const line = stdout.trim().split('\n').pop() ?? '';
      try {
        if (code !== 0) {
          throw new Error(`exit code ${code}`);
        }
        resolve(JSON.parse(line) as T);
      } catch (error) {
        reject(new Error(`${entry}: ${(error as Error).message}; output: ${stdout.slice(-500)}`));
      }
    });
  });
}
