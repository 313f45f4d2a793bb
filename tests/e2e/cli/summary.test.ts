import { expect } from 'chai';
import { readFileSync } from 'fs';
import { join } from 'path';
import Progress from '../../../lib/cli/progress';
import { renderSummary, renderTable } from '../../../lib/cli/render';
import { decodeRecordedUploads, decodeTelemetryText, factsOf } from '../../../lib/cli/telemetryInput';
import { percentile, summarize } from '../../../lib/cli/telemetrySummary';
import { FIXTURES } from './run';

const fixture = (name: string) => readFileSync(join(FIXTURES, name), 'utf8');

describe('cli: the demo summary on recorded telemetry', () => {
  const recordings = JSON.parse(fixture('emulator-telemetry.json'));
  const decoded = decodeRecordedUploads(recordings.requests);
  const summary = summarize(decoded);
  const kind = (operationType: string, statementType: string) =>
    summary.kinds.find((row) => row.operationType === operationType && row.statementType === statementType);

  it('decodes every recorded upload and log', () => {
    expect(decoded.problems).to.deep.equal([]);
    expect(decoded.uploads).to.have.length(4);
    expect(decoded.logs).to.have.length(28);
    expect(summary.logs).to.equal(28);
    expect(summary.logKinds).to.deep.equal({ connection: 4, statement: 22, error: 2, other: 0 });
    expect(summary.sessions).to.equal(4);
    expect(summary.statements).to.equal(24);
  });

  it('has a row per statement kind, in session order', () => {
    expect(summary.kinds.map((row) => `${row.operationType}/${row.statementType}`)).to.deep.equal([
      'CONNECTION/-',
      'EXECUTE_STATEMENT/QUERY',
      'LIST_TYPE_INFO/METADATA',
      'LIST_CATALOGS/METADATA',
      'LIST_SCHEMAS/METADATA',
      'LIST_TABLES/METADATA',
      'LIST_TABLE_TYPES/METADATA',
      'LIST_COLUMNS/METADATA',
      'LIST_FUNCTIONS/METADATA',
      'LIST_PRIMARY_KEYS/METADATA',
      'LIST_CROSS_REFERENCES/METADATA',
    ]);
  });

  it('counts statements, result formats, chunks and errors', () => {
    const queries = kind('EXECUTE_STATEMENT', 'QUERY')!;
    expect(queries.count).to.equal(15);
    expect(queries.resultFormats).to.deep.equal({ INLINE_ARROW: 9, COLUMNAR_INLINE: 3, EXTERNAL_LINKS: 1 });
    expect(queries.compressed).to.equal(1);
    expect(queries.chunksPresent).to.equal(8);
    expect(queries.chunksIterated).to.equal(8);
    expect(queries.errors).to.deep.equal({ '42601': 1, '42P01': 1 });
    // The two failed statements carry no latency.
    expect(queries.latencyCount).to.equal(13);
    expect(summary.errors).to.deep.equal({ '42601': 1, '42P01': 1 });
  });

  it('computes latency percentiles from operation_latency_ms', () => {
    const queries = kind('EXECUTE_STATEMENT', 'QUERY')!;
    const latencies = decoded.logs
      .map(({ log }) => factsOf(log))
      .filter((facts) => facts.operationType === 'EXECUTE_STATEMENT' && facts.latencyMs !== undefined)
      .map((facts) => facts.latencyMs!);
    expect(queries.p50LatencyMs).to.equal(percentile(latencies, 50));
    expect(queries.p95LatencyMs).to.equal(percentile(latencies, 95));
    expect(queries.maxLatencyMs).to.equal(Math.max(...latencies));
    // The slow (300 ms) and the CloudFetch query are the slowest two of 13: p95 is the slowest.
    expect(queries.p95LatencyMs).to.be.at.least(300);
    expect(queries.p50LatencyMs).to.be.below(100);
  });

  it('reports upload count and sizes from the collector', () => {
    expect(summary.uploads.count).to.equal(4);
    const lengths = recordings.requests.map((request: { headers: Record<string, string> }) =>
      Number(request.headers['content-length']),
    );
    expect(summary.uploads.totalBytes).to.equal(lengths.reduce((a: number, b: number) => a + b, 0));
    expect(summary.uploads.minBytes).to.equal(Math.min(...lengths));
    expect(summary.uploads.maxBytes).to.equal(Math.max(...lengths));
    expect(summary.uploads.endpoints).to.deep.equal({ '/telemetry-ext': 4 });
    expect(summary.uploads.minLogs).to.equal(1);
    expect(summary.uploads.maxLogs).to.equal(23);
  });

  it('gives the same per-kind picture from upload bodies, recordings and the audit file', () => {
    const strip = (s: ReturnType<typeof summarize>) => s.kinds;
    expect(strip(summarize(decodeTelemetryText(fixture('uploads.jsonl'))))).to.deep.equal(strip(summary));
    expect(strip(summarize(decodeTelemetryText(fixture('audit.jsonl'))))).to.deep.equal(strip(summary));
    expect(strip(summarize(decodeTelemetryText(fixture('emulator-telemetry.json'))))).to.deep.equal(strip(summary));
  });

  it('renders a table naming every kind, and the upload line', () => {
    const text = renderSummary(summary).join('\n');
    for (const row of summary.kinds) {
      expect(text).to.include(row.operationType);
    }
    expect(text).to.match(/uploads: 4, [\d.]+ kB in all/);
    expect(text).to.include('EXTERNAL_LINKS x1');
    expect(text).to.include('42601 x1, 42P01 x1');
  });

  it('summarizes nothing without failing', () => {
    const empty = summarize({ uploads: [], logs: [] });
    expect(empty.kinds).to.deep.equal([]);
    expect(empty.uploads).to.deep.equal({ count: 0, totalBytes: 0, endpoints: {} });
    expect(renderSummary(empty).join('\n')).to.include('uploads: none');
  });

  it('tolerates logs with missing or mistyped fields', () => {
    const logs = [
      { entry: { sql_driver_log: { sql_operation: 'nope', operation_latency_ms: 'x' } } },
      { entry: { sql_driver_log: { error_info: { error_name: 'AuthenticationError' } } } },
      { entry: {} },
    ].map((log, i) => ({ source: `line ${i + 1}`, log: log as Record<string, unknown> }));
    const result = summarize({ uploads: [], logs });
    expect(result.logKinds).to.deep.equal({ connection: 0, statement: 0, error: 1, other: 2 });
    expect(result.kinds.map((row) => row.operationType)).to.have.members(['ERROR', 'OTHER']);
    expect(result.kinds.every((row) => row.p50LatencyMs === undefined)).to.equal(true);
  });
});

