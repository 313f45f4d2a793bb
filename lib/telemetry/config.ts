import IDBSQLLogger, { LogLevel } from '@databricks/sql/dist/contracts/IDBSQLLogger';
import { DEFAULT_TELEMETRY_CONFIG, TelemetryConfiguration } from './types';

type Field = keyof TelemetryConfiguration;

/** How one option's raw value is validated. */
export type TelemetryOptionKind =
  | { type: 'boolean' }
  | { type: 'integer'; min: number; max: number }
  /** A local file path; its value is never logged. */
  | { type: 'path'; maxLength: number };

/** One row of the option table: everything needed to resolve the option and to document it. */
export interface TelemetryOptionSpec {
  field: Field;
  /** Name in `ConnectionOptions` and `ClientConfig`. */
  option: string;
  /** Environment variable. */
  env: string;
  default: TelemetryConfiguration[Field];
  kind: TelemetryOptionKind;
  description: string;
}

/** Set to 1/true/yes/on, it turns telemetry off whatever the other sources say. */
export const TELEMETRY_DISABLED_ENV = 'DATABRICKS_TELEMETRY_DISABLED';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

function spec(field: Field, kind: TelemetryOptionKind, description: string): TelemetryOptionSpec {
  const pascal = field.charAt(0).toUpperCase() + field.slice(1);
  const snake = field.replace(/[A-Z]/g, (letter) => `_${letter}`).toUpperCase();
  return {
    field,
    option: `telemetry${pascal}`,
    env: `DATABRICKS_TELEMETRY_${snake}`,
    default: DEFAULT_TELEMETRY_CONFIG[field],
    kind,
    description,
  };
}

const bool = (): TelemetryOptionKind => ({ type: 'boolean' });
const int = (min: number, max: number): TelemetryOptionKind => ({ type: 'integer', min, max });

/**
 * Every telemetry option, in one place: the resolver is driven by this table and the docs are
 * generated from it. Ranges keep a typo from doing harm (a 900 s timeout, a queue that eats memory).
 */
export const TELEMETRY_OPTIONS: ReadonlyArray<Readonly<TelemetryOptionSpec>> = Object.freeze(
  [
    spec('enabled', bool(), 'Upload telemetry to the Databricks workspace (its feature flag must also be on).'),
    spec('batchSize', int(1, 10000), 'Logs per upload; a full batch is sent at once.'),
    spec('flushIntervalMs', int(10, 10 * MINUTE), 'Longest time a log waits before it is sent.'),
    spec('maxRetries', int(0, 10), 'Retries of a failed upload after the first attempt.'),
    spec('backoffBaseMs', int(1, MINUTE), 'Base of the exponential backoff between retries.'),
    spec('backoffMaxMs', int(1, 5 * MINUTE), 'Longest backoff between retries.'),
    spec('retryAfterMaxMs', int(1, 5 * MINUTE), "Longest wait honoured for a server's Retry-After."),
    spec('requestTimeoutMs', int(1, MINUTE), 'Timeout of each telemetry HTTP request.'),
    spec('circuitBreakerThreshold', int(1, 1000), 'Failed requests in a row that stop uploads to a host.'),
    spec('circuitBreakerTimeoutMs', int(1, HOUR), 'How long uploads stay stopped before a trial request.'),
    spec('circuitBreakerSuccessThreshold', int(1, 100), 'Successful trial requests that resume uploads.'),
    spec('closeTimeoutMs', int(1, 30 * SECOND), 'Longest time close() spends sending pending logs.'),
    spec('maxQueueSize', int(1, 100000), 'Logs held for upload; beyond it logs are dropped.'),
    spec('maxPendingStatements', int(1, 100000), 'Statements tracked at once; beyond it new ones are not.'),
    spec('statementTtlMs', int(SECOND, DAY), 'A statement idle this long is reported and forgotten.'),
    spec('authenticatedExport', bool(), 'Send signed-in logs with credentials (false: all go unauthenticated).'),
    spec('featureFlagTtlMs', int(SECOND, DAY), 'Feature-flag cache lifetime when the server gives none.'),
    spec('featureFlagFailureTtlMs', int(SECOND, DAY), 'How long a failed feature-flag look-up is remembered.'),
    spec('auditFile', { type: 'path', maxLength: 4096 }, 'Append every sent log to this file as a JSON line.'),
    spec(
      'openTelemetry',
      bool(),
      "Report statements to the application's OpenTelemetry providers, with or without the upload.",
    ),
    spec(
      'openTelemetryQueryText',
      bool(),
      'Put the statement text on its OpenTelemetry span, every literal replaced by ?. Never uploaded.',
    ),
  ].map((row) => Object.freeze(row)),
);

