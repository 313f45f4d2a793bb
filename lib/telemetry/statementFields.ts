import type { ExecutionResultFormat } from './types';
import { bool, int, int32, oneOf, WireRead } from './wire/values';

/**
 * One value the adapter measures for a statement and reports when the statement ends, carried
 * unchanged to the wire: the engine's event, the aggregator's state, the serializer's layout, the
 * export allow-list and the generated docs all follow from its entry below.
 */
export interface MeasuredField<T> {
  /**
   * JSON path under `entry.sql_driver_log.sql_operation`; absent for a field the proto has no
   * place for, which only the application's OpenTelemetry output gets.
   */
  wire?: string;
  /** For the docs' field table. */
  description: string;
  /** Written as a JSON number or boolean (`bare`), or as an enum string (`quoted`). */
  type: 'bare' | 'quoted';
  /** Checks the value as it leaves. */
  write: WireRead;
  /** Checks the value as the aggregator takes it: the value, or undefined to keep what it had. */
  accept: (value: unknown) => T | undefined;
  /** Sent only for statements that had CloudFetch chunks (zeros for inline results only add bytes). */
  chunks?: true;
}

/** A count or a duration: a finite number not below zero. */
function count(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}

function flag(value: unknown): boolean | undefined {
  return typeof value === 'boolean' ? value : undefined;
}

function measured<T>(field: MeasuredField<T>): MeasuredField<T> {
  return Object.freeze(field);
}

// A format the adapter could not name is not sent: the proto has no value for it but its unset zero.
const NAMED_FORMATS: ReadonlySet<string> = new Set([
  'INLINE_ARROW',
  'INLINE_JSON',
  'EXTERNAL_LINKS',
  'COLUMNAR_INLINE',
]);
const FORMATS: ReadonlySet<string> = new Set([...NAMED_FORMATS, 'FORMAT_UNSPECIFIED']);

/**
 * Every measured statement field, by the property the adapter sets. Adding one here, measuring it
 * in the adapter (ThriftClientObserver, OperationObservation) is all a new field takes.
 */
export const MEASURED_STATEMENT_FIELDS = Object.freeze({
  isCompressed: measured<boolean>({
    wire: 'is_compressed',
    description: 'Whether the server sent LZ4-compressed results.',
    type: 'bare',
    write: bool,
    accept: flag,
  }),
  executionResult: measured<ExecutionResultFormat>({
    wire: 'execution_result',
    description: 'Result format (INLINE_ARROW, EXTERNAL_LINKS, ...).',
    type: 'quoted',
    write: oneOf(NAMED_FORMATS),
    accept: (value) => (typeof value === 'string' && FORMATS.has(value) ? (value as ExecutionResultFormat) : undefined),
  }),
  retryCount: measured<number>({
    wire: 'retry_count',
    description: 'HTTP retries the driver made for the statement.',
    type: 'bare',
    write: int,
    accept: count,
  }),
  chunksPresent: measured<number>({
    wire: 'chunk_details.total_chunks_present',
    description: 'Chunks the server announced.',
    type: 'bare',
    write: int32,
    accept: count,
    chunks: true,
  }),
  resultReadyLatencyMs: measured<number>({
    wire: 'result_latency.result_set_ready_latency_millis',
    description: 'Execute call to first result.',
    type: 'bare',
    write: int,
    accept: count,
  }),
  resultConsumptionLatencyMs: measured<number>({
    wire: 'result_latency.result_set_consumption_latency_millis',
    description: 'First to last result.',
    type: 'bare',
    write: int,
    accept: count,
  }),
  pollCount: measured<number>({
    wire: 'operation_detail.n_operation_status_calls',
    description: 'Status polls made.',
    type: 'bare',
    write: int32,
    accept: count,
  }),
  pollLatencyMs: measured<number>({
    wire: 'operation_detail.operation_status_latency_millis',
    description: 'Time spent polling status.',
    type: 'bare',
    write: int,
    accept: count,
  }),
  rowsReturned: measured<number>({
    description: 'Rows the server returned (OpenTelemetry only).',
    type: 'bare',
    write: int,
    accept: count,
  }),
});

/** A measured field that is uploaded, with its wire path. */
export type UploadedField = Omit<MeasuredField<unknown>, 'wire'> & { wire: string };

/** The measured fields that are uploaded, by property. */
export const UPLOADED_STATEMENT_FIELDS: ReadonlyArray<readonly [string, UploadedField]> = Object.freeze(
  Object.entries(MEASURED_STATEMENT_FIELDS as Record<string, MeasuredField<unknown>>).flatMap(([property, field]) =>
    field.wire === undefined ? [] : [[property, { ...field, wire: field.wire }] as const],
  ),
);

type Fields = typeof MEASURED_STATEMENT_FIELDS;

/** The measured fields as the events and the aggregator's state carry them. */
export type MeasuredStatementFields = {
  -readonly [K in keyof Fields]?: Fields[K] extends MeasuredField<infer T> ? T : never;
};

export type MeasuredStatementField = keyof Fields;

export const MEASURED_STATEMENT_FIELD_NAMES = Object.freeze(
  Object.keys(MEASURED_STATEMENT_FIELDS) as MeasuredStatementField[],
);

const PROPERTY = /^[A-Za-z]+$/;

/**
 * Straight-line code over the field names, with the loop as the fallback where code generation
 * from strings is forbidden: a statement's fields are copied on every statement, and named
 * property access is several times faster there than a loop with keyed access. The source holds
 * only the names of the table, each checked against a strict pattern.
 */
function compiled<F>(
  params: string[],
  line: (name: string, index: number) => string,
  fallback: F,
  ...args: unknown[]
): F {
  if (!MEASURED_STATEMENT_FIELD_NAMES.every((name) => PROPERTY.test(name))) {
    throw new Error('statementFields: invalid property name');
  }
  try {
    const body = MEASURED_STATEMENT_FIELD_NAMES.map(line).join('\n');
    return new Function(...params, `return function (from, to) {\nlet v;\n${body}\n};`)(...args) as F;
  } catch (error) {
    if (!(error instanceof EvalError)) {
      throw error;
    }
    return fallback;
  }
}

/** Copies the measured fields of `from` onto `to` as they are: for the emitter's event. */
export const copyMeasuredFields: (from: MeasuredStatementFields, to: MeasuredStatementFields) => void = compiled(
  [],
  (name) => `to.${name} = from.${name};`,
  (from: MeasuredStatementFields, to: MeasuredStatementFields) => {
    for (const name of MEASURED_STATEMENT_FIELD_NAMES) {
      (to as Record<string, unknown>)[name] = from[name];
    }
  },
);

const ACCEPTS = MEASURED_STATEMENT_FIELD_NAMES.map((name) => MEASURED_STATEMENT_FIELDS[name].accept);

/** Takes the measured fields of `from` that pass their check onto `to`, keeping what `to` had for the rest. */
export const acceptMeasuredFields: (from: MeasuredStatementFields, to: MeasuredStatementFields) => void = compiled(
  ['accepts'],
  (name, index) => `v = accepts[${index}](from.${name}); if (v !== undefined) to.${name} = v;`,
  (from: MeasuredStatementFields, to: MeasuredStatementFields) => {
    for (const name of MEASURED_STATEMENT_FIELD_NAMES) {
      const value = MEASURED_STATEMENT_FIELDS[name].accept(from[name]);
      if (value !== undefined) {
        (to as Record<string, unknown>)[name] = value;
      }
    }
  },
  ACCEPTS,
);
