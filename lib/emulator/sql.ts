/** Result formats the warehouse can answer with. */
export type ResultFormat = 'columns' | 'arrow' | 'cloudfetch';

/**
 * Per-statement overrides, written as a SQL comment anywhere in the statement:
 * `/* emulator: format=cloudfetch chunks=4 lz4=off direct=off sleep=1500 *\/`.
 */
export interface StatementHints {
  format?: ResultFormat;
  /** Number of CloudFetch files. */
  chunks?: number;
  lz4?: boolean;
  /** `false` ignores the driver's request for direct results. */
  direct?: boolean;
  /** How long the statement reports RUNNING, in milliseconds. */
  sleep?: number;
}

export type ParsedStatement =
  | { kind: 'literal'; value: number; hints: StatementHints }
  | { kind: 'range'; rows: number; hints: StatementHints }
  | { kind: 'error'; sqlState: string; message: string; hints: StatementHints };

const HINT = /\/\*\s*emulator:([^*]*)\*\//gi;
const LITERAL = /^select\s+(-?\d{1,9})$/i;
const RANGE = /^select\s+\*\s+from\s+range\s*\(\s*(\d{1,10})\s*\)$/i;
const FROM_TABLE = /^select\s+.+\s+from\s+([\w.`]+)/i;

function parseFormat(value: string): ResultFormat | undefined {
  switch (value.toLowerCase()) {
    case 'columns':
    case 'column':
      return 'columns';
    case 'arrow':
      return 'arrow';
    case 'cloudfetch':
      return 'cloudfetch';
    default:
      return undefined;
  }
}

function parseSwitch(value: string): boolean | undefined {
  if (/^(on|true|1|yes)$/i.test(value)) {
    return true;
  }
  if (/^(off|false|0|no)$/i.test(value)) {
    return false;
  }
  return undefined;
}

function parseCount(value: string): number | undefined {
  return /^\d+$/.test(value) ? Number(value) : undefined;
}

/** Unknown keys and values are ignored: a hint can never turn a valid statement into an error. */
function parseHints(sql: string): StatementHints {
  const hints: StatementHints = {};
  for (const match of sql.matchAll(HINT)) {
    for (const pair of match[1].trim().split(/\s+/)) {
      const [key, value = ''] = pair.split('=', 2);
      switch (key.toLowerCase()) {
        case 'format':
          hints.format = parseFormat(value) ?? hints.format;
          break;
        case 'chunks':
          hints.chunks = parseCount(value) ?? hints.chunks;
          break;
        case 'lz4':
          hints.lz4 = parseSwitch(value) ?? hints.lz4;
          break;
        case 'direct':
          hints.direct = parseSwitch(value) ?? hints.direct;
          break;
        case 'sleep':
          hints.sleep = parseCount(value) ?? hints.sleep;
          break;
        // no default: unknown keys are ignored
      }
    }
  }
  return hints;
}

/** What the emulator understands: `SELECT <integer>` and `SELECT * FROM range(<n>)`; anything else fails. */
export function parseStatement(sql: string): ParsedStatement {
  const hints = parseHints(sql);
  const text = sql
    .replace(HINT, ' ')
    .replace(/\/\*[\s\S]*?\*\//g, ' ')
    .replace(/--[^\n]*/g, ' ')
    .replace(/;\s*$/, '')
    .replace(/\s+/g, ' ')
    .trim();
  const literal = LITERAL.exec(text);
  if (literal) {
    return { kind: 'literal', value: Number(literal[1]), hints };
  }
  const range = RANGE.exec(text);
  if (range) {
    return { kind: 'range', rows: Number(range[1]), hints };
  }
  const table = FROM_TABLE.exec(text);
  if (table) {
    return {
      kind: 'error',
      sqlState: '42P01',
      message: `[TABLE_OR_VIEW_NOT_FOUND] The table or view \`${table[1]}\` cannot be found.`,
      hints,
    };
  }
  return {
    kind: 'error',
    sqlState: '42601',
    message:
      '[PARSE_SYNTAX_ERROR] Syntax error: the emulator understands only SELECT <integer> and SELECT * FROM range(<n>).',
    hints,
  };
}
