import { IncomingHttpHeaders } from 'http';
import { errorReply, jsonReply, parseJson, Reply } from './http';

/** One accepted upload, as the collector received it. */
export interface RecordedTelemetryRequest {
  /** `/telemetry-ext` or `/telemetry-unauth`. */
  path: string;
  headers: IncomingHttpHeaders;
  /** The parsed JSON body, exactly as sent. */
  body: unknown;
  /** The accepted `protoLogs` entries, each decoded from its JSON string (left as is if not JSON). */
  logs: unknown[];
  receivedAt: number;
}

/** The `/telemetry-ext` and `/telemetry-unauth` endpoints: records uploads and reports success. */
export default class TelemetryCollector {
  private recorded: RecordedTelemetryRequest[] = [];

  /** `accepted` caps how many logs succeed (a partial success); the rest are not recorded. */
  handle(path: string, headers: IncomingHttpHeaders, rawBody: Buffer, accepted = Infinity): Reply {
    const body = parseJson(rawBody);
    const protoLogs = (body as { protoLogs?: unknown } | undefined)?.protoLogs;
    if (!Array.isArray(protoLogs) || !protoLogs.every((log) => typeof log === 'string')) {
      return errorReply(400, 'MALFORMED_REQUEST', 'Expected a JSON body with "protoLogs": an array of strings');
    }
    const count = Math.min(accepted, protoLogs.length);
    const logs = protoLogs.slice(0, count).map((log) => parseJson(Buffer.from(log)) ?? log);
    this.recorded.push({ path, headers, body, logs, receivedAt: Date.now() });
    return jsonReply(200, { errors: [], numSuccess: count, numProtoSuccess: count, numRealtimeSuccess: count });
  }

  requests(): RecordedTelemetryRequest[] {
    return [...this.recorded];
  }

  logs(): unknown[] {
    return this.recorded.flatMap((request) => request.logs);
  }

  clear(): void {
    this.recorded = [];
  }
}
