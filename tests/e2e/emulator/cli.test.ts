import { expect } from 'chai';
import { spawn } from 'child_process';
import { existsSync, readFileSync } from 'fs';
import { join } from 'path';
import { query, withSession } from './driver';
import { json, request } from './http';

const ROOT = join(__dirname, '..', '..', '..');

describe('emulator: `dbsql-telemetry emulator` as a process', () => {
  it('prints connection details, serves the driver and the control API, and stops on SIGTERM', async function () {
    this.timeout(30_000);
    const child = spawn(
      process.execPath,
      [
        '-r',
        'ts-node/register/transpile-only',
        join(ROOT, 'lib/cli/index.ts'),
        'emulator',
        '--port',
        '0',
        '--token',
        'cli-token',
      ],
      {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    try {
      const output = await new Promise<string>((resolve, reject) => {
        let text = '';
        child.stdout.on('data', (part: Buffer) => {
          text += part.toString();
          if (text.includes('Stop with')) {
            resolve(text);
          }
        });
        child.on('exit', () => reject(new Error(`emulator exited early:\n${text}`)));
      });
      const field = (name: string) => new RegExp(`${name}:\\s+(\\S+)`).exec(output)?.[1] ?? '';
      const details = { host: field('host'), port: Number(field('port')), path: field('path'), token: field('token') };
      expect(details.token).to.equal('cli-token');
      const ca = readFileSync(field('CA file'), 'utf8');
      const emulator = {
        ...details,
        ca,
        url: `https://${details.host}:${details.port}`,
        connectOptions: () => ({ ...details, customCaCert: ca }),
      };
      const rows = await withSession(emulator as never, (session) => query(session, 'SELECT 1'));
      expect(rows).to.deep.equal([{ 1: 1 }]);
      const counts = json(await request(emulator as never, { path: '/emulator/requests' }));
      expect(counts.thriftMethods).to.include({ OpenSession: 1, CloseSession: 1 });

      child.kill('SIGTERM');
      expect(await exited).to.equal(0);
      expect(existsSync(field('CA file'))).to.equal(false);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
