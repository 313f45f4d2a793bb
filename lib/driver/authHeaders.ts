import type IConnectionProvider from '@databricks/sql/dist/connection/contracts/IConnectionProvider';

type HeadersLike =
  Record<string, string> | Iterable<[string, string]> | { forEach(cb: (v: string, k: string) => void): void };

/**
 * The authentication headers the driver last set on the connection, each time after its own call
 * to the auth provider succeeded. Telemetry never calls the provider itself, so it never signs in
 * (no OAuth token request, no browser) and sends only what the application's own calls obtained,
 * also after close() (the driver forgets its provider there). Rejects before the first sign-in,
 * and while the token is a JWT past its `exp` (the driver renews it on the application's next
 * call): the exporter then drops the batch with a debug log.
 */
export default function watchAuthHeaders(
  connectionProvider: IConnectionProvider,
): () => Promise<Record<string, string>> {
  const read = headersReader(connectionProvider);
  return async () => {
    const current = read();
    if (current === undefined || current === null || isEmptyRecord(current)) {
      throw new Error('the connection has not signed in');
    }
    const headers = toRecord(current as HeadersLike);
    if (bearerExpired(headers)) {
      throw new Error("the connection's token has expired");
    }
    return headers;
  };
}

/**
 * How the headers the driver set are read when an upload needs them. The driver's HTTP connection
 * keeps them in its `headers` field, which is read then, so the driver's per-call `setHeaders()`
 * stays as it is: a method set on the connection would run on every call and give it a shape of
 * its own. The connection is held weakly: it holds the driver's client and agent, which a target
 * remembered by the shared caches must not keep alive after the connection's telemetry is gone
 * (while it runs, it holds the connection itself). A connection without that field has its
 * `setHeaders()` watched instead.
 */
function headersReader(connectionProvider: IConnectionProvider): () => unknown {
  if (
    Object.prototype.hasOwnProperty.call(connectionProvider, 'headers') &&
    typeof (connectionProvider as { headers?: unknown }).headers === 'object'
  ) {
    const connection = new WeakRef(connectionProvider as { headers?: unknown });
    return () => connection.deref()?.headers;
  }
  let current: unknown;
  const { setHeaders } = connectionProvider;
  connectionProvider.setHeaders = function setHeadersWatched(this: IConnectionProvider, headers) {
    current = headers;
    return setHeaders.call(this, headers);
  };
  return () => current;
}

/** A plain object with no entries: what the driver's connection holds before its first sign-in. */
function isEmptyRecord(value: unknown): boolean {
  return Object.getPrototypeOf(value) === Object.prototype && Object.keys(value as object).length === 0;
}

/** A bearer JWT whose `exp` has passed, read as the driver's OAuth reads it; anything else is not expired. */
function bearerExpired(headers: Record<string, string>): boolean {
  const authorization = Object.entries(headers).find(([name]) => name.toLowerCase() === 'authorization')?.[1];
  const payload = /^Bearer [\w-]+\.([\w-]+)\.[\w-]*$/.exec(authorization ?? '')?.[1];
  if (payload === undefined) {
    return false;
  }
  try {
    const { exp } = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { exp?: unknown };
    return typeof exp === 'number' && exp <= Math.floor(Date.now() / 1000);
  } catch {
    return false;
  }
}

function toRecord(headers: HeadersLike): Record<string, string> {
  const result: Record<string, string> = {};
  if (typeof (headers as { forEach?: unknown }).forEach === 'function' && !Array.isArray(headers)) {
    (headers as { forEach(cb: (v: string, k: string) => void): void }).forEach((value, key) => {
      result[key] = value;
    });
  } else if (Symbol.iterator in Object(headers)) {
    for (const [key, value] of headers as Iterable<[string, string]>) {
      result[key] = value;
    }
  } else {
    Object.assign(result, headers);
  }
  return result;
}
