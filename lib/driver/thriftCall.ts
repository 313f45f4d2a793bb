/** What the adapter reads of an encoded Thrift call: its method, sequence id and first handle. */
export interface ThriftCall {
  name: string;
  seqid: number;
  /** The GUID of the handle the request names first: its operation's, or for a call that starts one, its session's. */
  handleGuid?: Buffer;
}

const VERSION_MASK = 0xffff0000;
const VERSION_1 = 0x80010000;

// Thrift binary protocol type ids.
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
const T_STOP = 0;

/** Deeper than any TCLIService request: a corrupt body cannot recurse without bound. */
const MAX_DEPTH = 32;

const FIXED_SIZES: Readonly<Record<number, number>> = {
  [T_BOOL]: 1,
  [T_BYTE]: 1,
  [T_DOUBLE]: 8,
  [T_I16]: 2,
  [T_I32]: 4,
  [T_I64]: 8,
};

class Reader {
  offset = 0;

  constructor(private readonly buffer: Buffer) {}

  byte(): number {
    const value = this.buffer.readInt8(this.offset);
    this.offset += 1;
    return value;
  }

  i16(): number {
    const value = this.buffer.readInt16BE(this.offset);
    this.offset += 2;
    return value;
  }

  i32(): number {
    const value = this.buffer.readInt32BE(this.offset);
    this.offset += 4;
    return value;
  }

  bytes(): Buffer {
    const length = this.i32();
    if (length < 0 || this.offset + length > this.buffer.length) {
      throw new RangeError('Thrift string out of range');
    }
    const value = this.buffer.subarray(this.offset, this.offset + length);
    this.offset += length;
    return value;
  }

  private advance(length: number): void {
    if (this.offset + length > this.buffer.length) {
      throw new RangeError('Thrift value out of range');
    }
    this.offset += length;
  }

  /** A collection's size: each element takes a byte at least, so no more than the bytes left. */
  private size(): number {
    const size = this.i32();
    if (size < 0 || size > this.buffer.length - this.offset) {
      throw new RangeError('Thrift collection out of range');
    }
    return size;
  }

  skip(type: number, depth: number): void {
    if (depth > MAX_DEPTH) {
      throw new RangeError('Thrift value nested too deep');
    }
    const fixed = FIXED_SIZES[type];
    if (fixed !== undefined) {
      this.advance(fixed);
    } else if (type === T_STRING) {
      this.bytes();
    } else if (type === T_STRUCT) {
      for (let fieldType = this.byte(); fieldType !== T_STOP; fieldType = this.byte()) {
        this.i16();
        this.skip(fieldType, depth + 1);
      }
    } else if (type === T_MAP) {
      const keyType = this.byte();
      const valueType = this.byte();
      for (let size = this.size(); size > 0; size -= 1) {
        this.skip(keyType, depth + 1);
        this.skip(valueType, depth + 1);
      }
    } else if (type === T_SET || type === T_LIST) {
      const elementType = this.byte();
      for (let size = this.size(); size > 0; size -= 1) {
        this.skip(elementType, depth + 1);
      }
    } else {
      throw new RangeError(`unknown Thrift type ${type}`);
    }
  }

  /** Reads a struct's fields up to field 1 of `type`, positioned at its value; false when it has none. */
  toFirstField(type: number): boolean {
    for (let fieldType = this.byte(); fieldType !== T_STOP; fieldType = this.byte()) {
      const id = this.i16();
      if (id === 1 && fieldType === type) {
        return true;
      }
      this.skip(fieldType, 0);
    }
    return false;
  }
}

/**
 * Reads the method name and sequence id of a Thrift binary-protocol call, and the GUID of its
 * request's first handle (`args.req.operationHandle.operationId.guid`: field 1 at each level, as
 * every TCLIService request about an operation has it; a call that starts one names its session
 * there). Only for calls the driver retried, so
 * it reads as little as it can. Undefined for anything else; never throws.
 */
export function readThriftCall(body: unknown): ThriftCall | undefined {
  if (!Buffer.isBuffer(body)) {
    return undefined;
  }
  try {
    const reader = new Reader(body);
    const first = reader.i32();
    let name: string;
    if (first < 0) {
      if ((first & VERSION_MASK) >>> 0 !== VERSION_1) {
        return undefined;
      }
      reader.offset = 4;
      name = reader.bytes().toString('utf8');
    } else {
      // The old, unversioned header: the name comes first, then a type byte.
      reader.offset = 0;
      name = reader.bytes().toString('utf8');
      reader.byte();
    }
    const seqid = reader.i32();
    const call: ThriftCall = { name, seqid };
    // args.req -> operationHandle (or sessionHandle) -> operationId (sessionId) -> guid.
    if (
      reader.toFirstField(T_STRUCT) &&
      reader.toFirstField(T_STRUCT) &&
      reader.toFirstField(T_STRUCT) &&
      reader.toFirstField(T_STRING)
    ) {
      call.handleGuid = reader.bytes();
    }
    return call;
  } catch {
    return undefined;
  }
}
