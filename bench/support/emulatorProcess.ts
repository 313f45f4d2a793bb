import { ChildProcess, spawn } from 'child_process';
import { readFileSync } from 'fs';
import { request as httpsRequest } from 'https';
import { join } from 'path';
import { ROOT, tsNodeArgs } from './paths';

/** What a client process needs to connect to the emulator (JSON-serializable, for child processes). */
export interface EmulatorEndpoint {
  host: string;
  port: number;
  path: string;
  token: string;
  caPath: string;
}

import type { RequestCounts } from '../../lib/emulator';

export type { RequestCounts };

export type FaultSpec = Record<string, unknown> | Record<string, unknown>[];

/**
 * The workspace emulator in its own process, started through the CLI entry
 * (`lib/cli/index.ts emulator --port 0`), controlled over its JSON API under `/emulator/...`.
 * Its CPU never counts against the client processes we measure.
 */
export class EmulatorProcess {
  private constructor(
    private readonly child: ChildProcess,
    readonly endpoint: EmulatorEndpoint,
    private readonly ca: string,
  ) {}

  /** `args`: the CLI's emulator options (by default any free port on 127.0.0.1). */
  static async start(args: string[] = ['--port', '0']): Promise<EmulatorProcess> {
    const child = spawn(
      process.execPath,
      tsNodeArgs(join(ROOT, 'lib', 'cli', 'index.ts'), []).concat(['emulator', ...args]),
      {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const fields: Record<string, string> = {};
    let stderr = '';
    child.stderr?.on('data', (data: Buffer) => {
      stderr += data.toString();
    });
    await new Promise<void>((resolve, reject) => {
      let buffer = '';
      const onData = (data: Buffer) => {
        buffer += data.toString();
        for (const line of buffer.split('\n')) {
          const match = /^\s+(host|port|path|token|CA file):\s+(.*)$/.exec(line);
          if (match) {
            fields[match[1]] = match[2].trim();
          }
        }
        if (['host', 'port', 'path', 'token', 'CA file'].every((key) => key in fields)) {
          child.stdout?.off('data', onData);
          child.stdout?.resume();
          resolve();
        }
      };
      child.stdout?.on('data', onData);
      // 'close', not 'exit': by then its stderr has been read, so the error carries the reason (EADDRINUSE...).
      child.once('close', (code) => reject(new Error(`emulator exited (${code}) before it was ready: ${stderr}`)));
      setTimeout(() => reject(new Error(`emulator did not start in 30 s: ${stderr}`)), 30_000).unref();
    });
    const endpoint: EmulatorEndpoint = {
      host: fields.host,
      port: Number(fields.port),
      path: fields.path,
      token: fields.token,
      caPath: fields['CA file'],
    };
    return new EmulatorProcess(child, endpoint, readFileSync(endpoint.caPath, 'utf8'));
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  requestCounts(): Promise<RequestCounts> {
    return this.control('GET', '/emulator/requests') as Promise<RequestCounts>;
  }

  async resetRequestCounts(): Promise<void> {
    await this.control('DELETE', '/emulator/requests');
  }

  async setFault(target: string, sequence: FaultSpec): Promise<void> {
    await this.control('POST', '/emulator/faults', { target, sequence });
  }

  async clearFaults(target?: string): Promise<void> {
    await this.control('DELETE', `/emulator/faults${target ? `?target=${encodeURIComponent(target)}` : ''}`);
  }

  /** The workspace's telemetry feature flag, as the next look-up answers it. */
  async setFeatureFlag(enabled: boolean): Promise<void> {
    await this.control('POST', '/emulator/feature-flag', { enabled });
  }

  async clearTelemetry(): Promise<void> {
    await this.control('DELETE', '/emulator/telemetry');
  }

  /** Stops the emulator (SIGTERM: it closes hanging requests and removes its CA file). */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) {
      return;
    }
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }

  private control(method: string, path: string, body?: unknown): Promise<unknown> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        {
          host: this.endpoint.host,
          port: this.endpoint.port,
          path,
          method,
          ca: this.ca,
          agent: false,
          headers: payload === undefined ? {} : { 'Content-Type': 'application/json' },
        },
        (res) => {
          const parts: Buffer[] = [];
          res.on('data', (part: Buffer) => parts.push(part));
          res.on('end', () => {
            const text = Buffer.concat(parts).toString('utf8');
            if ((res.statusCode ?? 0) >= 300) {
              reject(new Error(`emulator control ${method} ${path}: HTTP ${res.statusCode} ${text}`));
              return;
            }
            try {
              resolve(text === '' ? {} : JSON.parse(text));
            } catch (error) {
              reject(error);
            }
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.setTimeout(10_000, () => req.destroy(new Error(`emulator control ${method} ${path} timed out`)));
      req.end(payload);
    });
  }
}

/** The requests the emulator received between two readings of its counts. */
export function requestsBetween(before: RequestCounts, after: RequestCounts): Partial<RequestCounts> {
  return {
    thrift: after.thrift - before.thrift,
    cloudFetch: after.cloudFetch - before.cloudFetch,
    telemetryExt: after.telemetryExt - before.telemetryExt,
    telemetryUnauth: after.telemetryUnauth - before.telemetryUnauth,
    featureFlags: after.featureFlags - before.featureFlags,
  };
}
