import { T, TColumn, TTableSchema } from '../thrift';
import { CellValue, ColumnType, ResultTable } from './table';

const TYPE_IDS: Record<ColumnType, number> = {
  STRING: T.TTypeId.STRING_TYPE,
  INT: T.TTypeId.INT_TYPE,
  SMALLINT: T.TTypeId.SMALLINT_TYPE,
  BIGINT: T.TTypeId.BIGINT_TYPE,
  BOOLEAN: T.TTypeId.BOOLEAN_TYPE,
};

/** The Hive schema every result carries, whatever its format. */
export function tableSchema(table: ResultTable): TTableSchema {
  return {
    columns: table.columns.map((column, i) => ({
      columnName: column.name,
      typeDesc: { types: [{ primitiveEntry: { type: TYPE_IDS[column.type] } }] },
      position: i + 1,
    })),
  };
}

/** Null bitmap: bit i (least significant first) set when row i is null. */
function nullBitmap(values: readonly CellValue[]): Buffer {
  const bitmap = Buffer.alloc(Math.ceil(values.length / 8));
  values.forEach((value, i) => {
    if (value === null) {
      bitmap[i >> 3] |= 1 << (i & 7);
    }
  });
  return bitmap;
}

function encodeColumn(type: ColumnType, values: CellValue[]): TColumn {
  const nulls = nullBitmap(values);
  switch (type) {
    case 'STRING':
      return { stringVal: { values: values.map((v) => (v === null ? '' : String(v))), nulls } };
    case 'BOOLEAN':
      return { boolVal: { values: values.map((v) => v === true), nulls } };
    case 'SMALLINT':
      return { i16Val: { values: values.map((v) => Number(v ?? 0)), nulls } };
    case 'INT':
      return { i32Val: { values: values.map((v) => Number(v ?? 0)), nulls } };
    case 'BIGINT':
      return { i64Val: { values: values.map((v) => Number(v ?? 0)), nulls } };
  }
}

/** Rows `[start, end)` as Thrift columns (COLUMN_BASED_SET). */
export function encodeColumns(table: ResultTable, start: number, end: number): TColumn[] {
  return table.columns.map((column, i) => encodeColumn(column.type, table.column(i, start, end)));
}
