/**
 * What an error may be reported as, in one place: its SQLSTATE or its class name, never its
 * message. Used by the adapter, the classifier, the OpenTelemetry bridge and the serializer.
 */

/** A SQLSTATE: five digits or upper-case letters, the standard's alphabet. */
export const SQLSTATE = /^[0-9A-Z]{5}$/;

/** An error class name fit to export: an identifier of at most 64 characters. */
export const ERROR_CLASS_NAME = /^[A-Za-z][A-Za-z0-9_.]{0,63}$/;

/** The name reported for an error that has neither a usable SQLSTATE nor a usable class name. */
export const UNKNOWN_ERROR = 'UnknownError';

export function isSqlState(value: unknown): value is string {
  return typeof value === 'string' && SQLSTATE.test(value);
}

/** A value fit for `error_name`: a class name or a SQLSTATE. */
export function isSafeErrorName(value: unknown): value is string {
  return typeof value === 'string' && (ERROR_CLASS_NAME.test(value) || SQLSTATE.test(value));
}
