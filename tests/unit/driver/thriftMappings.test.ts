import { expect } from 'chai';
import { randomBytes } from 'crypto';
import { parse, stringify, v1, v4, v7 } from 'uuid';
import { thrift } from '@databricks/sql';
import {
  OPERATION_STARTING_RPCS,
  OPERATION_STATE,
  executionResultOf,
  guidToUuid,
  isErrorStatus,
} from '../../../lib/driver/thriftMappings';

const { TSparkRowSetType, TStatusCode, TOperationState } = thrift.TCLIService_types;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('thriftMappings', () => {
  describe('guidToUuid', () => {
    it('gives the same canonical lower-case text as uuid.stringify (the driver session.id / operation.id)', () => {
      const samples = [
        Buffer.alloc(16, 0),
        Buffer.alloc(16, 0xff),
        Buffer.from('01F0A1B2C3D41E5F8A9B0C1D2E3F4A5B', 'hex'),
        ...Array.from({ length: 20 }, () => Buffer.from(parse(v1()))),
        ...Array.from({ length: 20 }, () => Buffer.from(parse(v4()))),
        ...Array.from({ length: 20 }, () => Buffer.from(parse(v7()))),
      ];
      for (const guid of samples) {
        const text = guidToUuid(guid);
        expect(text).to.equal(stringify(guid));
        expect(text).to.match(UUID);
      }
    });

    it('places the dashes after bytes 4, 6, 8 and 10', () => {
      expect(guidToUuid(Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex'))).to.equal(
        '00010203-0405-0607-0809-0a0b0c0d0e0f',
      );
    });

    it('accepts a plain Uint8Array as the Thrift decoder may give', () => {
      const bytes = Uint8Array.from(parse(v4()));
      expect(guidToUuid(bytes)).to.equal(stringify(bytes));
    });

    it('formats any 16 bytes as lower-case hex, even those uuid.stringify rejects as not a UUID', () => {
      for (let i = 0; i < 50; i += 1) {
        const bytes = randomBytes(16);
        const hex = bytes.toString('hex');
        const expected = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
        expect(guidToUuid(bytes)).to.equal(expected);
      }
    });

    it('reads only the 16 bytes of a Buffer view into a larger pool', () => {
      const pool = Buffer.from('ffffffff00112233445566778899aabbccddeeffffffffff', 'hex');
      const view = pool.subarray(4, 20);
      expect(guidToUuid(view)).to.equal('00112233-4455-6677-8899-aabbccddeeff');
    });

    it('returns undefined for the wrong length or anything that is not bytes', () => {
      const bad: unknown[] = [
        undefined,
        null,
        Buffer.alloc(0),
        Buffer.alloc(15),
        Buffer.alloc(17),
        '0123456789abcdef',
        'a'.repeat(36),
        Array.from({ length: 16 }, () => 1),
        { length: 16 },
        16,
        new ArrayBuffer(16),
      ];
      for (const value of bad) {
        expect(guidToUuid(value), String(value)).to.equal(undefined);
      }
    });
  });

  describe('executionResultOf', () => {
    it('maps every TSparkRowSetType to its wire execution result', () => {
      const expected: Record<string, string> = {
        ARROW_BASED_SET: 'INLINE_ARROW',
        COLUMN_BASED_SET: 'COLUMNAR_INLINE',
        ROW_BASED_SET: 'FORMAT_UNSPECIFIED',
        URL_BASED_SET: 'EXTERNAL_LINKS',
      };
      const names = Object.keys(TSparkRowSetType).filter((key) => Number.isNaN(Number(key)));
      expect(names).to.have.members(Object.keys(expected));
      for (const name of names) {
        const value = (TSparkRowSetType as unknown as Record<string, number>)[name];
        expect(executionResultOf(value), name).to.equal(expected[name]);
      }
    });

    it('is FORMAT_UNSPECIFIED for missing or unknown values, including the enum names as strings', () => {
      for (const value of [undefined, null, 99, -1, '0', 'URL_BASED_SET', {}]) {
        expect(executionResultOf(value)).to.equal('FORMAT_UNSPECIFIED');
      }
    });
  });

  describe('isErrorStatus', () => {
    it('is true only for ERROR_STATUS and INVALID_HANDLE_STATUS', () => {
      expect(isErrorStatus({ statusCode: TStatusCode.ERROR_STATUS })).to.equal(true);
      expect(isErrorStatus({ statusCode: TStatusCode.INVALID_HANDLE_STATUS })).to.equal(true);
      expect(isErrorStatus({ statusCode: TStatusCode.SUCCESS_STATUS })).to.equal(false);
      expect(isErrorStatus({ statusCode: TStatusCode.SUCCESS_WITH_INFO_STATUS })).to.equal(false);
      expect(isErrorStatus({ statusCode: TStatusCode.STILL_EXECUTING_STATUS })).to.equal(false);
    });

    it('is false for a missing status or status code', () => {
      expect(isErrorStatus(undefined)).to.equal(false);
      expect(isErrorStatus({})).to.equal(false);
      expect(isErrorStatus({ statusCode: String(TStatusCode.ERROR_STATUS) })).to.equal(false);
    });
  });

  describe('constants', () => {
    it('names RPCs the driver Thrift client really has, with their wire operation types', () => {
      expect(OPERATION_STARTING_RPCS).to.deep.equal({
        ExecuteStatement: 'EXECUTE_STATEMENT',
        GetTypeInfo: 'LIST_TYPE_INFO',
        GetCatalogs: 'LIST_CATALOGS',
        GetSchemas: 'LIST_SCHEMAS',
        GetTables: 'LIST_TABLES',
        GetTableTypes: 'LIST_TABLE_TYPES',
        GetColumns: 'LIST_COLUMNS',
        GetFunctions: 'LIST_FUNCTIONS',
        GetPrimaryKeys: 'LIST_PRIMARY_KEYS',
        GetCrossReference: 'LIST_CROSS_REFERENCES',
      });
      const client = thrift.TCLIService.Client.prototype as unknown as Record<string, unknown>;
      for (const rpc of Object.keys(OPERATION_STARTING_RPCS)) {
        expect(typeof client[rpc], rpc).to.equal('function');
      }
    });

    it('uses the driver TOperationState values', () => {
      expect(OPERATION_STATE).to.deep.equal({
        FINISHED: TOperationState.FINISHED_STATE,
        ERROR: TOperationState.ERROR_STATE,
        CANCELED: TOperationState.CANCELED_STATE,
        CLOSED: TOperationState.CLOSED_STATE,
        TIMEDOUT: TOperationState.TIMEDOUT_STATE,
      });
    });
  });
});
