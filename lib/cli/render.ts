import { DecodedInput, DecodedLog, factsOf } from './telemetryInput';
import { operationLabel, TelemetrySummary } from './telemetrySummary';

/** A plain-text table: a header row, a rule, then the rows; numeric-looking cells align right. */
export function renderTable(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => (row[i] ?? '').length)));
  const numeric = header.map(
    (_title, i) =>
      rows.some((row) => /\d/.test(row[i] ?? '')) &&
      rows.every((row) => /^(-|[\d.,]+( ?[a-zA-Z]+)?)?$/.test(row[i] ?? '')),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (numeric[i] ? cell.padStart(widths[i]) : cell.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((width) => '-'.repeat(width)).join('  '), ...rows.map(line)];
}

/** `1234567` → `1.2 MB`; bytes below 1 kB stay exact. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) {
    return `${bytes} B`;
  }
  if (bytes < 1024 * 1024) {
    return `${(bytes / 1024).toFixed(1)} kB`;
  }
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

function counts(record: Record<string, number>): string {
  const entries = Object.entries(record);
  if (entries.length === 0) {
    return '-';
  }
  return entries
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([name, count]) => (count === 1 && entries.length === 1 ? name : `${name} x${count}`))
    .join(', ');
}

function ms(value: number | undefined): string {
  return value === undefined ? '-' : String(Math.round(value));
}

/** The summary as text: the per-kind table, then the upload and error lines. */
export function renderSummary(summary: TelemetrySummary): string[] {
  const header = [
    'operation_type',
    'statement_type',
    'count',
    'p50 ms',
    'p95 ms',
    'max ms',
    'results',
    'chunks',
    'polls',
    'errors',
  ];
  const rows = summary.kinds.map((kind) => [
    kind.operationType,
    kind.statementType,
    String(kind.count),
    ms(kind.p50LatencyMs),
    ms(kind.p95LatencyMs),
    ms(kind.maxLatencyMs),
    counts(kind.resultFormats) + (kind.compressed > 0 ? ` (lz4 x${kind.compressed})` : ''),
    kind.chunksIterated > 0 || kind.chunksPresent > 0
      ? `${kind.chunksIterated}/${kind.chunksPresent} in ${Math.round(kind.chunkDownloadMs)} ms`
      : '-',
    kind.pollCount > 0 ? String(kind.pollCount) : '-',
    counts(kind.errors),
  ]);
  const { uploads } = summary;
  const lines = renderTable(header, rows);
  lines.push('');
  lines.push(
    `logs: ${summary.logs} (${summary.logKinds.connection} connection, ${summary.logKinds.statement} statement, ` +
      `${summary.logKinds.error} error${summary.logKinds.other > 0 ? `, ${summary.logKinds.other} other` : ''}); ` +
      `sessions: ${summary.sessions}; statements: ${summary.statements}`,
  );
  if (uploads.count > 0) {
    lines.push(
      `uploads: ${uploads.count}, ${formatBytes(uploads.totalBytes)} in all (${uploads.totalBytes} bytes); ` +
        `per upload ${uploads.minBytes}..${uploads.maxBytes} bytes (mean ${uploads.meanBytes}), ` +
        `${uploads.minLogs}..${uploads.maxLogs} logs; endpoints: ${counts(uploads.endpoints)}`,
    );
  } else {
    lines.push('uploads: none in this input');
  }
  lines.push(`errors: ${counts(summary.errors)}`);
  return lines;
}

function shortId(id: string | undefined): string {
  return id ? id.slice(0, 8) : '-';
}

function time(timestamp: number | undefined): string {
  if (timestamp === undefined) {
    return '-';
  }
  const date = new Date(timestamp);
  return Number.isNaN(date.getTime()) ? String(timestamp) : date.toISOString().slice(11, 23);
}

/** One row per decoded log. */
export function renderLogTable(logs: readonly DecodedLog[]): string[] {
  const header = [
    '#',
    'upload',
    'time',
    'session',
    'statement',
    'operation_type',
    'statement_type',
    'latency ms',
    'result',
    'chunks',
    'error',
  ];
  const rows = logs.map((entry, i) => {
    const facts = factsOf(entry.log);
    const chunks =
      facts.chunksIterated !== undefined || facts.chunksPresent !== undefined
        ? `${facts.chunksIterated ?? '-'}/${facts.chunksPresent ?? '-'}`
        : '-';
    return [
      String(i + 1),
      entry.upload === undefined ? '-' : String(entry.upload),
      time(facts.timestamp),
      shortId(facts.sessionId),
      shortId(facts.statementId),
      operationLabel(facts),
      facts.statementType ?? '-',
      ms(facts.latencyMs),
      (facts.executionResult ?? '-') + (facts.isCompressed ? ' lz4' : ''),
      chunks,
      facts.errorName ?? '-',
    ];
  });
  return renderTable(header, rows);
}

/** One row per upload. */
export function renderUploadTable(input: Pick<DecodedInput, 'uploads'>): string[] {
  const rows = input.uploads.map((upload) => [
    String(upload.index),
    upload.source,
    upload.path ?? '-',
    upload.uploadTime === undefined ? '-' : time(upload.uploadTime),
    String(upload.logCount),
    String(upload.bytes),
  ]);
  return renderTable(['upload', 'source', 'endpoint', 'upload time', 'logs', 'bytes'], rows);
}
