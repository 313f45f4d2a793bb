import { stringify } from 'uuid';
import { thrift } from '@databricks/sql';
import TelemetryEventEmitter from '../../../lib/telemetry/TelemetryEventEmitter';
import { TelemetryEvent, TelemetryEventType } from '../../../lib/telemetry/types';

const { TStatusCode } = thrift.TCLIService_types;

export type ThriftCallback = (error: unknown, response: unknown) => void;

/** What one RPC answers: an error or a response, after `delayMs` (a timer: tick fake clocks). */
export interface ThriftReply {
  error?: unknown;
  response?: unknown;
  delayMs?: number;
}

export const OK_STATUS = Object.freeze({ statusCode: TStatusCode.SUCCESS_STATUS });

/** A version-4 UUID's 16 bytes derived from `seed` (0..255): distinct seeds give distinct GUIDs. */
export function makeGuid(seed: number): Buffer {
  const bytes = Buffer.from(Array.from({ length: 16 }, (_, i) => (seed * 37 + i * 11) & 0xff));
  bytes[6] = 0x40 | (bytes[6] & 0x0f);
  bytes[8] = 0x80 | (bytes[8] & 0x3f);
  bytes[15] = seed & 0xff;
  return bytes;
}

/** The canonical UUID text of a GUID, by the `uuid` package (what the driver's `id` getters use). */
export function uuidOf(guid: Buffer): string {
  return stringify(guid);
}

export function sessionHandle(guid: Buffer) {
  return { sessionId: { guid, secret: Buffer.alloc(16, 0xaa) } };
}

export function operationHandle(guid: Buffer) {
  return { operationId: { guid, secret: Buffer.alloc(16, 0xbb) }, operationType: 0, hasResultSet: true };
}

/**
 * A stand-in for the driver's generated Thrift client: every RPC method takes
 * `(request, callback)`, records the call and answers from a per-RPC queue on a timer, or
 * returns a promise when called without a callback (as the generated client does).
 */
export default class DriverThriftClientStub {
  public readonly calls: Array<{ name: string; request: unknown; self: unknown }> = [];

  /** True while the stub is inside a caller's callback. */
  public inCallback = false;

  private readonly replies = new Map<string, ThriftReply[]>();

  /** Queues the next answers of `name`; without one, an RPC answers `{ status: SUCCESS }`. */
  reply(name: string, ...replies: ThriftReply[]): this {
    const queue = this.replies.get(name) ?? [];
    queue.push(...replies);
    this.replies.set(name, queue);
    return this;
  }

  ExecuteStatement(request: unknown, callback?: ThriftCallback): unknown {
    return this.answer('ExecuteStatement', request, callback);
  }

  GetTypeInfo(request: unknown, callback?: ThriftCallback): unknown {
    return this.answer('GetTypeInfo', request, callback);
  }

  GetCatalogs(request: unknown, callback?: ThriftCallback): unknown {
    return this.answer('GetCatalogs', request, callback);
  }

  GetSchemas(request: unknown, callback?: ThriftCallback): unknown {
    return this.answer('GetSchemas', request, callback);
  }

  GetTables(request: unknown, callback?: ThriftCallback): unknown {
    return this.answer('GetTables', request, callback);
  }

  GetTableTypes(request: unknown, callback?: ThriftCallback): unknown {
    return this.answer('GetTableTypes', request, callback);
  }

  GetColumns(request: unknown, callback?: ThriftCallback): unknown {
    return this.answer('GetColumns', request, callback);
  }

  GetFunctions(request: unknown, callback?: ThriftCallback): unknown {
    return this.answer('GetFunctions', request, callback);
  }

  GetPrimaryKeys(request: unknown, callback?: ThriftCallback): unknown {
    return this.answer('GetPrimaryKeys', request, callback);
  }

  GetCrossReference(request: unknown, callback?: ThriftCallback): unknown {
    return this.answer('GetCrossReference', request, callback);
  }

  GetOperationStatus(request: unknown, callback?: ThriftCallback): unknown {
    return this.answer('GetOperationStatus', request, callback);
  }

  GetResultSetMetadata(request: unknown, callback?: ThriftCallback): unknown {
    return this.answer('GetResultSetMetadata', request, callback);
  }

  FetchResults(request: unknown, callback?: ThriftCallback): unknown {
    return this.answer('FetchResults', request, callback);
  }

  /** Not observed by the adapter. */
  CloseOperation(request: unknown, callback?: ThriftCallback): unknown {
    return this.answer('CloseOperation', request, callback);
  }

  /** Numbers each call before it is sent, as the generated client does. */
  public _seqid = 0;

  private answer(name: string, request: unknown, callback?: ThriftCallback): unknown {
    this._seqid += 1;
    this.calls.push({ name, request, self: this });
    const reply = this.replies.get(name)?.shift() ?? { response: { status: OK_STATUS } };
    if (typeof callback !== 'function') {
      return 'error' in reply ? Promise.reject(reply.error) : Promise.resolve(reply.response);
    }
    setTimeout(() => {
      this.inCallback = true;
      try {
        callback(reply.error ?? null, reply.response);
      } finally {
        this.inCallback = false;
      }
    }, reply.delayMs ?? 0);
    return undefined;
  }
}

/** Every event the emitter dispatches, in order. */
export function recordEvents(emitter: TelemetryEventEmitter): TelemetryEvent[] {
  const events: TelemetryEvent[] = [];
  Object.values(TelemetryEventType).forEach((type) => emitter.on(type, (event: TelemetryEvent) => events.push(event)));
  return events;
}

/** The events of one type, typed. */
export function eventsOf<T extends TelemetryEvent['eventType']>(
  events: TelemetryEvent[],
  type: T,
): Array<Extract<TelemetryEvent, { eventType: T }>> {
  return events.filter((event): event is Extract<TelemetryEvent, { eventType: T }> => event.eventType === type);
}

/** The event without the fields the emitter set to undefined. */
export function compact(event: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(event).filter(([, value]) => value !== undefined));
}

/**
 * A Thrift binary-protocol call as the driver sends it: strict header (`name`, `seqid`), then the
 * args struct whose request names `guid` in field 1 of field 1 of field 1 (an operation's or a
 * session's handle), with a field of another type before it at each level.
 */
export function encodeThriftCall(name: string, seqid: number, guid?: Buffer): Buffer {
  const parts: Buffer[] = [];
  const i16 = (value: number) => parts.push(Buffer.from([(value >> 8) & 0xff, value & 0xff]));
  const i32 = (value: number) => {
    const bytes = Buffer.alloc(4);
    bytes.writeInt32BE(value | 0);
    parts.push(bytes);
  };
  const byte = (value: number) => parts.push(Buffer.from([value]));
  const binary = (value: Buffer) => {
    i32(value.length);
    parts.push(value);
  };
  i32(0x80010000 | 1);
  binary(Buffer.from(name));
  i32(seqid);
  if (guid !== undefined) {
    for (let level = 0; level < 3; level += 1) {
      byte(8); // an i32 field 2 first, to be skipped
      i16(2);
      i32(7);
      byte(12);
      i16(1);
    }
    byte(11);
    i16(1);
    binary(guid);
    for (let level = 0; level < 3; level += 1) {
      byte(0);
    }
  }
  byte(0);
  return Buffer.concat(parts);
}
