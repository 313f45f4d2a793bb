/** Longest statement text put on a span; longer texts are cut (after sanitizing, so no literal is split). */
export const MAX_QUERY_TEXT_LENGTH = 4096;

const WORD = /[\w$]/;
const DIGIT = /[0-9]/;

/**
 * The statement's text as the database semantic conventions allow it on a span: every literal
 * replaced by `?`, comments removed, whitespace collapsed. A scanner, not a pattern: strings in
 * single or double quotes (Spark SQL takes both as strings) with backslash escapes except in raw
 * `r'...'` strings, nested block comments, numbers in any notation (`0x1F`, `1_000`, `1.5e-3`,
 * `10L`). Quoted identifiers are kept; anything left open (a quote, an identifier, a comment)
 * ends the text, replaced as a whole. Parameters are never part of it: the driver sends them
 * apart from the text.
 */
export function sanitizeQueryText(text: unknown): string | undefined {
  if (typeof text !== 'string') {
    return undefined;
  }
  let out = '';
  let i = 0;
  const { length } = text;
  while (i < length) {
    const char = text[i];
    const next = text[i + 1];
    if (char === '`') {
      const end = closingQuote(text, i, '`', false);
      if (end < 0) {
        out += '?';
        break;
      }
      out += text.slice(i, end + 1);
      i = end + 1;
    } else if (char === "'" || char === '"') {
      const raw = out.length > 0 && /[rR]/.test(out[out.length - 1]) && !WORD.test(out[out.length - 2] ?? '');
      const end = closingQuote(text, i, char, !raw);
      out += '?';
      if (end < 0) {
        break;
      }
      i = end + 1;
    } else if (char === '-' && next === '-') {
      const end = text.indexOf('\n', i);
      out += ' ';
      if (end < 0) {
        break;
      }
      i = end;
    } else if (char === '/' && next === '*') {
      const end = closingComment(text, i);
      out += ' ';
      if (end < 0) {
        break;
      }
      i = end;
    } else if (DIGIT.test(char) || (char === '.' && DIGIT.test(next ?? ''))) {
      i = endOfNumber(text, i);
      out += '?';
    } else if (WORD.test(char)) {
      const start = i;
      while (i < length && WORD.test(text[i])) {
        i += 1;
      }
      out += text.slice(start, i);
    } else {
      out += char;
      i += 1;
    }
  }
  const sanitized = out.replace(/\s+/g, ' ').trim();
  return sanitized.length > MAX_QUERY_TEXT_LENGTH ? sanitized.slice(0, MAX_QUERY_TEXT_LENGTH) : sanitized;
}

/** Index of the quote that closes the one at `start` (a doubled quote is part of the text), or -1. */
function closingQuote(text: string, start: number, quote: string, escapes: boolean): number {
  for (let i = start + 1; i < text.length; i += 1) {
    const char = text[i];
    if (escapes && char === '\\') {
      i += 1;
    } else if (char === quote) {
      if (text[i + 1] !== quote) {
        return i;
      }
      i += 1;
    }
  }
  return -1;
}

/** Index just past the block comment opened at `start`, with nested comments, or -1 if it never closes. */
function closingComment(text: string, start: number): number {
  let depth = 0;
  for (let i = start; i < text.length - 1; i += 1) {
    if (text[i] === '/' && text[i + 1] === '*') {
      depth += 1;
      i += 1;
    } else if (text[i] === '*' && text[i + 1] === '/') {
      depth -= 1;
      i += 1;
      if (depth === 0) {
        return i + 1;
      }
    }
  }
  return -1;
}

/** Index just past the number at `start`: digits, letters, `_` and `.`, and a sign after an exponent. */
function endOfNumber(text: string, start: number): number {
  let i = start;
  while (i < text.length) {
    const char = text[i];
    if (WORD.test(char) || char === '.') {
      i += 1;
    } else if ((char === '+' || char === '-') && /[eE]/.test(text[i - 1]) && DIGIT.test(text[i + 1] ?? '')) {
      i += 1;
    } else {
      break;
    }
  }
  return i;
}
