import { createServer } from 'https';
import { AddressInfo, Socket } from 'net';
import Delivery from './delivery';
import FaultInjector from './faults';
import FeatureFlagEndpoint from './featureFlags';
import OAuthServer from './oauth';
import { loadLz4 } from './results/lz4';
import Router, { emptyCounts } from './router';
import TelemetryCollector from './telemetryCollector';
import { getCertificate } from './tls';
import { Emulator, EmulatorOptions } from './types';
import Warehouse from './warehouse';

/** The workspace id the emulator names in `x-databricks-org-id` unless told otherwise (a 16-digit id, like real ones). */
export const DEFAULT_ORG_ID = '5550001112223334';

/**
 * Starts a local Databricks workspace over HTTPS: a SQL warehouse (Thrift), CloudFetch files,
 * the feature-flag endpoint, the telemetry collector and OAuth sign-in, with fault injection on each.
 */
export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const [certificate, lz4Codec] = await Promise.all([getCertificate(), loadLz4()]);
  const host = options.host ?? '127.0.0.1';
  const token = options.token ?? 'dapi-emulator-token';
  const path = `/sql/1.0/warehouses/${options.warehouseId ?? 'emulator'}`;
  const orgId = options.orgId === undefined ? DEFAULT_ORG_ID : options.orgId;
  // Before listening: invalid OAuth options throw here, with no server left open.
  const oauth = new OAuthServer(options.oauth);

  const server = createServer({ key: certificate.key, cert: certificate.cert });
  // Tracked so close() can end hanging and keep-alive connections instead of waiting for them.
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `https://${host}:${port}`;

  const warehouse = new Warehouse({
    resultFormat: options.resultFormat ?? 'auto',
    cloudFetchMinRows: options.cloudFetchMinRows ?? 10_000,
    rowsPerChunk: options.rowsPerChunk ?? 100_000,
    lz4: options.lz4 ?? 'auto',
    directResults: options.directResults ?? true,
    statementDelayMs: options.statementDelayMs ?? 0,
    lz4Codec,
    baseUrl: url,
  });
  const telemetry = new TelemetryCollector();
  const featureFlags = new FeatureFlagEndpoint(
    options.featureFlag?.enabled ?? true,
    options.featureFlag?.ttlSeconds ?? 900,
  );
  const faults = new FaultInjector();
  const delivery = new Delivery();
  let closing: Promise<void> | undefined;

  const emulator: Emulator = {
    host,
    port,
    url,
    path,
    orgId,
    token,
    ca: certificate.cert,
    connectOptions: () => ({ host, port, path, token, customCaCert: certificate.cert }),
    telemetry: {
      requests: () => telemetry.requests(),
      logs: () => telemetry.logs(),
      clear: () => telemetry.clear(),
    },
    featureFlag: { set: (enabled, ttlSeconds) => featureFlags.set(enabled, ttlSeconds) },
    oauth: {
      clientId: oauth.clientId,
      clientSecret: oauth.clientSecret,
      tokens: () => oauth.tokens(),
      setTokenTtl: (seconds) => oauth.setTokenTtl(seconds),
      signInUser: () => oauth.signInUser(),
    },
    faults: {
      set: (target, sequence) => faults.set(target, sequence),
      clear: (target) => faults.clear(target),
    },
    requestCounts: () => structuredClone(router.counts),
    resetRequestCounts: () => {
      router.counts = emptyCounts();
    },
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        delivery.close();
        server.close(() => resolve());
        sockets.forEach((socket) => socket.destroy());
      });
      return closing;
    },
  };

  const router = new Router({
    emulator,
    token,
    orgId,
    warehousePath: path,
    warehouse,
    telemetry,
    featureFlags,
    oauth,
    faults,
    delivery,
  });
  server.on('request', (req, res) => {
    router.handle(req, res);
  });
  return emulator;
}
