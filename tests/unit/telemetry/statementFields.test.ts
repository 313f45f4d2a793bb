import { expect } from 'chai';
import { execFileSync } from 'child_process';
import path from 'path';
import {
  acceptMeasuredFields,
  copyMeasuredFields,
  MEASURED_STATEMENT_FIELD_NAMES,
  MEASURED_STATEMENT_FIELDS,
  MeasuredStatementFields,
  UPLOADED_STATEMENT_FIELDS,
} from '../../../lib/telemetry/statementFields';
import { EXPORT_ALLOW_LIST } from '../../../lib/telemetry/wire/exportAllowList';
import { serializeProtoLog } from '../../../lib/telemetry/wire/serializer';
import { TelemetryLog } from '../../../lib/telemetry/types';

const OP = 'entry.sql_driver_log.sql_operation';

const MEASURED: Required<MeasuredStatementFields> = {
  isCompressed: true,
  executionResult: 'EXTERNAL_LINKS',
  retryCount: 2,
  chunksPresent: 3,
  resultReadyLatencyMs: 40,
  resultConsumptionLatencyMs: 50,
  pollCount: 6,
  pollLatencyMs: 70,
  rowsReturned: 80,
};

/** Walks `wire` (dotted) inside a parsed object. */
function at(value: unknown, wire: string): unknown {
  return wire.split('.').reduce<unknown>((inner, key) => (inner as Record<string, unknown> | undefined)?.[key], value);
}

describe('statementFields: one definition per measured statement field', () => {
  it('puts every uploaded field on the export allow-list, for statement logs only, never unauthenticated', () => {
    for (const [name, { wire, description }] of UPLOADED_STATEMENT_FIELDS) {
      const tag = EXPORT_ALLOW_LIST.find((entry) => entry.path === `${OP}.${wire}`);
      expect(tag, name).to.deep.include({ kinds: ['statement'], unauthenticated: false, description });
    }
  });

  it('sends every field at its wire path, from the statement the aggregator built', () => {
    const log: TelemetryLog = {
      kind: 'statement',
      eventId: '9b2f6c1e-4a57-4c1e-9d8e-2b1f0c7a6d55',
      timestamp: 1,
      statement: { ...MEASURED, chunksIterated: 3, chunkSumLatencyMs: 9, bytesDownloaded: 10 },
    };
    const sent = JSON.parse(JSON.parse(serializeProtoLog(log, 'ua', false) as string));
    for (const [name, { wire }] of UPLOADED_STATEMENT_FIELDS) {
      expect(at(sent, `${OP}.${wire}`), name).to.equal(MEASURED[name as keyof typeof MEASURED]);
    }
  });

  it('uploads every field with a wire path, and a field without one never', () => {
    const uploaded = UPLOADED_STATEMENT_FIELDS.map(([name]) => name);
    const withWire = MEASURED_STATEMENT_FIELD_NAMES.filter(
      (name) => MEASURED_STATEMENT_FIELDS[name].wire !== undefined,
    );
    expect(uploaded).to.deep.equal(withWire);
    expect(uploaded).to.not.include('rowsReturned');
    const log: TelemetryLog = {
      kind: 'statement',
      eventId: '9b2f6c1e-4a57-4c1e-9d8e-2b1f0c7a6d55',
      timestamp: 1,
      statement: { ...MEASURED, rowsReturned: 123456789, chunksIterated: 0, chunkSumLatencyMs: 0, bytesDownloaded: 0 },
    };
    expect(serializeProtoLog(log, 'ua', false)).to.not.include('123456789');
  });

  it('copies every field as it is, and nothing else', () => {
    const to: MeasuredStatementFields & { other?: string } = {};
    copyMeasuredFields({ ...MEASURED, other: 'x' } as MeasuredStatementFields, to);
    expect(to).to.deep.equal(MEASURED);
  });

  it('takes the values that pass their check and keeps what it had for the rest', () => {
    const to: MeasuredStatementFields = { isCompressed: false, retryCount: 1 };
    acceptMeasuredFields(
      { isCompressed: 'yes', retryCount: -1, pollCount: 4, executionResult: 'CSV', pollLatencyMs: Number.NaN } as never,
      to,
    );
    expect(to).to.deep.equal({ isCompressed: false, retryCount: 1, pollCount: 4 });
    acceptMeasuredFields(MEASURED, to);
    expect(to).to.deep.equal(MEASURED);
  });

  it('works the same where code generation from strings is forbidden', function () {
    this.timeout(20000);
    const module = path.resolve(__dirname, '../../../lib/telemetry/statementFields.ts');
    const script = `
      const { copyMeasuredFields, acceptMeasuredFields } = require(${JSON.stringify(module)});
      const copied = {}; copyMeasuredFields(${JSON.stringify({ ...MEASURED, other: 1 })}, copied);
      const accepted = { isCompressed: false }; acceptMeasuredFields({ isCompressed: 'no', pollCount: 4 }, accepted);
      process.stdout.write(JSON.stringify([copied, accepted]));`;
    const output = execFileSync(
      process.execPath,
      ['--disallow-code-generation-from-strings', '-r', 'ts-node/register/transpile-only', '-e', script],
      {
        encoding: 'utf8',
      },
    );
    expect(JSON.parse(output)).to.deep.equal([MEASURED, { isCompressed: false, pollCount: 4 }]);
  });
});
