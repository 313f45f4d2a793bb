import { IncomingMessage, ServerResponse } from 'http';
import { Fault } from './faults';
import { errorReply, Reply } from './http';

/**
 * Neither JSON, nor Arrow, nor Thrift. It opens with a bad Thrift version word so the driver's
 * reader fails at once: a body it merely finds too short makes it wait for more data forever.
 */
const MALFORMED_BODY = Buffer.concat([Buffer.from([0x80, 0x07, 0x00, 0x01]), Buffer.from('{"malformed": ')]);

const STATUS_CODES: Record<number, string> = {
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  429: 'TOO_MANY_REQUESTS',
  503: 'TEMPORARILY_UNAVAILABLE',
};

/**
 * Sends replies, applying the fault chosen for the request. Keeps track of its timers so that
 * closing the emulator ends delayed and dripping answers at once.
 */
export default class Delivery {
  private readonly timers = new Set<NodeJS.Timeout>();

  private closed = false;

  /** `produce` runs only when the fault lets the request reach the endpoint. */
  async respond(
    req: IncomingMessage,
    res: ServerResponse,
    fault: Fault | undefined,
    produce: () => Promise<Reply> | Reply,
  ): Promise<void> {
    switch (fault?.kind) {
      case 'status': {
        const reply = errorReply(
          fault.status,
          STATUS_CODES[fault.status] ?? 'INTERNAL_ERROR',
          `Injected fault: HTTP ${fault.status}`,
        );
        if (fault.retryAfterSeconds !== undefined) {
          reply.headers = { ...reply.headers, 'Retry-After': String(fault.retryAfterSeconds) };
        }
        this.send(res, reply);
        return;
      }
      case 'hang':
        return;
      case 'reset':
        req.socket.destroy();
        return;
      case 'malformed':
        this.send(res, { status: 200, headers: { 'Content-Type': 'application/json' }, body: MALFORMED_BODY });
        return;
      case 'delay':
        await this.sleep(fault.ms);
        if (this.closed) {
          return;
        }
        this.send(res, await produce());
        return;
      case 'drip':
        this.drip(res, await produce(), fault.intervalMs ?? 20);
        return;
      default:
        this.send(res, await produce());
    }
  }

  send(res: ServerResponse, reply: Reply): void {
    if (res.destroyed || res.headersSent) {
      return;
    }
    const body = typeof reply.body === 'string' ? Buffer.from(reply.body) : reply.body;
    res.writeHead(reply.status, { ...reply.headers, 'Content-Length': String(body.length) });
    res.end(body);
  }

  /** Stops all pending delays and drips; their requests are ended by the server closing sockets. */
  close(): void {
    this.closed = true;
    this.timers.forEach((timer) => clearTimeout(timer));
    this.timers.clear();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        resolve();
      }, ms);
      this.timers.add(timer);
    });
  }

  private drip(res: ServerResponse, reply: Reply, intervalMs: number): void {
    const body = typeof reply.body === 'string' ? Buffer.from(reply.body) : reply.body;
    res.writeHead(reply.status, { ...reply.headers, 'Content-Length': String(body.length) });
    res.flushHeaders();
    let offset = 0;
    const step = () => {
      if (this.closed || res.destroyed) {
        return;
      }
      if (offset >= body.length) {
        res.end();
        return;
      }
      res.write(body.subarray(offset, offset + 1));
      offset += 1;
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        step();
      }, intervalMs);
      this.timers.add(timer);
    };
    step();
  }
}
