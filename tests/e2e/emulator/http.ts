import { request as httpsRequest } from 'https';
import { Emulator } from '../../../lib/emulator';

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  elapsedMs: number;
}

/** One HTTPS request to the emulator, trusting its certificate; no keep-alive, no retries. */
export function request(
  emulator: Emulator,
  options: {
    method?: string;
    path: string;
    headers?: Record<string, string>;
    body?: Buffer | string;
    timeoutMs?: number;
  },
): Promise<RawResponse> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: emulator.host,
        port: emulator.port,
        path: options.path,
        method: options.method ?? 'GET',
        headers: options.headers,
        ca: emulator.ca,
        agent: false,
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (part: Buffer) => parts.push(part));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(parts),
            elapsedMs: Date.now() - started,
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (options.timeoutMs !== undefined) {
      req.setTimeout(options.timeoutMs, () => req.destroy(new Error('client timeout')));
    }
    req.end(options.body);
  });
}

export function authHeaders(emulator: Emulator): Record<string, string> {
  return { Authorization: `Bearer ${emulator.token}`, 'Content-Type': 'application/json' };
}

/** A telemetry upload body with `count` frontend logs. */
export function uploadBody(count: number): string {
  const protoLogs = Array.from({ length: count }, (_, i) =>
    JSON.stringify({ frontend_log_event_id: `log-${i}`, entry: { sql_driver_log: { n: i } } }),
  );
  return JSON.stringify({ uploadTime: Date.now(), items: [], protoLogs });
}

export function json(response: RawResponse): Record<string, unknown> {
  return JSON.parse(response.body.toString('utf8')) as Record<string, unknown>;
}
