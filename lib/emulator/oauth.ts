import { createHash, createHmac, randomBytes, randomUUID } from 'crypto';
import { IncomingHttpHeaders } from 'http';
import { jsonReply, Reply } from './http';

/** OAuth as a workspace serves it; every field is optional. */
export interface OAuthOptions {
  /** The service principal allowed the client-credentials grant (machine-to-machine). Default `emulator-client`. */
  clientId?: string;
  /** Its secret. Default `emulator-secret`. */
  clientSecret?: string;
  /** The public client of browser sign-in (user-to-machine). Default `databricks-sql-connector`, the driver's own. */
  userClientId?: string;
  /** Lifetime of issued access tokens. Default 3600. */
  tokenTtlSeconds?: number;
  /**
   * How long after its `exp` a token is still accepted: a client checks expiry just before a
   * request, which then takes a moment to arrive. Default 250.
   */
  expiryGraceMs?: number;
}

export type OAuthGrant = 'client_credentials' | 'authorization_code' | 'refresh_token';

/** One access token the token endpoint issued. */
export interface IssuedToken {
  accessToken: string;
  grant: OAuthGrant;
  clientId: string;
  scope: string;
  issuedAt: number;
  /** Epoch ms of the token's `exp` claim: the driver renews from then on. */
  expiresAt: number;
}

export const OIDC_PREFIX = '/oidc';
export const DISCOVERY_PATH = `${OIDC_PREFIX}/.well-known/oauth-authorization-server`;
export const TOKEN_PATH = `${OIDC_PREFIX}/v1/token`;
export const AUTHORIZE_PATH = `${OIDC_PREFIX}/v1/authorize`;

const SCOPES = ['all-apis', 'sql', 'offline_access'];

/** Codes, as a workspace's, are short-lived and single-use. */
const CODE_TTL_MS = 60_000;

interface PendingCode {
  clientId: string;
  redirectUri: string;
  challenge: string;
  scope: string;
  expiresAt: number;
}

const base64url = (value: Buffer | string): string => Buffer.from(value).toString('base64url');

function oauthError(status: number, error: string, description: string): Reply {
  const reply = jsonReply(status, { error, error_description: description });
  reply.headers = { ...reply.headers, 'Cache-Control': 'no-store' };
  return reply;
}

/**
 * The workspace's OAuth server: OIDC discovery, a token endpoint for the client-credentials,
 * authorization-code (PKCE) and refresh-token grants, and an authorize endpoint that approves at
 * once (as a user who is already signed in to the workspace would). Access tokens are JWTs with an
 * `exp` claim, which the driver reads to decide when to renew; they are accepted until then.
 */
export default class OAuthServer {
  readonly clientId: string;

  readonly clientSecret: string;

  readonly userClientId: string;

  private ttlSeconds: number;

  private readonly graceMs: number;

  private readonly key = randomBytes(32);

  /** Every issued access token, oldest first; `valid` keeps only those still accepted. */
  private readonly issued: IssuedToken[] = [];

  private readonly valid = new Map<string, IssuedToken>();

  private readonly refreshTokens = new Map<string, { clientId: string; scope: string }>();

  private readonly codes = new Map<string, PendingCode>();

  constructor(options: OAuthOptions = {}) {
    this.clientId = options.clientId ?? 'emulator-client';
    this.clientSecret = options.clientSecret ?? 'emulator-secret';
    this.userClientId = options.userClientId ?? 'databricks-sql-connector';
    this.ttlSeconds = positive(options.tokenTtlSeconds, 3600, 'oauth.tokenTtlSeconds');
    this.graceMs = options.expiryGraceMs ?? 250;
  }

  /** Changes the lifetime of tokens issued from now on. */
  setTokenTtl(seconds: number): void {
    this.ttlSeconds = positive(seconds, this.ttlSeconds, 'tokenTtlSeconds');
  }

