/** Longest statement text put on a span; longer texts are cut (after sanitizing, so no literal is split). */
export const MAX_QUERY_TEXT_LENGTH = 4096;

/**
 * One token of SQL text that sanitizing either keeps or replaces: a quoted identifier (kept),
 * a string literal (Spark SQL takes double quotes as strings too, and backslash escapes), a
 * comment, or a numeric literal. A quote or comment left open runs to the end of the text, so an
 * unterminated literal is replaced as a whole.
 */
const TOKEN =
  /`(?:[^`]|``)*(?:`|$)|'(?:[^'\\]|\\[\s\S]|'')*(?:'|$)|"(?:[^"\\]|\\[\s\S]|"")*(?:"|$)|--[^\n]*|\/\*[\s\S]*?(?:\*\/|$)|(?<![\w$])(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?[A-Za-z]*/g;

/**
 * The statement's text as the database semantic conventions allow it on a span: every literal
 * (string, number, including in hexadecimal or typed form) replaced by `?`, comments removed,
 * whitespace collapsed. Parameters are never part of it: the driver sends them apart from the text.
 */
export function sanitizeQueryText(text: unknown): string | undefined {
  if (typeof text !== 'string') {
    return undefined;
  }
  const sanitized = text
    .replace(TOKEN, (token) => {
      const first = token.charAt(0);
      if (first === '`') {
        return token;
      }
      if (first === '-' || (first === '/' && token.charAt(1) === '*')) {
        return ' ';
      }
      return '?';
    })
    .replace(/\s+/g, ' ')
    .trim();
  return sanitized.length > MAX_QUERY_TEXT_LENGTH ? sanitized.slice(0, MAX_QUERY_TEXT_LENGTH) : sanitized;
}
