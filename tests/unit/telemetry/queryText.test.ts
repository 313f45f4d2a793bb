import { expect } from 'chai';
import { MAX_QUERY_TEXT_LENGTH, sanitizeQueryText } from '../../../lib/telemetry/queryText';

describe('sanitizeQueryText', () => {
  describe('what it is given', () => {
    it('gives undefined for anything but a string', () => {
      for (const value of [undefined, null, 42, true, {}, ['SELECT 1'], Buffer.from('SELECT 1'), () => 'SELECT 1']) {
        expect(sanitizeQueryText(value), String(value)).to.equal(undefined);
      }
    });

    it('gives an empty string for an empty or blank text', () => {
      expect(sanitizeQueryText('')).to.equal('');
      expect(sanitizeQueryText(' \n\t ')).to.equal('');
    });

    it('keeps a text without literals as it is', () => {
      expect(sanitizeQueryText('SELECT a, b FROM main.sales.orders WHERE a = b')).to.equal(
        'SELECT a, b FROM main.sales.orders WHERE a = b',
      );
    });
  });

  describe('string literals', () => {
    const cases: Array<[string, string]> = [
      ["SELECT * FROM t WHERE name = 'alice'", 'SELECT * FROM t WHERE name = ?'],
      ['SELECT * FROM t WHERE name = "alice"', 'SELECT * FROM t WHERE name = ?'],
      ["SELECT 'it''s'", 'SELECT ?'],
      ['SELECT "say ""hi"""', 'SELECT ?'],
      ["SELECT 'it\\'s alice'", 'SELECT ?'],
      ['SELECT "a \\" b"', 'SELECT ?'],
      ["SELECT 'back\\\\slash', 'x'", 'SELECT ?, ?'],
      ["SELECT ''", 'SELECT ?'],
      ['SELECT ""', 'SELECT ?'],
      ["SELECT 'a' 'b'", 'SELECT ? ?'],
      ["SELECT 'multi\nline\nsecret'", 'SELECT ?'],
      ["SELECT DATE '2024-01-01', TIMESTAMP '2024-01-01 00:00:00'", 'SELECT DATE ?, TIMESTAMP ?'],
      ["SELECT INTERVAL '3' DAY", 'SELECT INTERVAL ? DAY'],
      ["SELECT X'DEADBEEF'", 'SELECT X?'],
      ['SELECT "it\'s" , \'say "hi"\'', 'SELECT ? , ?'],
      ["SELECT '-- not a comment', '/* nor this */'", 'SELECT ?, ?'],
      ["SELECT '`not an identifier`'", 'SELECT ?'],
    ];
    for (const [text, expected] of cases) {
      it(`${JSON.stringify(text)} -> ${JSON.stringify(expected)}`, () => {
        expect(sanitizeQueryText(text)).to.equal(expected);
      });
    }

    it('replaces an unterminated literal to the end of the text', () => {
      expect(sanitizeQueryText("SELECT * FROM t WHERE pw = 'hunter2 AND x = 1")).to.equal(
        'SELECT * FROM t WHERE pw = ?',
      );
      expect(sanitizeQueryText('SELECT "hunter2')).to.equal('SELECT ?');
      expect(sanitizeQueryText("SELECT 'ends with an escape\\'")).to.equal('SELECT ?');
    });
  });

  describe('numeric literals', () => {
    const cases: Array<[string, string]> = [
      ['SELECT 42', 'SELECT ?'],
      ['SELECT 0', 'SELECT ?'],
      ['SELECT 3.14', 'SELECT ?'],
      ['SELECT 1.', 'SELECT ?'],
      ['SELECT .5', 'SELECT ?'],
      ['SELECT 1.5e3, 1E10, 2.5e-3, 7e+2', 'SELECT ?, ?, ?, ?'],
      ['SELECT 10L, 5S, 1Y, 2.5BD, 3.0D, 1.5F', 'SELECT ?, ?, ?, ?, ?, ?'],
      ['SELECT -5, +7', 'SELECT -?, +?'],
      ['SELECT a+1, b-2, c*3, d/4, e%5', 'SELECT a+?, b-?, c*?, d/?, e%?'],
      ['SELECT * FROM t LIMIT 100 OFFSET 20', 'SELECT * FROM t LIMIT ? OFFSET ?'],
      ['SELECT f(1,2,3)', 'SELECT f(?,?,?)'],
      ['SELECT arr[0]', 'SELECT arr[?]'],
      ['SELECT x IN (1, 2.0, 3e1)', 'SELECT x IN (?, ?, ?)'],
    ];
    for (const [text, expected] of cases) {
      it(`${JSON.stringify(text)} -> ${JSON.stringify(expected)}`, () => {
        expect(sanitizeQueryText(text)).to.equal(expected);
      });
    }
  });

  describe('identifiers', () => {
    const cases: Array<[string, string]> = [
      ['SELECT * FROM t1', 'SELECT * FROM t1'],
      ['SELECT a2b FROM t1 JOIN t2 ON t1.id = t2.id', 'SELECT a2b FROM t1 JOIN t2 ON t1.id = t2.id'],
      ['SELECT col_1, _2col, $x3 FROM sales2024.q1', 'SELECT col_1, _2col, $x3 FROM sales2024.q1'],
      ['SELECT * FROM main.schema_2.table_3 WHERE c4 = 5', 'SELECT * FROM main.schema_2.table_3 WHERE c4 = ?'],
      ['SELECT `my table 2`.`col 1` FROM `my table 2`', 'SELECT `my table 2`.`col 1` FROM `my table 2`'],
      ["SELECT `it's 1` FROM t", "SELECT `it's 1` FROM t"],
      ['SELECT `a``b 7` FROM t', 'SELECT `a``b 7` FROM t'],
      ['SELECT `"quoted" 1`', 'SELECT `"quoted" 1`'],
      ['SELECT log10(x), atan2(y, 2)', 'SELECT log10(x), atan2(y, ?)'],
    ];
    for (const [text, expected] of cases) {
      it(`${JSON.stringify(text)} -> ${JSON.stringify(expected)}`, () => {
        expect(sanitizeQueryText(text)).to.equal(expected);
      });
    }

    it('keeps parameter markers, which carry no value', () => {
      expect(sanitizeQueryText('SELECT * FROM t WHERE a = ? AND b = :name')).to.equal(
        'SELECT * FROM t WHERE a = ? AND b = :name',
      );
    });
  });

  describe('comments and whitespace', () => {
    const cases: Array<[string, string]> = [
      ['SELECT 1 -- the secret is hunter2', 'SELECT ?'],
      ['SELECT a -- first\nFROM t -- second', 'SELECT a FROM t'],
      ['SELECT /* hunter2 */ a FROM t', 'SELECT a FROM t'],
      ['SELECT a/*x*/FROM t', 'SELECT a FROM t'],
      ['SELECT /* multi\nline\ncomment */ a', 'SELECT a'],
      ['SELECT a FROM t /* unterminated hunter2', 'SELECT a FROM t'],
      ["SELECT a -- it's\nFROM t WHERE b = 'x'", 'SELECT a FROM t WHERE b = ?'],
      ['/* leading */ SELECT 1', 'SELECT ?'],
      ['  SELECT\n\n  a,\tb\r\n  FROM   t  ', 'SELECT a, b FROM t'],
      ['SELECT a - b, c / d FROM t', 'SELECT a - b, c / d FROM t'],
    ];
    for (const [text, expected] of cases) {
      it(`${JSON.stringify(text)} -> ${JSON.stringify(expected)}`, () => {
        expect(sanitizeQueryText(text)).to.equal(expected);
      });
    }
  });

  describe('no literal survives', () => {
    const SECRETS = ['hunter2', 'AKIA9Z8Y7X6W', 'alice@example.com', '4111111111111111', 's3cr3t-t0k3n'];

    /** Every way a secret can be written as a literal; `%s` is the secret. */
    const FORMS = [
      "'%s'",
      '"%s"',
      "'prefix %s suffix'",
      "'it''s %s'",
      '"say ""%s"""',
      "'esc\\'aped %s'",
      '"esc\\"aped %s"',
      "'%s\\\\'",
      "'line\n%s\nline'",
      "'-- %s'",
      "'/* %s */'",
      "'`%s`'",
      '"\'%s\'"',
      '\'"%s"\'',
      "DATE '%s'",
      "X'%s'",
      "'%s",
      '"%s',
      '-- %s',
      '/* %s */',
      '/* %s',
    ];

    /** Where the literal goes. */
    const CONTEXTS = [
      'SELECT %l',
      'SELECT * FROM t1 WHERE c2 = %l',
      'SELECT %l AS a, %l AS b FROM t',
      "INSERT INTO t VALUES (1, %l, 'x')",
      'SELECT f(%l) FROM `tbl 3` WHERE a IN (%l, 42)',
      'UPDATE t SET a=%l WHERE b=%l',
      '%l',
    ];

    /** A form left open runs to the end of the text: only one of them, and last. */
    const unterminated = (form: string) => /^(?:'%s|"%s|\/\* %s)$/.test(form);

    it('for every secret, literal form and position', () => {
      let checked = 0;
      for (const secret of SECRETS) {
        for (const form of FORMS) {
          for (const context of CONTEXTS) {
            if (unterminated(form) && !context.endsWith('%l')) {
              continue;
            }
            const literal = form.split('%s').join(secret);
            const slots = context.split('%l');
            // An open form fills the last slot only; the others get a closed literal.
            const text = slots.reduce((joined, part, index) => {
              const fill = unterminated(form) && index < slots.length - 1 ? "'x'" : literal;
              return `${joined}${fill}${part}`;
            });
            const sanitized = sanitizeQueryText(text);
            expect(sanitized, text).to.be.a('string');
            expect(sanitized, text).not.to.include(secret);
            for (const piece of secret.split(/[^A-Za-z0-9]+/).filter((part) => part.length > 2)) {
              expect(sanitized, `${text} (${piece})`).not.to.include(piece);
            }
            checked += 1;
          }
        }
      }
      expect(checked).to.be.above(SECRETS.length * FORMS.length * 5);
    });

    it('for numbers of every form and position', () => {
      const numbers = ['987654', '98765.4321', '.98765', '9876e54', '9.876E-54', '987654L', '98765.4BD', '987654S'];
      for (const number of numbers) {
        for (const context of CONTEXTS) {
          const text = context.split('%l').join(number);
          const sanitized = sanitizeQueryText(text)!;
          expect(sanitized, text).not.to.match(/9876/);
          expect(sanitized, text).to.include('?');
        }
      }
    });

    it('for random well-formed texts whose literals hold quotes, escapes, comment marks and a secret', () => {
      // A small deterministic generator: the same texts on every run.
      let seed = 12345;
      const next = (n: number) => {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        return seed % n;
      };
      const pick = <T>(values: readonly T[]): T => values[next(values.length)];
      const contentPieces = ["'", '"', '\\', '`', '--', '/*', '*/', ' ', '\n', 'a', '1', 'x2', '?', ';'];

      /** A random literal holding `secret`, each quote and backslash escaped as SQL allows. */
      function literal(secret: string): string {
        const parts: string[] = [];
        for (let i = next(8); i > 0; i -= 1) {
          parts.push(pick(contentPieces));
        }
        parts.splice(next(parts.length + 1), 0, secret);
        const quote = pick(["'", '"']);
        const body = parts
          .join('')
          .replace(/[\\'"]/g, (char) => (char === quote && next(2) === 0 ? `${quote}${quote}` : `\\${char}`));
        return `${pick(['', '', 'DATE ', 'X'])}${quote}${body}${quote}`;
      }

      /** Something else SQL has between literals: identifiers, numbers, closed comments. */
      function other(): string {
        return pick([
          'SELECT',
          ' ',
          '\n',
          ',',
          '(',
          ')',
          '=',
          't1',
          'a2b',
          '`tbl 9`',
          '`a``b`',
          '12',
          '3.5e2',
          '-- note\n',
          '/* note */',
          "''",
        ]);
      }

      for (let run = 0; run < 1000; run += 1) {
        const secret = `hunter${run}z`;
        const parts: string[] = [];
        for (let i = next(10); i > 0; i -= 1) {
          parts.push(other(), ' ');
        }
        parts.push(literal(secret));
        for (let i = next(10); i > 0; i -= 1) {
          parts.push(' ', other());
        }
        const text = parts.join('');
        const sanitized = sanitizeQueryText(text);
        expect(sanitized, text).not.to.include('hunter');
        expect(sanitized, text).to.include('?');
      }
    });
  });

  describe('length', () => {
    it('is cut at MAX_QUERY_TEXT_LENGTH', () => {
      expect(MAX_QUERY_TEXT_LENGTH).to.equal(4096);
      const text = `SELECT ${'a, '.repeat(3000)}b FROM t`;
      const sanitized = sanitizeQueryText(text)!;
      expect(sanitized).to.have.length(MAX_QUERY_TEXT_LENGTH);
      expect(text.startsWith(sanitized)).to.equal(true);
    });

    it('keeps a text of exactly MAX_QUERY_TEXT_LENGTH whole', () => {
      const text = `SELECT ${'x'.repeat(MAX_QUERY_TEXT_LENGTH - 7)}`;
      expect(text).to.have.length(MAX_QUERY_TEXT_LENGTH);
      expect(sanitizeQueryText(text)).to.equal(text);
    });

    it('is cut after sanitizing, so a long literal never shows through the cut', () => {
      const secret = 'hunter2'.repeat(1000);
      const sanitized = sanitizeQueryText(`SELECT '${secret}' FROM t`)!;
      expect(sanitized).to.equal('SELECT ? FROM t');
      const many = sanitizeQueryText(`SELECT ${"'hunter2', ".repeat(2000)}1`)!;
      expect(many).to.have.length(MAX_QUERY_TEXT_LENGTH);
      expect(many).not.to.include('hunter2');
      expect(many.startsWith('SELECT ?, ?, ?')).to.equal(true);
    });

    it('collapses whitespace before cutting', () => {
      const text = `SELECT${' '.repeat(10000)}a`;
      expect(sanitizeQueryText(text)).to.equal('SELECT a');
    });

    it('is fast on long adversarial texts', () => {
      const texts = [
        `'${"''".repeat(50000)}`,
        `'${"\\'".repeat(50000)}`,
        '/*'.repeat(50000),
        'a1'.repeat(50000),
        `"${'\\'.repeat(100001)}`,
        '`'.repeat(100001),
      ];
      for (const text of texts) {
        const started = Date.now();
        sanitizeQueryText(text);
        expect(Date.now() - started, text.slice(0, 10)).to.be.below(1000);
      }
    });
  });
});