describe('cli: summary helpers', () => {
  it('percentile is nearest-rank and always an observed value', () => {
    expect(percentile([], 50)).to.equal(undefined);
    expect(percentile([7], 95)).to.equal(7);
    const values = Array.from({ length: 100 }, (_v, i) => 100 - i);
    expect(percentile(values, 50)).to.equal(50);
    expect(percentile(values, 95)).to.equal(95);
    expect(percentile(values, 100)).to.equal(100);
    expect(percentile(values, 0)).to.equal(1);
    expect(percentile([1, 2, 3, 1000], 50)).to.equal(2);
  });

  it('renderTable aligns columns, numbers to the right', () => {
    const lines = renderTable(
      ['name', 'n'],
      [
        ['a', '5'],
        ['bbb', '12'],
      ],
    );
    expect(lines).to.deep.equal(['name   n', '----  --', 'a      5', 'bbb   12']);
  });

  it('Progress: plain lines off a terminal, one rewritten line on it', () => {
    const plain: string[] = [];
    const p1 = new Progress({ write: (text: string) => plain.push(text) });
    p1.step('one');
    p1.update('live');
    p1.done('end');
    expect(plain).to.have.length(2);
    expect(plain.every((line) => line.endsWith('\n') && !line.includes('\r'))).to.equal(true);

    const tty: string[] = [];
    const p2 = new Progress({ write: (text: string) => tty.push(text), isTTY: true, columns: 40 }, 0);
    p2.step('one');
    p2.update('live');
    p2.done('x'.repeat(100));
    expect(tty.slice(0, 3).every((text) => text.startsWith('\r\x1b[2K'))).to.equal(true);
    expect(tty[2].length).to.be.at.most(39 + 5);
    expect(tty[tty.length - 1]).to.equal('\n');
  });
});
