import { expect } from 'chai';
import { thrift } from '@databricks/sql';
import { readThriftCall, ThriftCall } from '../../../lib/driver/thriftCall';

const { TCLIService } = thrift;

// The `thrift` runtime (a dependency of the driver) ships without types: only what these tests use.
interface ThriftRuntime {
  TBufferedTransport: new (buffer: undefined, onFlush: (data: Buffer) => void) => object;
  TBinaryProtocol: new (transport: object, strictRead?: boolean, strictWrite?: boolean) => object;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const thriftRuntime = require('thrift') as ThriftRuntime;

// Thrift binary protocol type ids and message types.
const T_STOP = 0;
const T_BOOL = 2;
const T_BYTE = 3;
const T_DOUBLE = 4;
const T_I16 = 6;
const T_I32 = 8;
const T_I64 = 10;
const T_STRING = 11;
const T_STRUCT = 12;
const T_MAP = 13;
const T_SET = 14;
const T_LIST = 15;
const CALL = 1;
const ONEWAY = 4;

const OPERATION_GUID = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
const SESSION_GUID = Buffer.from('0f1e2d3c4b5a69788796a5b4c3d2e1f0', 'hex');
const SECRET = Buffer.alloc(16, 0xbb);

/** A hand-rolled Thrift binary-protocol writer, so bodies can be malformed on purpose. */
class Writer {
  private readonly parts: Buffer[] = [];

  raw(bytes: Buffer | number[]): this {
    this.parts.push(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes));
    return this;
  }

  byte(value: number): this {
    const buffer = Buffer.alloc(1);
    buffer.writeInt8((value << 24) >> 24);
    return this.raw(buffer);
  }

  i16(value: number): this {
    const buffer = Buffer.alloc(2);
    buffer.writeInt16BE(value);
    return this.raw(buffer);
  }

  i32(value: number): this {
    const buffer = Buffer.alloc(4);
    buffer.writeInt32BE(value | 0);
    return this.raw(buffer);
  }

  i64(value: bigint): this {
    const buffer = Buffer.alloc(8);
    buffer.writeBigInt64BE(value);
    return this.raw(buffer);
  }

  double(value: number): this {
    const buffer = Buffer.alloc(8);
    buffer.writeDoubleBE(value);
    return this.raw(buffer);
  }

  string(value: string | Buffer): this {
    const bytes = Buffer.isBuffer(value) ? value : Buffer.from(value, 'utf8');
    return this.i32(bytes.length).raw(bytes);
  }

  field(type: number, id: number): this {
    return this.byte(type).i16(id);
  }

  stop(): this {
    return this.byte(T_STOP);
  }

  strictHeader(name: string, seqid: number, type = CALL): this {
    return this.i32(0x80010000 | type)
      .string(name)
      .i32(seqid);
  }

  oldHeader(name: string, seqid: number, type = CALL): this {
    return this.string(name).byte(type).i32(seqid);
  }

  /** A THandleIdentifier: guid (1), secret (2). */
  handleIdentifier(guid: Buffer): this {
    return this.field(T_STRING, 1).string(guid).field(T_STRING, 2).string(SECRET).stop();
  }

  /** A TOperationHandle as the driver writes it: operationId (1), operationType (2), hasResultSet (3). */
  operationHandle(guid: Buffer): this {
    this.field(T_STRUCT, 1).handleIdentifier(guid);
    return this.field(T_I32, 2).i32(0).field(T_BOOL, 3).byte(1).stop();
  }

