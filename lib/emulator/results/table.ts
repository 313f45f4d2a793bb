/** Column types the emulator produces (a subset of Databricks SQL types). */
export type ColumnType = 'STRING' | 'INT' | 'SMALLINT' | 'BIGINT' | 'BOOLEAN';

export interface ColumnDef {
  name: string;
  type: ColumnType;
}

export type CellValue = string | number | boolean | null;

/**
 * A result set whose rows are produced on demand: encoders ask for one slice at a time, so a
 * million-row result never exists in memory as a whole.
 */
export interface ResultTable {
  readonly columns: readonly ColumnDef[];
  readonly rowCount: number;
  /** Values of one column for rows `[start, end)`. */
  column(index: number, start: number, end: number): CellValue[];
}

/** `SELECT * FROM range(n)`: one BIGINT column `id` holding 0..n-1. */
export function rangeTable(rows: number): ResultTable {
  return {
    columns: [{ name: 'id', type: 'BIGINT' }],
    rowCount: rows,
    column: (_index, start, end) => Array.from({ length: Math.max(0, end - start) }, (_, i) => start + i),
  };
}

/** A small table held in memory, row by row (metadata results, `SELECT <literal>`). */
export function staticTable(columns: readonly ColumnDef[], rows: readonly CellValue[][]): ResultTable {
  return {
    columns,
    rowCount: rows.length,
    column: (index, start, end) => rows.slice(start, end).map((row) => row[index]),
  };
}

/** `SELECT <n>`: one INT column named after the literal, as Spark names it. */
export function literalTable(value: number): ResultTable {
  return staticTable([{ name: String(value), type: 'INT' }], [[value]]);
}
