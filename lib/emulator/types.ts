import { FaultStep, FaultTarget } from './faults';
import { IssuedToken, OAuthOptions } from './oauth';
import { ResultFormat } from './sql';
import { RecordedTelemetryRequest } from './telemetryCollector';

/** How to start the emulator; every field is optional. */
export interface EmulatorOptions {
  /** TCP port; 0 (the default) picks a free one. */
  port?: number;
  /** Interface to listen on and name to connect to. Default `127.0.0.1`. */
  host?: string;
  /** The personal access token the workspace accepts. Default `dapi-emulator-token`. */
  token?: string;
  /** The warehouse served at `/sql/1.0/warehouses/<id>`. Default `emulator`. */
  warehouseId?: string;
  /**
   * Result format of statements without a `format=` hint. `auto` (default): CloudFetch for
   * results of `cloudFetchMinRows` rows or more when the driver can download, else inline Arrow
   * when it can read Arrow, else columns. Metadata calls always answer in columns.
   */
  resultFormat?: ResultFormat | 'auto';
  /** Default 10 000. */
  cloudFetchMinRows?: number;
  /** Rows per CloudFetch file when no `chunks=` hint gives the count. Default 100 000. */
  rowsPerChunk?: number;
  /**
   * LZ4 for statements without an `lz4=` hint. `auto` (default): inline Arrow is compressed
   * when the driver asks, CloudFetch files always. Without a loadable `lz4-napi`, never.
   */
  lz4?: boolean | 'auto';
  /** `false` ignores the driver's requests for direct results. Default `true`. */
  directResults?: boolean;
  /** How long statements report RUNNING when no `sleep=` hint says. Default 0. */
  statementDelayMs?: number;
  /** The telemetry feature flag. Default enabled, TTL 900 s. */
  featureFlag?: { enabled: boolean; ttlSeconds?: number };
  /**
   * The workspace id sent, as a real workspace does, in the `x-databricks-org-id` header of every
   * workspace response (not CloudFetch files, which come from cloud storage, nor the control API).
   * Sent as given, so a test can send a malformed one; `null` sends no header.
   * Default `DEFAULT_ORG_ID`.
   */
  orgId?: string | null;
  /**
   * OAuth as a workspace serves it, under `/oidc`: discovery, a token endpoint and browser
   * sign-in. The access tokens it issues are accepted, while valid, wherever the token is.
   * The driver signs in with OAuth only to a host name under a Databricks domain on port 443.
   */
  oauth?: OAuthOptions;
}

/** Spread into `DBSQLClient.connect()`. */
export interface EmulatorConnectOptions {
  host: string;
  port: number;
  path: string;
  token: string;
  /** The emulator's self-signed certificate, so the driver's real TLS path is used. */
  customCaCert: string;
}

/** Requests received per endpoint since start (or the last reset), counted before auth and faults. */
export interface RequestCounts {
  thrift: number;
  /** Thrift requests by RPC name, e.g. `{ OpenSession: 1, ExecuteStatement: 2 }`. */
  thriftMethods: Record<string, number>;
  cloudFetch: number;
  telemetryExt: number;
  telemetryUnauth: number;
  featureFlags: number;
  /** `/oidc/.well-known/oauth-authorization-server`. */
  oauthDiscovery: number;
  /** `/oidc/v1/token`, every grant. */
  oauthToken: number;
  /** `/oidc/v1/authorize` (browser sign-in). */
  oauthAuthorize: number;
  /** The `/emulator/...` control API. */
  control: number;
  /** Anything else (answered 404). */
  unknown: number;
}

/** A running emulator. */
export interface Emulator {
  readonly host: string;
  readonly port: number;
  /** `https://host:port`. */
  readonly url: string;
  /** The warehouse's HTTP path, `/sql/1.0/warehouses/<id>`. */
  readonly path: string;
  /** The `x-databricks-org-id` its responses carry, or null for none. */
  readonly orgId: string | null;
  readonly token: string;
  /** PEM certificate to trust (`customCaCert`). */
  readonly ca: string;
  connectOptions(): EmulatorConnectOptions;
  telemetry: {
    /** Accepted uploads, oldest first. */
    requests(): RecordedTelemetryRequest[];
    /** Every accepted frontend log, decoded. */
    logs(): unknown[];
    clear(): void;
  };
  featureFlag: {
    /** Changes what the flag endpoint answers from the next request on. */
    set(enabled: boolean, ttlSeconds?: number): void;
  };
  oauth: {
    /** The service principal of the client-credentials grant. */
    readonly clientId: string;
    readonly clientSecret: string;
    /** Access tokens issued, oldest first (expired ones too). */
    tokens(): IssuedToken[];
    /** Lifetime of tokens issued from now on. */
    setTokenTtl(seconds: number): void;
    /** The end of a browser sign-in without the browser: an access and a refresh token for the public client. */
    signInUser(): { accessToken: string; refreshToken: string; expiresAt: number };
  };
  faults: {
    /** Replaces the fault sequence of `target`; takes effect on the next request. */
    set(target: FaultTarget, sequence: FaultStep | FaultStep[]): void;
    /** Clears `target`'s sequence, or every sequence. */
    clear(target?: FaultTarget): void;
  };
  requestCounts(): RequestCounts;
  resetRequestCounts(): void;
  /** Ends every open request (hanging ones too) and frees the port. Safe to call twice. */
  close(): Promise<void>;
}