  build(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** `args { 1: req { 1: operationHandle } }` after the given header. */
function operationCall(header: (writer: Writer) => Writer, guid = OPERATION_GUID): Buffer {
  const writer = header(new Writer());
  writer.field(T_STRUCT, 1); // args.req
  writer.field(T_STRUCT, 1).operationHandle(guid); // req.operationHandle
  writer.field(T_BOOL, 2).byte(1); // req.getProgressUpdate
  return writer.stop().stop().build(); // req, args
}

/** A body as the driver sends it: its generated client writing through the `thrift` package. */
function driverBody(send: (client: InstanceType<typeof TCLIService.Client>) => void, strictWrite = true): Buffer[] {
  const bodies: Buffer[] = [];
  const transport = new thriftRuntime.TBufferedTransport(undefined, (data) => bodies.push(Buffer.from(data)));
  const Protocol = function Protocol(trans: object) {
    return new thriftRuntime.TBinaryProtocol(trans, false, strictWrite);
  };
  const Client = TCLIService.Client as unknown as new (
    output: object,
    pClass: unknown,
  ) => InstanceType<typeof TCLIService.Client>;
  send(new Client(transport, Protocol));
  return bodies;
}

const noop = () => undefined;
const operationHandle = { operationId: { guid: OPERATION_GUID, secret: SECRET }, operationType: 0, hasResultSet: true };
const sessionHandle = { sessionId: { guid: SESSION_GUID, secret: SECRET } };

function hex(guid: Buffer | undefined): string | undefined {
  return guid?.toString('hex');
}

/** The call, with its GUID as hex, for deep comparison. */
function read(body: unknown): { name: string; seqid: number; handleGuid?: string } | undefined {
  let call: ThriftCall | undefined;
  expect(() => {
    call = readThriftCall(body);
  }).not.to.throw();
  if (call === undefined) {
    return undefined;
  }
  const { handleGuid, ...rest } = call;
  return handleGuid === undefined ? rest : { ...rest, handleGuid: hex(handleGuid) };
}

describe('readThriftCall', () => {
  describe("bodies written by the driver's generated client", () => {
    it('reads GetOperationStatus: method, sequence id, operation GUID', () => {
      const [body] = driverBody((client) =>
        client.GetOperationStatus({ operationHandle, getProgressUpdate: false }, noop),
      );
      expect(body.readUInt16BE(0)).to.equal(0x8001); // the driver writes the strict header
      expect(read(body)).to.deep.equal({ name: 'GetOperationStatus', seqid: 1, handleGuid: hex(OPERATION_GUID) });
    });

    it("reads each call's own sequence id from one client", () => {
      const bodies = driverBody((client) => {
        client.GetOperationStatus({ operationHandle }, noop);
        client.CloseOperation({ operationHandle }, noop);
        client.CancelOperation({ operationHandle }, noop);
      });
      expect(bodies.map(read)).to.deep.equal([
        { name: 'GetOperationStatus', seqid: 1, handleGuid: hex(OPERATION_GUID) },
        { name: 'CloseOperation', seqid: 2, handleGuid: hex(OPERATION_GUID) },
        { name: 'CancelOperation', seqid: 3, handleGuid: hex(OPERATION_GUID) },
      ]);
    });

    it('reads the session GUID of calls that start an operation', () => {
      const bodies = driverBody((client) => {
        client.GetCatalogs({ sessionHandle, runAsync: true, getDirectResults: { maxRows: 1000, maxBytes: 1 } }, noop);
        client.ExecuteStatement(
          {
            sessionHandle,
            statement: 'SELECT 1',
            confOverlay: { a: 'b', c: 'd' },
            runAsync: true,
            queryTimeout: 30,
            canReadArrowResult: true,
          },
          noop,
        );
      });
      expect(bodies.map(read)).to.deep.equal([
        { name: 'GetCatalogs', seqid: 1, handleGuid: hex(SESSION_GUID) },
        { name: 'ExecuteStatement', seqid: 2, handleGuid: hex(SESSION_GUID) },
      ]);
    });

    it('reads a call whose request names no handle: no GUID', () => {
      const [body] = driverBody((client) =>
        client.OpenSession(
          { client_protocol: 7, username: 'u', configuration: { k: 'v' }, canUseMultipleCatalogs: true },
          noop,
        ),
      );
      const call = readThriftCall(body);
      expect(call).to.deep.equal({ name: 'OpenSession', seqid: 1 });
      expect(call).not.to.have.property('handleGuid');
    });

    it('reads the old, unversioned header the protocol writes when not strict', () => {
      const [body] = driverBody((client) => client.CloseOperation({ operationHandle }, noop), false);
      expect(body.readInt32BE(0)).to.equal('CloseOperation'.length);
      expect(read(body)).to.deep.equal({ name: 'CloseOperation', seqid: 1, handleGuid: hex(OPERATION_GUID) });
    });

    it("returns the GUID's own bytes, not more", () => {
      const [body] = driverBody((client) => client.GetOperationStatus({ operationHandle }, noop));
      const guid = readThriftCall(body)?.handleGuid;
      expect(guid).to.have.length(16);
      expect(Buffer.compare(guid as Buffer, OPERATION_GUID)).to.equal(0);
    });

    it("is undefined for a body cut anywhere before the GUID's end, and unaffected by a cut after it", () => {
      const [body] = driverBody((client) =>
        client.GetOperationStatus({ operationHandle, getProgressUpdate: true }, noop),
      );
      const guidEnd = body.indexOf(OPERATION_GUID) + OPERATION_GUID.length;
      expect(guidEnd).to.be.greaterThan(OPERATION_GUID.length);
      for (let length = 0; length < body.length; length += 1) {
        const cut = read(body.subarray(0, length));
        if (length < guidEnd) {
          expect(cut, `cut at ${length}`).to.equal(undefined);
        } else {
          expect(cut, `cut at ${length}`).to.deep.equal({
            name: 'GetOperationStatus',
            seqid: 1,
            handleGuid: hex(OPERATION_GUID),
          });
        }
      }
    });
  });

  describe('headers', () => {
    it('reads the strict header', () => {
      expect(read(operationCall((w) => w.strictHeader('GetOperationStatus', 42)))).to.deep.equal({
        name: 'GetOperationStatus',
        seqid: 42,
        handleGuid: hex(OPERATION_GUID),
      });
    });

    it('reads the old header', () => {
      expect(read(operationCall((w) => w.oldHeader('CloseOperation', 7)))).to.deep.equal({
        name: 'CloseOperation',
        seqid: 7,
        handleGuid: hex(OPERATION_GUID),
      });
    });

    it('reads the full range of sequence ids and any message type', () => {
      expect(read(operationCall((w) => w.strictHeader('A', 0x7fffffff, ONEWAY)))?.seqid).to.equal(0x7fffffff);
      expect(read(operationCall((w) => w.strictHeader('A', -5)))?.seqid).to.equal(-5);
      expect(read(operationCall((w) => w.oldHeader('A', 0)))?.seqid).to.equal(0);
    });

    it('reads a UTF-8 method name', () => {
      expect(read(operationCall((w) => w.strictHeader('Größe', 1)))?.name).to.equal('Größe');
    });

    it('is undefined for a bad protocol version', () => {
      const version2 = new Writer()
        .i32(0x80020000 | CALL)
        .string('GetOperationStatus')
        .i32(1)
        .build();
      const otherMask = new Writer().i32(0xffff0001).string('GetOperationStatus').i32(1).build();
      for (const header of [version2, otherMask]) {
        const body = Buffer.concat([header, operationCall((w) => w)]);
        expect(read(body)).to.equal(undefined);
      }
    });

    it('is undefined for a negative or overlong name length', () => {
      expect(
        read(
          new Writer()
            .i32(0x80010000 | CALL)
            .i32(-1)
            .i32(1)
            .stop()
            .build(),
        ),
      ).to.equal(undefined);
      expect(
        read(
          new Writer()
            .i32(0x80010000 | CALL)
            .i32(1000)
            .raw(Buffer.from('short'))
            .build(),
        ),
      ).to.equal(undefined);
      expect(read(new Writer().i32(1000).raw(Buffer.from('short')).build())).to.equal(undefined);
    });
  });

  describe('skipping what comes before field 1', () => {
    it("skips fields of every type before the request's field 1", () => {
      const writer = new Writer().strictHeader('GetOperationStatus', 3);
      writer.field(T_STRUCT, 1); // args.req
      writer.field(T_I64, 5).i64(-1n);
      writer.field(T_DOUBLE, 6).double(3.5);
      writer.field(T_BOOL, 7).byte(1);
      writer.field(T_BYTE, 8).byte(-3);
      writer.field(T_I16, 9).i16(-2);
      writer.field(T_I32, 10).i32(99);
      writer.field(T_STRING, 11).string('not the guid');
      writer.field(T_LIST, 12).byte(T_STRING).i32(3).string('a').string('').string('ccc');
      writer.field(T_SET, 13).byte(T_I64).i32(2).i64(1n).i64(2n);
      writer.field(T_MAP, 14).byte(T_STRING).byte(T_I32).i32(2).string('k1').i32(1).string('k2').i32(2);
      writer.field(T_MAP, 15).byte(T_STRING).byte(T_LIST).i32(1).string('k').byte(T_DOUBLE).i32(2).double(1).double(2);
      // A nested struct holding a list of structs, each with a field 1 of the awaited types.
      writer.field(T_STRUCT, 16);
      writer.field(T_LIST, 1).byte(T_STRUCT).i32(2);
      writer.field(T_STRUCT, 1).field(T_STRUCT, 1).field(T_STRING, 1).string(SESSION_GUID).stop().stop().stop();
      writer.field(T_STRING, 1).string(SESSION_GUID).stop();
      writer.field(T_STRUCT, 2).stop();
      writer.stop();
      writer.field(T_LIST, 17).byte(T_LIST).i32(2).byte(T_I32).i32(1).i32(5).byte(T_BOOL).i32(0);
      writer.field(T_STRUCT, 1).operationHandle(OPERATION_GUID); // req.operationHandle, last
      writer.stop().stop();
      expect(read(writer.build())).to.deep.equal({
        name: 'GetOperationStatus',
        seqid: 3,
        handleGuid: hex(OPERATION_GUID),
      });
    });

    it('skips fields before field 1 at every level of the handle', () => {
      const writer = new Writer().oldHeader('CloseOperation', 9);
      writer.field(T_STRING, 2).string('args field 2'); // args
      writer.field(T_STRUCT, 1);
      writer.field(T_MAP, 3).byte(T_STRING).byte(T_STRING).i32(1).string('k').string('v'); // req
      writer.field(T_STRUCT, 1);
      writer.field(T_I32, 2).i32(0).field(T_BOOL, 3).byte(0).field(T_DOUBLE, 4).double(12); // operationHandle
      writer.field(T_STRUCT, 1);
      writer.field(T_STRING, 2).string(SECRET); // operationId: secret first
      writer.field(T_STRING, 1).string(OPERATION_GUID).stop();
      writer.stop().stop().stop();
      expect(read(writer.build())).to.deep.equal({ name: 'CloseOperation', seqid: 9, handleGuid: hex(OPERATION_GUID) });
    });

    it('does not take a field 1 of another type for the handle', () => {
      const writer = new Writer().strictHeader('GetOperationStatus', 4);
      writer.field(T_STRUCT, 1);
      writer.field(T_STRING, 1).string(SESSION_GUID); // field 1, but a string where a struct belongs
      writer.field(T_STRUCT, 1).field(T_STRUCT, 1).field(T_I64, 1).i64(5n).stop().stop(); // guid an i64, not a string
      writer.stop().stop();
      expect(read(writer.build())).to.deep.equal({ name: 'GetOperationStatus', seqid: 4 });
    });

    it('skips a field 1 of another type at every level, reading the field 1 that follows', () => {
      const writer = new Writer().strictHeader('CloseOperation', 6);
      writer.field(T_I32, 1).i32(0).field(T_STRUCT, 1); // args: an i32 field 1, then req
      writer.field(T_STRING, 1).string(SESSION_GUID).field(T_STRUCT, 1); // req: a string field 1, then the handle
      writer.field(T_BOOL, 1).byte(0).field(T_STRUCT, 1); // operationHandle: a bool field 1, then operationId
      writer.field(T_I64, 1).i64(0n).field(T_STRING, 1).string(OPERATION_GUID).stop(); // operationId: an i64 field 1, then the guid
      writer.stop().stop().stop();
      expect(read(writer.build())).to.deep.equal({ name: 'CloseOperation', seqid: 6, handleGuid: hex(OPERATION_GUID) });
    });

    it('skips structs nested a few levels deep', () => {
      const depth = 12;
      const writer = new Writer().strictHeader('GetOperationStatus', 5).field(T_STRUCT, 1);
      for (let level = 0; level < depth; level += 1) {
        writer.field(T_STRUCT, 2);
      }
      for (let level = 0; level < depth; level += 1) {
        writer.stop();
      }
      writer.field(T_STRUCT, 1).operationHandle(OPERATION_GUID).stop().stop();
      expect(read(writer.build())).to.deep.equal({
        name: 'GetOperationStatus',
        seqid: 5,
        handleGuid: hex(OPERATION_GUID),
      });
    });
  });

  describe('requests without a handle', () => {
    it('has name and sequence id only when the arguments are empty', () => {
      const body = new Writer().strictHeader('GetInfo', 11).stop().build();
      const call = readThriftCall(body);
      expect(call).to.deep.equal({ name: 'GetInfo', seqid: 11 });
      expect(call).not.to.have.property('handleGuid');
    });

    it('has no GUID when the handle identifier has none', () => {
      const writer = new Writer().strictHeader('CloseOperation', 12);
      writer
        .field(T_STRUCT, 1)
        .field(T_STRUCT, 1)
        .field(T_STRUCT, 1)
        .field(T_STRING, 2)
        .string(SECRET)
        .stop()
        .stop()
        .stop()
        .stop();
      expect(read(writer.build())).to.deep.equal({ name: 'CloseOperation', seqid: 12 });
    });
  });

  describe('what is not a readable call', () => {
    it('is undefined for anything but a Buffer', () => {
      const body = operationCall((w) => w.strictHeader('GetOperationStatus', 1));
      for (const value of [
        undefined,
        null,
        'GetOperationStatus',
        42,
        {},
        [...body],
        new Uint8Array(body),
        body.buffer,
      ]) {
        expect(read(value)).to.equal(undefined);
      }
    });

    it('is undefined for an empty buffer and for a header alone', () => {
      expect(read(Buffer.alloc(0))).to.equal(undefined);
      expect(read(Buffer.from([0x80, 0x01]))).to.equal(undefined);
      expect(read(new Writer().strictHeader('GetOperationStatus', 1).build())).to.equal(undefined);
    });

    it('is undefined when a string before the GUID has a negative length', () => {
      const writer = new Writer().strictHeader('GetOperationStatus', 1);
      writer.field(T_STRUCT, 1).field(T_STRING, 2).i32(-4).raw(Buffer.alloc(32));
      expect(read(writer.build())).to.equal(undefined);
    });

    it('is undefined when the GUID has a negative or overlong length', () => {
      for (const length of [-1, -0x80000000, 17]) {
        const writer = new Writer().strictHeader('GetOperationStatus', 1);
        writer
          .field(T_STRUCT, 1)
          .field(T_STRUCT, 1)
          .field(T_STRUCT, 1)
          .field(T_STRING, 1)
          .i32(length)
          .raw(OPERATION_GUID);
        expect(read(writer.build()), `length ${length}`).to.equal(undefined);
      }
    });

    it('is undefined for an unknown field type before field 1', () => {
      for (const type of [1, 5, 7, 9, 16, 127]) {
        const writer = new Writer().strictHeader('GetOperationStatus', 1);
        writer
          .field(T_STRUCT, 1)
          .field(type, 2)
          .raw(Buffer.alloc(16))
          .field(T_STRUCT, 1)
          .operationHandle(OPERATION_GUID)
          .stop()
          .stop();
        expect(read(writer.build()), `type ${type}`).to.equal(undefined);
      }
    });

    it('is undefined for absurdly deep nesting, without overflowing the stack', () => {
      const nestings: Array<[string, number, (writer: Writer) => Writer]> = [
        ['struct', T_STRUCT, (w) => w.field(T_STRUCT, 2)],
        ['list', T_LIST, (w) => w.byte(T_LIST).i32(1)],
        ['map', T_MAP, (w) => w.byte(T_STRING).byte(T_MAP).i32(1).string('k')],
      ];
      for (const [label, type, nest] of nestings) {
        const writer = new Writer().strictHeader('GetOperationStatus', 1).field(T_STRUCT, 1).field(type, 2);
        const level = nest(new Writer()).build();
        writer.raw(Buffer.concat(new Array<Buffer>(200_000).fill(level)));
        expect(read(writer.build()), label).to.equal(undefined);
      }
    });

    it('is undefined for well-formed nesting far deeper than any TCLIService request', () => {
      // A thousand levels, properly closed, with a valid handle after them: the bound rejects it
      // rather than recursing a thousand times.
      const depth = 1000;
      const writer = new Writer().strictHeader('GetOperationStatus', 1).field(T_STRUCT, 1);
      for (let level = 0; level < depth; level += 1) {
        writer.field(T_STRUCT, 2);
      }
      for (let level = 0; level < depth; level += 1) {
        writer.stop();
      }
      writer.field(T_STRUCT, 1).operationHandle(OPERATION_GUID).stop().stop();
      expect(read(writer.build())).to.equal(undefined);
    });

    it('returns promptly for a tiny body claiming a huge collection of fixed-size values', () => {
      // 2^31 - 1 elements claimed by a body of a hundred bytes: the reader must notice they cannot
      // fit, not step through them one by one.
      const collections: Array<[string, (w: Writer) => Writer]> = [
        ['list<i32>', (w) => w.field(T_LIST, 2).byte(T_I32).i32(0x7fffffff)],
        ['set<bool>', (w) => w.field(T_SET, 2).byte(T_BOOL).i32(0x7fffffff)],
        ['map<i64,double>', (w) => w.field(T_MAP, 2).byte(T_I64).byte(T_DOUBLE).i32(0x7fffffff)],
      ];
      for (const [label, collection] of collections) {
        const writer = collection(new Writer().strictHeader('GetOperationStatus', 1).field(T_STRUCT, 1));
        writer.field(T_STRUCT, 1).operationHandle(OPERATION_GUID).stop().stop();
        const started = process.hrtime.bigint();
        expect(read(writer.build()), label).to.equal(undefined);
        const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
        expect(elapsedMs, `milliseconds spent reading a ${label} in a tiny body`).to.be.below(100);
      }
    });

    it('is undefined for a collection of negative size', () => {
      for (const type of [T_LIST, T_SET]) {
        const writer = new Writer().strictHeader('GetOperationStatus', 1).field(T_STRUCT, 1);
        writer.field(type, 2).byte(T_I32).i32(-1);
        writer.field(T_STRUCT, 1).operationHandle(OPERATION_GUID).stop().stop();
        expect(read(writer.build()), `type ${type}`).to.equal(undefined);
      }
      const writer = new Writer().strictHeader('GetOperationStatus', 1).field(T_STRUCT, 1);
      writer.field(T_MAP, 2).byte(T_I32).byte(T_I32).i32(-0x80000000);
      writer.field(T_STRUCT, 1).operationHandle(OPERATION_GUID).stop().stop();
      expect(read(writer.build())).to.equal(undefined);
    });
  });
});
