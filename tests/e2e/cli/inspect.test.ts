import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { inspectCommand } from '../../../lib/cli/inspectCommand';
import { FIXTURES, runTs } from './run';

interface Captured {
  code: number;
  out: string[];
  err: string[];
}

/** Runs the command in process on `text` (as if read from a file). */
async function inspect(text: string, ...flags: string[]): Promise<Captured> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await inspectCommand(['input.jsonl', ...flags], {
    out: (line) => out.push(line),
    err: (line) => err.push(line),
    read: () => text,
  });
  return { code, out, err };
}

const fixture = (name: string) => readFileSync(join(FIXTURES, name), 'utf8');
const KINDS = ['CONNECTION', 'EXECUTE_STATEMENT', 'LIST_CATALOGS', 'LIST_COLUMNS', 'LIST_CROSS_REFERENCES'];

describe('cli: dbsql-telemetry inspect', () => {
  it('decodes upload bodies, one per line, into tables', async () => {
    const { code, out, err } = await inspect(fixture('uploads.jsonl'));
    expect(code).to.equal(0);
    expect(err).to.deep.equal([]);
    const text = out.join('\n');
    expect(out[0]).to.equal('input.jsonl: upload bodies; 4 uploads, 28 logs');
    for (const kind of KINDS) {
      expect(text).to.include(kind);
    }
    expect(text).to.include('EXTERNAL_LINKS lz4');
    expect(text).to.include('42P01');
    expect(text).to.match(/uploads: 4, /);
  });

  it('decodes a single upload body, pretty-printed or not', async () => {
    const body = JSON.parse(fixture('uploads.jsonl').split('\n')[1]);
    for (const text of [JSON.stringify(body), JSON.stringify(body, null, 2)]) {
      const { code, out } = await inspect(text);
      expect(code).to.equal(0);
      expect(out[0]).to.equal(`input.jsonl: upload bodies; 1 uploads, ${body.protoLogs.length} logs`);
    }
  });

  it("decodes the emulator's recordings (GET /emulator/telemetry)", async () => {
    const { code, out, err } = await inspect(fixture('emulator-telemetry.json'));
    expect(code).to.equal(0);
    expect(err).to.deep.equal([]);
    expect(out[0]).to.equal('input.jsonl: emulator recordings; 4 uploads, 28 logs');
    expect(out.join('\n')).to.include('/telemetry-ext');
  });

  it('decodes an audit file, one frontend log per line', async () => {
    const { code, out } = await inspect(fixture('audit.jsonl'));
    expect(code).to.equal(0);
    expect(out[0]).to.equal('input.jsonl: audit file; 0 uploads, 28 logs');
    expect(out.join('\n')).to.include('LIST_PRIMARY_KEYS');
  });

  it('--json prints one JSON line per log, with where it came from', async () => {
    const { code, out } = await inspect(fixture('uploads.jsonl'), '--json');
    expect(code).to.equal(0);
    expect(out).to.have.length(28);
    const first = JSON.parse(out[0]);
    expect(first).to.include({ source: 'line 1 protoLogs[0]', upload: 1 });
    expect(first.log.entry.sql_driver_log.session_id).to.be.a('string');
    const audit = (await inspect(fixture('audit.jsonl'), '--json')).out.map((line) => JSON.parse(line));
    expect(audit[27].source).to.equal('line 28');
    expect(audit[27]).to.not.have.property('upload');
  });

  it('reports bad lines and bad protoLogs entries and skips them', async () => {
    const good = fixture('uploads.jsonl').split('\n')[1]; // 3 logs
    const text = [
      '{"uploadTime":1,"items":[],"protoLogs":["{not json", "{\\"x\\":1}", 5]}',
      'garbage',
      '',
      '[1]',
      '{"protoLogs":"nope"}',
      '"just a string"',
      good,
      '{"truncated": ',
    ].join('\n');
    const { code, out, err } = await inspect(text);
    expect(code).to.equal(0);
    expect(out[0]).to.match(/^input.jsonl: upload bodies; 2 uploads, 3 logs, 8 parts skipped$/);
    expect(err).to.have.length(8);
    expect(err[0]).to.match(/^skipped line 1 protoLogs\[0\]: not JSON/);
    expect(err[1]).to.match(/^skipped line 1 protoLogs\[1\]: not a frontend log/);
    expect(err[2]).to.match(/^skipped line 1 protoLogs\[2\]: not a frontend log/);
    expect(err[3]).to.match(/^skipped line 2: not JSON/);
    expect(err[4]).to.match(/^skipped line 4\[0\]: not an upload body/);
    expect(err[5]).to.match(/^skipped line 5: "protoLogs" is a string/);
    expect(err[6]).to.match(/^skipped line 6: not an upload body/);
    expect(err[7]).to.match(/^skipped line 8: not JSON/);
  });

  it('caps the skipped parts it lists', async () => {
    const { err } = await inspect(`${'x\n'.repeat(30)}${fixture('audit.jsonl')}`, '--max-problems', '5');
    expect(err).to.have.length(6);
    expect(err[5]).to.equal('... and 25 more skipped parts');
  });

  it('exits 1 when nothing decodes, 0 for an empty file', async () => {
    expect((await inspect('nothing\nat all')).code).to.equal(1);
    expect((await inspect('{"recordings": true}')).code).to.equal(1);
    const empty = await inspect('\n\n');
    expect(empty.code).to.equal(0);
    expect(empty.out[0]).to.equal('input.jsonl: empty; 0 uploads, 0 logs');
  });

  it('as a process: reads a file, reports a missing one, needs exactly one argument', async function () {
    this.timeout(30_000);
    const dir = mkdtempSync(join(tmpdir(), 'inspect-test-'));
    try {
      const file = join(dir, 'mixed.jsonl');
      writeFileSync(file, `${fixture('uploads.jsonl')}not json\n${fixture('audit.jsonl').split('\n')[0]}\n`);
      const ok = await runTs('lib/cli/index.ts', ['inspect', file]);
      expect(ok.code).to.equal(0);
      expect(ok.stdout).to.include('mixed; 4 uploads, 29 logs, 1 part skipped');
      expect(ok.stderr).to.match(/skipped line 5: not JSON/);

      const missing = await runTs('lib/cli/index.ts', ['inspect', join(dir, 'nope.jsonl')]);
      expect(missing.code).to.equal(1);
      expect(missing.stderr).to.include('Cannot read');

      const usage = await runTs('lib/cli/index.ts', ['inspect']);
      expect(usage.code).to.equal(1);
      expect(usage.stderr).to.include('Usage: dbsql-telemetry inspect');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
