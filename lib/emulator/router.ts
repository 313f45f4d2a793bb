import { IncomingMessage, ServerResponse } from 'http';
import { handleControl } from './controlApi';
import Delivery from './delivery';
import FaultInjector from './faults';
import FeatureFlagEndpoint from './featureFlags';
import BodyTooLargeError, { errorReply, readBody, Reply } from './http';
import OAuthServer, { AUTHORIZE_PATH, DISCOVERY_PATH, TOKEN_PATH } from './oauth';
import TelemetryCollector from './telemetryCollector';
import ThriftEndpoint, { thriftMethodName } from './thriftEndpoint';
import { Emulator, RequestCounts } from './types';
import Warehouse from './warehouse';

export interface RouterParts {
  emulator: Emulator;
  token: string;
  /** Sent in `x-databricks-org-id` on workspace responses; null for none. */
  orgId: string | null;
  warehousePath: string;
  warehouse: Warehouse;
  telemetry: TelemetryCollector;
  featureFlags: FeatureFlagEndpoint;
  oauth: OAuthServer;
  faults: FaultInjector;
  delivery: Delivery;
}

const FEATURE_FLAGS = /^\/api\/2\.0\/connector-service\/feature-flags\/[^/]+\/[^/]+$/;
const CLOUD_FETCH = /^\/cloudfetch\/([0-9a-fA-F-]{32,36})\/(\d+)$/;

export function emptyCounts(): RequestCounts {
  return {
    thrift: 0,
    thriftMethods: {},
    cloudFetch: 0,
    telemetryExt: 0,
    telemetryUnauth: 0,
    featureFlags: 0,
    oauthDiscovery: 0,
    oauthToken: 0,
    oauthAuthorize: 0,
    control: 0,
    unknown: 0,
  };
}

/** Sends each request to its endpoint, counting it and applying auth and faults on the way. */
export default class Router {
  counts = emptyCounts();

  private readonly thrift: ThriftEndpoint;

  constructor(private readonly parts: RouterParts) {
    this.thrift = new ThriftEndpoint(parts.warehouse);
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      await this.route(req, res);
    } catch (error) {
      const reply =
        error instanceof BodyTooLargeError
          ? errorReply(413, 'REQUEST_TOO_LARGE', error.message)
          : errorReply(500, 'INTERNAL_ERROR', error instanceof Error ? error.message : String(error));
      this.parts.delivery.send(res, reply);
    }
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { delivery, faults } = this.parts;
    const url = new URL(req.url ?? '/', 'https://emulator.invalid');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const control = path === '/emulator' || path.startsWith('/emulator/');
    // Like a real workspace; CloudFetch files come from cloud storage, which does not send it.
    if (this.parts.orgId !== null && !control && !CLOUD_FETCH.test(path)) {
      res.setHeader('x-databricks-org-id', this.parts.orgId);
    }

    if (path === this.parts.warehousePath) {
      this.counts.thrift += 1;
      const body = await readBody(req);
      const rpc = thriftMethodName(body);
      if (rpc) {
        this.counts.thriftMethods[rpc] = (this.counts.thriftMethods[rpc] ?? 0) + 1;
      }
      if (method !== 'POST') {
        return delivery.send(res, methodNotAllowed(method, path));
      }
      if (!this.authorized(req)) {
        return delivery.send(res, unauthorized());
      }
      const fault = rpc ? faults.next(`thrift:${rpc}`, 'thrift') : faults.next('thrift');
      return delivery.respond(req, res, fault, () => this.thriftReply(body));
    }

    const cloudFetch = CLOUD_FETCH.exec(path);
    if (cloudFetch) {
      this.counts.cloudFetch += 1;
      if (method !== 'GET') {
        return delivery.send(res, methodNotAllowed(method, path));
      }
      // Presigned links: no Authorization header, as with real cloud storage.
      return delivery.respond(req, res, faults.next('cloudFetch'), () => {
        const file = this.parts.warehouse.chunk(cloudFetch[1], Number(cloudFetch[2]));
        if (!file) {
          return errorReply(404, 'NOT_FOUND', 'No such result file (operation closed or chunk out of range)');
        }
        return { status: 200, headers: { 'Content-Type': 'application/octet-stream' }, body: file };
      });
    }