  tokens(): IssuedToken[] {
    return this.issued.map((token) => ({ ...token }));
  }

  /** Whether `Authorization: <header>` carries an access token accepted now. */
  accepts(header: string | undefined): boolean {
    const token = /^Bearer (\S+)$/.exec(header ?? '')?.[1];
    const issued = token === undefined ? undefined : this.valid.get(token);
    if (!issued) {
      return false;
    }
    if (Date.now() < issued.expiresAt + this.graceMs) {
      return true;
    }
    this.valid.delete(issued.accessToken);
    return false;
  }

  /** What the browser sign-in would end with: an access and a refresh token for the public client. */
  signInUser(): { accessToken: string; refreshToken: string; expiresAt: number } {
    const token = this.issue('authorization_code', this.userClientId, 'sql offline_access');
    return {
      accessToken: token.accessToken,
      refreshToken: this.newRefreshToken(this.userClientId, 'sql offline_access'),
      expiresAt: token.expiresAt,
    };
  }

  /** `baseUrl` is the workspace as the client addressed it, so the endpoints it learns lead back here. */
  discovery(baseUrl: string): Reply {
    const issuer = `${baseUrl}${OIDC_PREFIX}`;
    return jsonReply(200, {
      issuer,
      authorization_endpoint: `${baseUrl}${AUTHORIZE_PATH}`,
      token_endpoint: `${baseUrl}${TOKEN_PATH}`,
      jwks_uri: `${issuer}/jwks.json`,
      scopes_supported: SCOPES,
      response_types_supported: ['code'],
      response_modes_supported: ['query'],
      grant_types_supported: ['client_credentials', 'authorization_code', 'refresh_token'],
      code_challenge_methods_supported: ['S256'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
    });
  }

  /** `GET /oidc/v1/authorize`: redirects to the client's callback with a code at once. */
  authorize(url: URL): Reply {
    const param = (name: string) => url.searchParams.get(name) ?? '';
    const redirectUri = param('redirect_uri');
    if (param('client_id') !== this.userClientId) {
      return oauthError(400, 'invalid_client', 'Unknown client_id');
    }
    if (!/^https?:\/\//.test(redirectUri)) {
      return oauthError(400, 'invalid_request', 'redirect_uri is required');
    }
    if (param('response_type') !== 'code') {
      return oauthError(400, 'unsupported_response_type', 'Only response_type=code');
    }
    if (param('code_challenge') === '' || param('code_challenge_method') !== 'S256') {
      return oauthError(400, 'invalid_request', 'PKCE with code_challenge_method=S256 is required');
    }
    const code = base64url(randomBytes(24));
    this.codes.set(code, {
      clientId: this.userClientId,
      redirectUri,
      challenge: param('code_challenge'),
      scope: param('scope'),
      expiresAt: Date.now() + CODE_TTL_MS,
    });
    const location = new URL(redirectUri);
    location.searchParams.set('code', code);
    if (url.searchParams.has('state')) {
      location.searchParams.set('state', param('state'));
    }
    return { status: 302, headers: { Location: location.toString() }, body: '' };
  }

  /** `POST /oidc/v1/token` with a form body. */
  token(headers: IncomingHttpHeaders, rawBody: Buffer): Reply {
    const form = new URLSearchParams(rawBody.toString('utf8'));
    const client = clientCredentials(headers.authorization, form);
    switch (form.get('grant_type')) {
      case 'client_credentials': {
        if (client.id !== this.clientId || client.secret !== this.clientSecret) {
          return oauthError(401, 'invalid_client', 'Client authentication failed');
        }
        return this.tokenReply(this.issue('client_credentials', client.id, form.get('scope') ?? 'all-apis'));
      }
      case 'authorization_code': {
        const code = this.codes.get(form.get('code') ?? '');
        this.codes.delete(form.get('code') ?? '');
        if (client.id !== this.userClientId) {
          return oauthError(401, 'invalid_client', 'Client authentication failed');
        }
        if (
          !code ||
          code.expiresAt < Date.now() ||
          code.clientId !== client.id ||
          code.redirectUri !== form.get('redirect_uri')
        ) {
          return oauthError(400, 'invalid_grant', 'Invalid authorization code');
        }
        const verifier = form.get('code_verifier') ?? '';
        if (base64url(createHash('sha256').update(verifier).digest()) !== code.challenge) {
          return oauthError(400, 'invalid_grant', 'PKCE verification failed');
        }
        return this.tokenReply(
          this.issue('authorization_code', client.id, code.scope),
          this.newRefreshToken(client.id, code.scope),
        );
      }
      case 'refresh_token': {
        const presented = form.get('refresh_token') ?? '';
        const grant = this.refreshTokens.get(presented);
        if (!grant || grant.clientId !== client.id) {
          return oauthError(400, 'invalid_grant', 'Invalid refresh token');
        }
        // Rotated, as a workspace does: the old refresh token is spent.
        this.refreshTokens.delete(presented);
        return this.tokenReply(
          this.issue('refresh_token', client.id, grant.scope),
          this.newRefreshToken(client.id, grant.scope),
        );
      }
      default:
        return oauthError(400, 'unsupported_grant_type', 'Unsupported grant_type');
    }
  }

  private tokenReply(token: IssuedToken, refreshToken?: string): Reply {
    const reply = jsonReply(200, {
      access_token: token.accessToken,
      token_type: 'Bearer',
      expires_in: Math.floor((token.expiresAt - token.issuedAt) / 1000),
      scope: token.scope,
      ...(refreshToken === undefined ? {} : { refresh_token: refreshToken }),
    });
    reply.headers = { ...reply.headers, 'Cache-Control': 'no-store' };
    return reply;
  }

  private issue(grant: OAuthGrant, clientId: string, scope: string): IssuedToken {
    const issuedAt = Date.now();
    // Whole seconds, rounded up: the driver compares `exp` with the current second.
    const exp = Math.ceil((issuedAt + this.ttlSeconds * 1000) / 1000);
    const header = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
    const payload = base64url(
      JSON.stringify({
        sub: clientId,
        client_id: clientId,
        scope,
        iat: Math.floor(issuedAt / 1000),
        exp,
        jti: randomUUID(),
      }),
    );
    const signature = base64url(createHmac('sha256', this.key).update(`${header}.${payload}`).digest());
    const token: IssuedToken = {
      accessToken: `${header}.${payload}.${signature}`,
      grant,
      clientId,
      scope,
      issuedAt,
      expiresAt: exp * 1000,
    };
    this.issued.push(token);
    this.valid.set(token.accessToken, token);
    return token;
  }

  private newRefreshToken(clientId: string, scope: string): string {
    const token = `emulator-refresh-${base64url(randomBytes(24))}`;
    this.refreshTokens.set(token, { clientId, scope });
    return token;
  }
}

/** The client's id and secret from HTTP Basic (form-encoded parts) or the form body. */
function clientCredentials(authorization: string | undefined, form: URLSearchParams): { id?: string; secret?: string } {
  const basic = /^Basic (\S+)$/i.exec(authorization ?? '')?.[1];
  if (basic) {
    const decoded = Buffer.from(basic, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const part = (value: string) => decodeURIComponent(value.replace(/\+/g, ' '));
    try {
      return colon < 0 ? {} : { id: part(decoded.slice(0, colon)), secret: part(decoded.slice(colon + 1)) };
    } catch {
      return {};
    }
  }
  return { id: form.get('client_id') ?? undefined, secret: form.get('client_secret') ?? undefined };
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) {
    return fallback;
  }
  if (!(typeof value === 'number' && value > 0 && Number.isFinite(value))) {
    throw new Error(`${name} must be a positive number of seconds`);
  }
  return value;
}
