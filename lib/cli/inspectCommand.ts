import { readFileSync } from 'fs';
import { parseArgs } from 'util';
import { renderLogTable, renderSummary, renderUploadTable } from './render';
import { decodeTelemetryText, DecodedInput } from './telemetryInput';
import { summarize } from './telemetrySummary';

export const INSPECT_USAGE = `Usage: dbsql-telemetry inspect <file|-> [--json]

Decodes captured telemetry into a readable table (or JSON lines with --json):
  - upload bodies: one {"uploadTime", "items", "protoLogs"} body per line, or a single body
  - the emulator's recordings: the JSON of GET /emulator/telemetry
  - an audit file: one frontend log per line (telemetryAuditFile)
Lines that cannot be decoded are reported on stderr and skipped. "-" reads stdin.

Options:
  --json          one JSON line per decoded log: {"source", "upload", "log"}
  --max-problems N  skipped parts listed on stderr (default 20; the rest are counted)`;

export interface InspectIO {
  out: (line: string) => void;
  err: (line: string) => void;
  /** Reads the input; `-` is stdin. */
  read: (file: string) => string;
}

const DEFAULT_IO: InspectIO = {
  out: (line) => console.log(line),
  err: (line) => console.error(line),
  read: (file) => readFileSync(file === '-' ? 0 : file, 'utf8'),
};

function reportProblems(decoded: DecodedInput, io: InspectIO, max: number): void {
  decoded.problems.slice(0, max).forEach((problem) => io.err(`skipped ${problem.source}: ${problem.reason}`));
  if (decoded.problems.length > max) {
    io.err(`... and ${decoded.problems.length - max} more skipped parts`);
  }
}

/** `dbsql-telemetry inspect`: returns the exit code (1: no input, or nothing in it decoded). */
export async function inspectCommand(args: string[], io: InspectIO = DEFAULT_IO): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: { json: { type: 'boolean' }, 'max-problems': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (error) {
    io.err(`${(error as Error).message}\n\n${INSPECT_USAGE}`);
    return 1;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.out(INSPECT_USAGE);
    return 0;
  }
  if (positionals.length !== 1) {
    io.err(INSPECT_USAGE);
    return 1;
  }
  const maxProblems = Number(values['max-problems'] ?? 20);
  const [file] = positionals;

  let text: string;
  try {
    text = io.read(file);
  } catch (error) {
    io.err(`Cannot read ${file}: ${(error as Error).message}`);
    return 1;
  }
  const decoded = decodeTelemetryText(text);
  reportProblems(decoded, io, Number.isInteger(maxProblems) && maxProblems >= 0 ? maxProblems : 20);

  if (values.json) {
    for (const entry of decoded.logs) {
      io.out(
        JSON.stringify({
          source: entry.source,
          ...(entry.upload === undefined ? {} : { upload: entry.upload }),
          log: entry.log,
        }),
      );
    }
  } else {
    io.out(
      `${file}: ${decoded.format}; ${decoded.uploads.length} uploads, ${decoded.logs.length} logs` +
        (decoded.problems.length > 0
          ? `, ${decoded.problems.length} ${decoded.problems.length === 1 ? 'part' : 'parts'} skipped`
          : ''),
    );
    if (decoded.uploads.length > 0) {
      io.out('');
      renderUploadTable(decoded).forEach((line) => io.out(line));
    }
    if (decoded.logs.length > 0) {
      io.out('');
      renderLogTable(decoded.logs).forEach((line) => io.out(line));
      io.out('');
      io.out('Per statement kind:');
      renderSummary(summarize(decoded)).forEach((line) => io.out(line));
    }
  }
  return decoded.logs.length === 0 && decoded.problems.length > 0 ? 1 : 0;
}
