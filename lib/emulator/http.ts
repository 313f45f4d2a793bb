import { IncomingMessage } from 'http';

/** An answer, built in full before it is delivered (possibly distorted by a fault). */
export interface Reply {
  status: number;
  headers?: Record<string, string>;
  body: Buffer | string;
}

export function jsonReply(status: number, value: unknown): Reply {
  return { status, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(value) };
}

/** A Databricks-style REST error. */
export function errorReply(status: number, errorCode: string, message: string): Reply {
  return jsonReply(status, { error_code: errorCode, message });
}

/** Larger request bodies are refused: nothing the driver or a telemetry client sends comes close. */
const MAX_BODY_BYTES = 16 * 1024 * 1024;

export default class BodyTooLargeError extends Error {}

export function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on('data', (part: Buffer) => {
      size += part.length;
      if (size > MAX_BODY_BYTES) {
        reject(new BodyTooLargeError(`Request body over ${MAX_BODY_BYTES} bytes`));
        req.destroy();
        return;
      }
      parts.push(part);
    });
    req.on('end', () => resolve(Buffer.concat(parts)));
    req.on('error', reject);
  });
}

/** A JSON body, or undefined when it is not JSON. */
export function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}