    if (path === '/telemetry-ext' || path === '/telemetry-unauth') {
      const authenticated = path === '/telemetry-ext';
      if (authenticated) {
        this.counts.telemetryExt += 1;
      } else {
        this.counts.telemetryUnauth += 1;
      }
      const body = await readBody(req);
      if (method !== 'POST') {
        return delivery.send(res, methodNotAllowed(method, path));
      }
      if (authenticated && !this.authorized(req)) {
        return delivery.send(res, unauthorized());
      }
      const fault = faults.next('telemetry');
      const accepted = fault?.kind === 'partial' ? fault.accepted : undefined;
      return delivery.respond(req, res, fault, () => this.parts.telemetry.handle(path, req.headers, body, accepted));
    }

    if (FEATURE_FLAGS.test(path)) {
      this.counts.featureFlags += 1;
      if (method !== 'GET') {
        return delivery.send(res, methodNotAllowed(method, path));
      }
      if (!this.authorized(req)) {
        return delivery.send(res, unauthorized());
      }
      return delivery.respond(req, res, faults.next('featureFlags'), () => this.parts.featureFlags.reply());
    }

    if (path === DISCOVERY_PATH) {
      this.counts.oauthDiscovery += 1;
      if (method !== 'GET') {
        return delivery.send(res, methodNotAllowed(method, path));
      }
      return delivery.respond(req, res, faults.next('oauthDiscovery'), () =>
        this.parts.oauth.discovery(this.baseUrlOf(req)),
      );
    }

    if (path === TOKEN_PATH) {
      this.counts.oauthToken += 1;
      const body = await readBody(req);
      if (method !== 'POST') {
        return delivery.send(res, methodNotAllowed(method, path));
      }
      return delivery.respond(req, res, faults.next('oauth'), () => this.parts.oauth.token(req.headers, body));
    }

    if (path === AUTHORIZE_PATH) {
      this.counts.oauthAuthorize += 1;
      if (method !== 'GET') {
        return delivery.send(res, methodNotAllowed(method, path));
      }
      return delivery.send(res, this.parts.oauth.authorize(url));
    }

    if (control) {
      this.counts.control += 1;
      const body = await readBody(req);
      return delivery.send(res, handleControl(this.parts.emulator, method, url, body));
    }

    this.counts.unknown += 1;
    return delivery.send(res, errorReply(404, 'ENDPOINT_NOT_FOUND', `No endpoint at ${path}`));
  }

  /** The personal access token, or an OAuth access token that is still valid. */
  private authorized(req: IncomingMessage): boolean {
    const { authorization } = req.headers;
    return authorization === `Bearer ${this.parts.token}` || this.parts.oauth.accepts(authorization);
  }

  /** The workspace as the client addressed it (its Host header), where OAuth endpoints are announced. */
  private baseUrlOf(req: IncomingMessage): string {
    const host = req.headers.host;
    return host && /^[A-Za-z0-9.:[\]-]+$/.test(host) ? `https://${host}` : this.parts.emulator.url;
  }

  private async thriftReply(body: Buffer): Promise<Reply> {
    try {
      return {
        status: 200,
        headers: { 'Content-Type': 'application/x-thrift' },
        body: await this.thrift.process(body),
      };
    } catch (error) {
      return errorReply(
        400,
        'BAD_REQUEST',
        `Not a valid Thrift call: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }
}

function unauthorized(): Reply {
  return errorReply(401, 'UNAUTHENTICATED', 'Invalid access token');
}

function methodNotAllowed(method: string, path: string): Reply {
  return errorReply(405, 'METHOD_NOT_ALLOWED', `${method} is not allowed on ${path}`);
}
