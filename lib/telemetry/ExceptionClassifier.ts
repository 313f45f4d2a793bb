import { ERROR_CLASS_NAME, isSqlState, UNKNOWN_ERROR } from './errorNames';

const TERMINAL_STATUSES: ReadonlySet<number> = new Set([400, 401, 403, 404]);
const AUTH_STATUSES: ReadonlySet<number> = new Set([401, 403]);
const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([429, 500, 502, 503, 504]);
const RETRYABLE_NAMES: ReadonlySet<string> = new Set(['TimeoutError', 'AbortError']);
const RETRYABLE_CODES: ReadonlySet<string> = new Set([
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'EAI_AGAIN',
]);
/** Failures to reach a host at all: name resolution, connection refused, no route. */
const UNREACHABLE_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);
/** Node's codes for a certificate the client does not trust: OpenSSL's names, and its own ERR_TLS_ ones. */
const TLS_CODE = /^(ERR_TLS_|CERT_|DEPTH_ZERO_SELF_SIGNED_CERT$|SELF_SIGNED_CERT_IN_CHAIN$|UNABLE_TO_)/;
const AUTH_NAME = /^(Authentication|Authorization|Auth)(Error|Exception)$/;
/** Wrapped errors (`cause`) are followed this deep; a cyclic chain cannot loop. */
const MAX_CAUSE_DEPTH = 3;

/** Reads a property without letting a throwing getter or a Proxy trap escape. */
function read(value: unknown, key: string): unknown {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) {
    return undefined;
  }
  try {
    return (value as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}

function httpStatus(error: unknown): number | undefined {
  for (const key of ['statusCode', 'status']) {
    const value = read(error, key);
    if (typeof value === 'number' && Number.isInteger(value)) {
      return value;
    }
  }
  return undefined;
}

/** `name`, or the constructor's name when `name` is the generic 'Error' (subclasses often leave it). */
function className(error: unknown): string | undefined {
  const name = read(error, 'name');
  if (typeof name === 'string' && name !== 'Error') {
    return name;
  }
  const ctorName = read(read(error, 'constructor'), 'name');
  if (typeof ctorName === 'string' && ctorName !== 'Object' && ctorName !== '') {
    return ctorName;
  }
  return typeof name === 'string' ? name : undefined;
}

function causes(error: unknown): unknown[] {
  const chain = [error];
  let current = error;
  for (let i = 0; i < MAX_CAUSE_DEPTH; i += 1) {
    current = read(current, 'cause');
    if (current === undefined || current === null) {
      break;
    }
    chain.push(current);
  }
  return chain;
}

function isRetryableOne(error: unknown): boolean {
  const status = httpStatus(error);
  if (status !== undefined) {
    return RETRYABLE_STATUSES.has(status);
  }
  const name = className(error);
  if (name !== undefined && RETRYABLE_NAMES.has(name)) {
    return true;
  }
  const code = read(error, 'code');
  if (typeof code === 'string' && RETRYABLE_CODES.has(code)) {
    return true;
  }
  // Node's https client reports a server that closed the socket mid-request only by message.
  const message = read(error, 'message');
  return typeof message === 'string' && message.toLowerCase().includes('socket hang up');
}

/**
 * Decides what a failure means for telemetry: terminal failures (bad request, auth, missing
 * endpoint) will fail again the same way and are not retried; retryable ones (throttling, server
 * errors, network trouble, timeouts) may succeed later. Anything unrecognised, including values
 * that are not errors at all, is neither: it is not retried, because retrying an unknown failure
 * only adds load to an endpoint that may be broken. Never throws.
 */
export default class ExceptionClassifier {
  static isTerminal(error: unknown): boolean {
    const status = httpStatus(error);
    if (status !== undefined) {
      return TERMINAL_STATUSES.has(status);
    }
    const name = className(error);
    return name !== undefined && AUTH_NAME.test(name);
  }

  /** The server refused the credential (401, 403, or an auth error by name): one credential's failure, terminal too. */
  static isAuthFailure(error: unknown): boolean {
    const status = httpStatus(error);
    if (status !== undefined) {
      return AUTH_STATUSES.has(status);
    }
    const name = className(error);
    return name !== undefined && AUTH_NAME.test(name);
  }

  /**
   * The host could not be reached at all (refused, unresolved, unroutable) or its certificate is
   * not trusted: a request to any endpoint of the same host fails the same way.
   */
  static isHostUnreachable(error: unknown): boolean {
    return causes(error).some((one) => {
      const code = read(one, 'code');
      return typeof code === 'string' && (UNREACHABLE_CODES.has(code) || TLS_CODE.test(code));
    });
  }

  static isRetryable(error: unknown): boolean {
    if (ExceptionClassifier.isTerminal(error)) {
      return false;
    }
    return causes(error).some(isRetryableOne);
  }

  /**
   * An error name reported as text (`Status Error` becomes `StatusError`), fit to export; a name
   * that is not one becomes `UnknownError`.
   */
  static safeName(name: unknown): string {
    const compact = typeof name === 'string' ? name.replace(/\s+/g, '') : '';
    return ERROR_CLASS_NAME.test(compact) ? compact : UNKNOWN_ERROR;
  }

  /** The error's SQLSTATE or class name, fit to export; never any message text. */
  static safeErrorName(error: unknown): string {
    const sqlState = read(error, 'sqlState');
    if (isSqlState(sqlState)) {
      return sqlState;
    }
    const name = className(error);
    if (name !== undefined && ERROR_CLASS_NAME.test(name)) {
      return name;
    }
    return 'UnknownError';
  }
}
