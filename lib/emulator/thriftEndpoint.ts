import { TCLIService, thriftRuntime } from './thrift';
import Warehouse from './warehouse';

/**
 * Thrift over HTTP, as the driver speaks it: each POST body holds one binary-protocol message in
 * a buffered transport, and the response body holds the reply.
 */
export default class ThriftEndpoint {
  private readonly processor: InstanceType<typeof TCLIService.Processor>;

  constructor(warehouse: Warehouse) {
    this.processor = new TCLIService.Processor(warehouse);
  }

  /** The reply to one request body; rejects when the body is not a readable Thrift call. */
  process(body: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const output = new thriftRuntime.TBufferedTransport(undefined, resolve);
      const receive = thriftRuntime.TBufferedTransport.receiver((input) => {
        try {
          this.processor.process(new thriftRuntime.TBinaryProtocol(input), new thriftRuntime.TBinaryProtocol(output));
        } catch (error) {
          reject(error instanceof Error ? error : new Error(String(error)));
        }
      });
      receive(body);
    });
  }
}

/** The called method's name, read from the message header without consuming the request. */
export function thriftMethodName(body: Buffer): string | undefined {
  // Strict binary protocol header: version word, name length, name.
  if (body.length < 8 || body.readUInt16BE(0) !== 0x8001) {
    return undefined;
  }
  const length = body.readInt32BE(4);
  if (length < 0 || 8 + length > body.length) {
    return undefined;
  }
  return body.toString('utf8', 8, 8 + length);
}