const INVALID = Symbol('invalid');
type Parsed = boolean | number | string | typeof INVALID;

const TRUE_WORDS = new Set(['true', '1']);
const FALSE_WORDS = new Set(['false', '0']);
const OPT_OUT_WORDS = new Set(['1', 'true', 'yes', 'on']);
const DIGITS = /^-?\d{1,16}$/;

function parse(raw: unknown, kind: TelemetryOptionKind): Parsed {
  switch (kind.type) {
    case 'boolean': {
      if (typeof raw === 'boolean') {
        return raw;
      }
      if (typeof raw !== 'string') {
        return INVALID;
      }
      const word = raw.trim().toLowerCase();
      if (TRUE_WORDS.has(word)) {
        return true;
      }
      return FALSE_WORDS.has(word) ? false : INVALID;
    }
    case 'integer': {
      let value: number;
      if (typeof raw === 'number') {
        value = raw;
      } else if (typeof raw === 'string' && DIGITS.test(raw.trim())) {
        value = Number(raw.trim());
      } else {
        return INVALID;
      }
      return Number.isInteger(value) && value >= kind.min && value <= kind.max ? value : INVALID;
    }
    case 'path':
      return typeof raw === 'string' && raw.length <= kind.maxLength && !raw.includes('\0') ? raw : INVALID;
  }
}

function describeKind(kind: TelemetryOptionKind): string {
  switch (kind.type) {
    case 'boolean':
      return 'a boolean';
    case 'integer':
      return `an integer in ${kind.min}..${kind.max}`;
    case 'path':
      return 'a file path';
  }
}

/** Reads an option without letting a throwing getter or a Proxy trap escape. */
function readOption(source: unknown, name: string): unknown {
  if (typeof source !== 'object' || source === null) {
    return undefined;
  }
  try {
    return (source as Record<string, unknown>)[name];
  } catch {
    return INVALID;
  }
}

function debug(logger: IDBSQLLogger, message: string): void {
  try {
    logger.log(LogLevel.debug, message);
  } catch {
    // A broken logger must not break configuration.
  }
}

export interface TelemetryConfigSources {
  /** Options of one `connect()` call: they win. */
  connectionOptions?: object;
  /** Options of the client (`new DBSQLClient(...)`). */
  clientConfig?: object;
  /** Defaults to `process.env`. */
  env?: NodeJS.ProcessEnv;
}

/**
 * Resolves every telemetry setting from connection options, then client config, then
 * `DATABRICKS_TELEMETRY_*` environment variables, then the defaults. An invalid value is skipped
 * with a debug line naming the option (never its value) and the next source decides; nothing
 * throws. `DATABRICKS_TELEMETRY_DISABLED` is a hard opt-out.
 */
export function resolveTelemetryConfig(sources: TelemetryConfigSources, logger: IDBSQLLogger): TelemetryConfiguration {
  const connectionOptions = readOption(sources, 'connectionOptions');
  const clientConfig = readOption(sources, 'clientConfig');
  const envSource = readOption(sources, 'env');
  const env = envSource === undefined ? process.env : envSource;

  const config: Record<string, unknown> = { ...DEFAULT_TELEMETRY_CONFIG };
  for (const option of TELEMETRY_OPTIONS) {
    const candidates: Array<[string, unknown]> = [
      [option.option, readOption(connectionOptions, option.option)],
      [option.option, readOption(clientConfig, option.option)],
      [option.env, envValue(readOption(env, option.env))],
    ];
    for (const [name, raw] of candidates) {
      if (raw === undefined) {
        continue;
      }
      const parsed = raw === INVALID ? INVALID : parse(raw, option.kind);
      if (parsed !== INVALID) {
        config[option.field] = parsed;
        break;
      }
      debug(logger, `telemetry: ignoring invalid ${name} (expected ${describeKind(option.kind)})`);
    }
  }

  const optOut = readOption(env, TELEMETRY_DISABLED_ENV);
  if (typeof optOut === 'string' && OPT_OUT_WORDS.has(optOut.trim().toLowerCase())) {
    config.enabled = false;
    debug(logger, `telemetry: disabled by ${TELEMETRY_DISABLED_ENV}`);
  }
  return config as unknown as TelemetryConfiguration;
}

/** An empty environment variable (`VAR=`) means unset, as shells commonly leave them. */
function envValue(raw: unknown): unknown {
  return typeof raw === 'string' && raw.trim() === '' ? undefined : raw;
}
