import { FaultStep, FaultTarget } from './faults';
import { errorReply, jsonReply, parseJson, Reply } from './http';
import { Emulator } from './types';

/**
 * `/emulator/...`: the emulator's own API as JSON over HTTP, for a driver, benchmark or person in
 * another process.
 *
 * - `GET /emulator`: connection details
 * - `GET /emulator/telemetry`: `{ requests, logs }`; `DELETE` clears them
 * - `GET /emulator/requests`: request counts; `DELETE` resets them
 * - `POST /emulator/faults` `{ "target": "telemetry", "sequence": [{ "kind": "status", "status": 503, "times": 6 }] }`
 * - `DELETE /emulator/faults[?target=telemetry]`
 * - `POST /emulator/feature-flag` `{ "enabled": false, "ttlSeconds": 60 }`
 * - `GET /emulator/oauth`: the OAuth client and the access tokens issued
 * - `POST /emulator/oauth` `{ "tokenTtlSeconds": 2 }`
 */
export function handleControl(emulator: Emulator, method: string, url: URL, rawBody: Buffer): Reply {
  const route = `${method} ${url.pathname.replace(/\/$/, '')}`;
  const body = parseJson(rawBody) as Record<string, unknown> | undefined;
  try {
    switch (route) {
      case 'GET /emulator': {
        const { host, port, path, orgId, token, ca } = emulator;
        return jsonReply(200, { host, port, path, orgId, token, ca, url: emulator.url });
      }
      case 'GET /emulator/telemetry':
        return jsonReply(200, { requests: emulator.telemetry.requests(), logs: emulator.telemetry.logs() });
      case 'DELETE /emulator/telemetry':
        emulator.telemetry.clear();
        return jsonReply(200, {});
      case 'GET /emulator/requests':
        return jsonReply(200, emulator.requestCounts());
      case 'DELETE /emulator/requests':
        emulator.resetRequestCounts();
        return jsonReply(200, {});
      case 'POST /emulator/faults':
        if (typeof body?.target !== 'string' || typeof body.sequence !== 'object' || body.sequence === null) {
          return errorReply(
            400,
            'INVALID_PARAMETER_VALUE',
            'Expected {"target": string, "sequence": fault or [faults]}',
          );
        }
        emulator.faults.set(body.target as FaultTarget, body.sequence as FaultStep | FaultStep[]);
        return jsonReply(200, {});
      case 'DELETE /emulator/faults':
        emulator.faults.clear((url.searchParams.get('target') as FaultTarget | null) ?? undefined);
        return jsonReply(200, {});
      case 'POST /emulator/feature-flag':
        if (
          typeof body?.enabled !== 'boolean' ||
          (body.ttlSeconds !== undefined && typeof body.ttlSeconds !== 'number')
        ) {
          return errorReply(400, 'INVALID_PARAMETER_VALUE', 'Expected {"enabled": boolean, "ttlSeconds"?: number}');
        }
        emulator.featureFlag.set(body.enabled, body.ttlSeconds as number | undefined);
        return jsonReply(200, {});
      case 'GET /emulator/oauth': {
        const { clientId, clientSecret } = emulator.oauth;
        return jsonReply(200, { clientId, clientSecret, tokens: emulator.oauth.tokens() });
      }
      case 'POST /emulator/oauth':
        if (typeof body?.tokenTtlSeconds !== 'number') {
          return errorReply(400, 'INVALID_PARAMETER_VALUE', 'Expected {"tokenTtlSeconds": number}');
        }
        emulator.oauth.setTokenTtl(body.tokenTtlSeconds);
        return jsonReply(200, {});
      default:
        return errorReply(404, 'ENDPOINT_NOT_FOUND', `No control endpoint ${route}`);
    }
  } catch (error) {
    return errorReply(400, 'INVALID_PARAMETER_VALUE', error instanceof Error ? error.message : String(error));
  }
}
