import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { startEmulator } from '../../../lib/emulator';
import { runTs } from './run';

describe('cli: dbsql-telemetry demo as a process', () => {
  it('runs the workload against the emulator, exits 0 and prints a table of every statement kind', async function () {
    this.timeout(45_000);
    const run = await runTs('lib/cli/index.ts', ['demo'], {}, 40_000);
    if (run.code !== 0) {
      console.error(run.stdout, run.stderr);
    }
    expect(run.code).to.equal(0);
    expect(run.ms).to.be.below(40_000);

    const table = run.stdout.slice(run.stdout.indexOf('operation_type'));
    for (const kind of [
      'CONNECTION',
      'EXECUTE_STATEMENT',
      'LIST_TYPE_INFO',
      'LIST_CATALOGS',
      'LIST_SCHEMAS',
      'LIST_TABLES',
      'LIST_TABLE_TYPES',
      'LIST_COLUMNS',
      'LIST_FUNCTIONS',
      'LIST_PRIMARY_KEYS',
      'LIST_CROSS_REFERENCES',
    ]) {
      expect(table).to.match(new RegExp(`^${kind} `, 'm'));
    }
    expect(table).to.match(/^EXECUTE_STATEMENT\s+QUERY\s+15\s/m);
    expect(table).to.match(/^LIST_CATALOGS\s+METADATA\s+1\s/m);
    expect(table).to.include('EXTERNAL_LINKS x1');
    expect(table).to.include('8/8 in');
    expect(table).to.include('42601 x1, 42P01 x1');
    expect(table).to.match(/uploads: \d+, .* bytes/);
    expect(run.stdout).to.include('3,000,000 over CloudFetch');

    // Not a terminal: progress is plain lines on stderr, one per step.
    expect(run.stderr).to.not.include('\r');
    expect(run.stderr).to.match(/session 4: CloudFetch/);
  });

  it('--json prints the summary as one JSON document', async function () {
    this.timeout(30_000);
    const run = await runTs('lib/cli/index.ts', ['demo', '--json', '--rows', '50000', '--slow-ms', '100']);
    expect(run.code).to.equal(0);
    const result = JSON.parse(run.stdout);
    expect(result.workload.cloudFetchRows).to.equal(50_000);
    expect(result.summary.kinds.map((kind: { operationType: string }) => kind.operationType)).to.include(
      'LIST_COLUMNS',
    );
    expect(result.summary.uploads.count).to.be.above(0);
  });

  it('--host --path --token: runs against that workspace and summarizes the audit file', async function () {
    this.timeout(30_000);
    // The emulator stands in for a real workspace: the demo only gets its address and token.
    const emulator = await startEmulator();
    const dir = mkdtempSync(join(tmpdir(), 'demo-test-'));
    try {
      const ca = join(dir, 'ca.pem');
      writeFileSync(ca, emulator.ca);
      const audit = join(dir, 'audit.jsonl');
      const run = await runTs(
        'lib/cli/index.ts',
        [
          'demo',
          '--host',
          emulator.host,
          '--port',
          String(emulator.port),
          '--path',
          emulator.path,
          '--token',
          emulator.token,
          '--audit-file',
          audit,
          '--rows',
          '20000',
          '--slow-ms',
          '50',
        ],
        { NODE_EXTRA_CA_CERTS: ca },
      );
      if (run.code !== 0) {
        console.error(run.stdout, run.stderr);
      }
      expect(run.code).to.equal(0);
      expect(run.stdout).to.include('decoded from the audit file');
      expect(run.stdout).to.match(/^LIST_TABLES\s+METADATA\s+1\s/m);
      if (!/^EXECUTE_STATEMENT\s+QUERY\s+15\s/m.test(run.stdout)) {
        console.error(run.stdout);
      }
      expect(run.stdout).to.match(/^EXECUTE_STATEMENT\s+QUERY\s+15\s/m);
      expect(emulator.telemetry.logs()).to.have.length(28);
    } finally {
      await emulator.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects a partial real-workspace target', async function () {
    this.timeout(20_000);
    const run = await runTs('lib/cli/index.ts', ['demo', '--host', 'example.cloud.databricks.com']);
    expect(run.code).to.equal(1);
    expect(run.stderr).to.include('--host, --path and --token go together');
  });
});
