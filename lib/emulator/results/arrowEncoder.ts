import {
  Bool,
  DataType,
  Field,
  Int16,
  Int32,
  Int64,
  makeData,
  RecordBatch,
  RecordBatchStreamWriter,
  Schema,
  Struct,
  Utf8,
  vectorFromArray,
} from 'apache-arrow';
import { ColumnType, ResultTable } from './table';

/** Rows per Arrow record batch inside one page or file: real files hold several batches too. */
const ROWS_PER_BATCH = 50_000;

function arrowType(type: ColumnType): DataType {
  switch (type) {
    case 'STRING':
      return new Utf8();
    case 'INT':
      return new Int32();
    case 'SMALLINT':
      return new Int16();
    case 'BIGINT':
      return new Int64();
    case 'BOOLEAN':
      return new Bool();
  }
}

function arrowSchemaOf(table: ResultTable): Schema {
  return new Schema(table.columns.map((column) => new Field(column.name, arrowType(column.type), true)));
}

function recordBatch(schema: Schema, table: ResultTable, start: number, end: number): RecordBatch {
  const children = schema.fields.map((field, i) => {
    const values = table.column(i, start, end);
    // BIGINT without nulls (the million-row case) skips the generic, slower builder.
    if (table.columns[i].type === 'BIGINT' && !values.includes(null)) {
      return makeData({
        type: new Int64(),
        length: values.length,
        data: BigInt64Array.from(values, (v) => BigInt(v as number)),
      });
    }
    return vectorFromArray(values as unknown[], field.type).data[0];
  });
  return new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: end - start, children }));
}

/** An Arrow IPC stream (schema, record batches, end marker) for rows `[start, end)`. */
export function arrowStream(table: ResultTable, start: number, end: number): Buffer {
  const schema = arrowSchemaOf(table);
  const writer = new RecordBatchStreamWriter();
  writer.reset(undefined, schema);
  for (let from = start; from < end; from += ROWS_PER_BATCH) {
    writer.write(recordBatch(schema, table, from, Math.min(end, from + ROWS_PER_BATCH)));
  }
  writer.finish();
  return Buffer.from(writer.toUint8Array(true));
}

/** Length of the leading schema message: continuation marker, length, flatbuffer; no body. */
function schemaMessageLength(stream: Buffer): number {
  return 8 + stream.readInt32LE(4);
}

const END_OF_STREAM_LENGTH = 8;

/**
 * Inline Arrow splits the stream as the server does: the schema message goes once in the result
 * metadata (`arrowSchema`), each page carries record-batch messages only.
 */
export function arrowSchemaMessage(table: ResultTable): Buffer {
  const stream = arrowStream(table, 0, 0);
  return stream.subarray(0, schemaMessageLength(stream));
}

/** Record-batch messages for rows `[start, end)`, without schema or end marker. */
export function arrowBatchMessages(table: ResultTable, start: number, end: number): Buffer {
  const stream = arrowStream(table, start, end);
  return stream.subarray(schemaMessageLength(stream), stream.length - END_OF_STREAM_LENGTH);
}
