import os from 'os';
import path from 'path';
import { createHash } from 'crypto';
import type { ConnectionOptions } from '@databricks/sql/dist/contracts/IDBSQLClient';
import type { ClientConfig } from '@databricks/sql/dist/contracts/IClientContext';
import { AuthType, ConnectionParameters, DriverConfiguration } from '../telemetry/types';

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const DRIVER_VERSION: string = require('@databricks/sql/package.json').version;

/** Fixed: the driver's own User-Agent carries the application's `userAgentEntry`, which we never send. */
export function telemetryUserAgent(driverVersion: string): string {
  return `NodejsDatabricksSqlConnector/${driverVersion}`;
}

/** Per driver version: an instrumented application may run another driver than the one this package depends on. */
const driverConfigurations = new Map<string, DriverConfiguration>();

/** Facts about this process and the driver, computed once. Only the script's base name, never a path. */
export function getDriverConfiguration(driverVersion: string = DRIVER_VERSION): DriverConfiguration {
  let driverConfiguration = driverConfigurations.get(driverVersion);
  if (!driverConfiguration) {
    const locale = Intl.DateTimeFormat().resolvedOptions().locale.replace(/-/g, '_');
    driverConfiguration = {
      driverName: 'nodejs-sql-driver',
      driverVersion,
      runtimeName: 'Node.js',
      runtimeVersion: process.versions.node,
      runtimeVendor: 'OpenJS Foundation',
      osName: os.type(),
      osVersion: os.release(),
      osArch: os.arch(),
      localeName: locale,
      charSetEncoding: 'UTF-8',
      processName: process.argv[1] ? path.basename(process.argv[1]) : 'node',
    };
    driverConfigurations.set(driverVersion, driverConfiguration);
  }
  return driverConfiguration;
}

type AnyConnectionOptions = ConnectionOptions & Record<string, unknown>;

export function getAuthType(options: AnyConnectionOptions): AuthType {
  switch (options.authType) {
    case undefined:
    case 'access-token':
      return 'pat';
    case 'databricks-oauth':
      // The driver's own test: any secret given, even an empty one, means client credentials.
      return options.oauthClientSecret === undefined ? 'oauth-u2m' : 'oauth-m2m';
    default:
      return 'other';
  }
}

export function getConnectionParameters(options: AnyConnectionOptions, config: ClientConfig): ConnectionParameters {
  const authType = getAuthType(options);
  const authFlows = {
    pat: 'TOKEN_PASSTHROUGH',
    'oauth-m2m': 'CLIENT_CREDENTIALS',
    'oauth-u2m': 'BROWSER_BASED_AUTHENTICATION',
    other: undefined,
  } as const;
  return {
    httpPath: getHttpPath(options.path),
    hostUrl: getHostUrl(options.host),
    hostPort: options.port ?? 443,
    mode: 'THRIFT',
    authMech: authType === 'pat' ? 'PAT' : authType === 'other' ? 'OTHER' : 'OAUTH',
    authFlow: authFlows[authType],
    useProxy: Boolean(options.proxy),
    enableArrow: config.arrowEnabled ?? true,
    enableDirectResults: true,
    enableCloudFetch: Boolean(config.useCloudFetch),
    enableLz4Compression: Boolean(config.useLZ4Compression),
    socketTimeoutMs: config.socketTimeout,
    rowsFetchedPerBlock: config.fetchChunkDefaultMaxRows,
    enableMetricViewMetadata: Boolean(config.enableMetricViewMetadata),
  };
}

/** The workspace id in `?o=<id>` or `/o/<id>/` of the HTTP path. */
export function getWorkspaceId(httpPath: unknown): string | undefined {
  if (typeof httpPath !== 'string') {
    return undefined;
  }
  const match = /[?&]o=(\d{1,19})(?:&|$)/.exec(httpPath) ?? /\/o\/(\d{1,19})(?:\/|$)/.exec(httpPath);
  return match?.[1];
}

/**
 * The HTTP path as the driver requests it (with a leading slash), without its query string or
 * fragment: the path names the warehouse or cluster, while a query could carry anything (its
 * `o=<id>` is sent as `workspace_id`).
 */
export function getHttpPath(httpPath: unknown): string | undefined {
  if (typeof httpPath !== 'string') {
    return undefined;
  }
  const path = httpPath.replace(/[?#][\s\S]*$/, '').trim();
  if (path === '') {
    return undefined;
  }
  return path.startsWith('/') ? path : `/${path}`;
}

/** `https://<host>`: the workspace's address in the form the other drivers send it, the same host telemetry uploads to. */
export function getHostUrl(host: unknown): string | undefined {
  const name = typeof host === 'string' ? normalizeHost(host) : '';
  return name === '' ? undefined : `https://${name}`;
}

/** Host name as the driver connects to it, without scheme, port or trailing slash. */
export function normalizeHost(host: string): string {
  return host
    .replace(/^https?:\/\//i, '')
    .replace(/[:/].*$/, '')
    .toLowerCase();
}

const objectIds = new WeakMap<object, number>();
let nextObjectId = 1;

/**
 * A digest that tells credentials apart without holding them: the secret material when the
 * options carry it, otherwise the identity of the provider object the application passed.
 */
export function getCredentialKey(options: AnyConnectionOptions): string {
  const material = [
    options.authType ?? 'access-token',
    options.token,
    options.oauthClientId,
    options.oauthClientSecret,
    options.staticToken,
    identityOf(options.provider),
    identityOf(options.tokenProvider),
    identityOf(options.getToken),
  ]
    .map((part) => (part === undefined ? '' : String(part)))
    .join('\u0000');
  return createHash('sha256').update(material).digest('hex').slice(0, 32);
}

function identityOf(value: unknown): number | undefined {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) {
    return undefined;
  }
  let id = objectIds.get(value);
  if (id === undefined) {
    id = nextObjectId;
    nextObjectId += 1;
    objectIds.set(value, id);
  }
  return id;
}
