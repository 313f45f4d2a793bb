import ITelemetryContext from './contracts/ITelemetryContext';
import TelemetryTarget, { hostKey } from './contracts/TelemetryTarget';
import httpRequest, { HttpResponse } from './httpRequest';
import { DEFAULT_TELEMETRY_CONFIG } from './types';
import debugLog from './debugLog';
import { withDeadline } from './deadline';

export type FeatureFlagState = 'enabled' | 'disabled' | 'unknown';

export interface FeatureFlagAnswer {
  state: FeatureFlagState;
  /** Epoch ms until which the state holds. */
  expiresAt: number;
}

export const TELEMETRY_FLAG_NAME = 'databricks.partnerplatform.clientConfigsFeatureFlags.enableTelemetryForNodeJs';

/** A server TTL outside this range is clamped: too short floods the endpoint, too long never notices a switch. */
const MIN_TTL_MS = 60 * 1000;
const MAX_TTL_MS = 24 * 60 * 60 * 1000;

/** The response header in which a workspace names its own numeric id. */
export const ORG_ID_HEADER = 'x-databricks-org-id';
const ORG_ID = /^\d{1,19}$/;

interface Holder {
  context: ITelemetryContext;
  target: TelemetryTarget;
}

interface HostEntry {
  /**
   * One element per `acquire`; the oldest one makes the request: its credentials have served
   * longest, so a newcomer with a wrong token cannot turn the host's flag off for everyone.
   */
  holders: Holder[];
  state: FeatureFlagState;
  /** Epoch ms after which the state is refreshed in the background; 0 until the first answer. */
  expiresAt: number;
  inFlight?: Promise<void>;
  /** The state came from a failed look-up, not from the server's answer. */
  failed: boolean;
  /** The workspace id the host last named in a response's `x-databricks-org-id`. */
  orgId?: string;
}

interface FetchResult {
  state: 'enabled' | 'disabled';
  ttlMs: number;
  reason?: string;
  /** What the response's org id header said: a valid id, or why it was ignored. */
  orgId?: { id: string } | { problem: string };
}

/**
 * Each acquired target's host entry, for `workspaceIdOf`: the exporter holds the target, not the
 * cache. Weak, so a forgotten target takes nothing with it.
 */
const entriesByTarget = new WeakMap<TelemetryTarget, HostEntry>();

/**
 * Per-host cache of the server's telemetry feature flag. Warm, never blocking: `acquire` starts a
 * background fetch and `getState` answers synchronously from the last known value, so `connect()`
 * never waits for the flag endpoint. Expiry is checked against `Date.now()` on read, so the cache
 * owns no timers.
 */
export default class FeatureFlagCache {
  private readonly hosts = new Map<string, HostEntry>();

  /** The last target read and its key: `getState` runs for every log, mostly for one target. */
  private lastTarget?: TelemetryTarget;

  private lastKey = '';

  /**
   * The workspace id that `target`'s host named in the `x-databricks-org-id` header of its
   * feature-flag response, for logs whose HTTP path names none; undefined until such a response
   * arrived. Uploads wait for the flag, so the id is known before the first one. Never throws.
   */
  static workspaceIdOf(target: TelemetryTarget): string | undefined {
    try {
      return entriesByTarget.get(target)?.orgId;
    } catch {
      return undefined;
    }
  }

  /** Registers one user of the host's flag and starts a fetch when there is no fresh value. */
  acquire(context: ITelemetryContext, target: TelemetryTarget): void {
    try {
      const key = hostKey(target);
      let entry = this.hosts.get(key);
      if (!entry) {
        entry = { holders: [], state: 'unknown', expiresAt: 0, failed: false };
        this.hosts.set(key, entry);
      }
      entry.holders.push({ context, target });
      entriesByTarget.set(target, entry);
      this.refreshIfStale(key, entry);
    } catch (error) {
      debugLog(context, `telemetry feature flag: acquire failed: ${describe(error)}`);
    }
  }

  /** Drops one user of the host's flag; the host is forgotten when the last one leaves. */
  release(target: TelemetryTarget): void {
    try {
      const key = hostKey(target);
      const entry = this.hosts.get(key);
      if (!entry) {
        return;
      }
      let index = entry.holders.findIndex((holder) => holder.target === target);
      if (index < 0) {
        index = entry.holders.length - 1;
      }
      entry.holders.splice(index, 1);
      if (entry.holders.length === 0) {
        this.hosts.delete(key);
      }
    } catch {
      // A malformed target was never acquired, so there is nothing to release (and no logger).
    }
  }

  /** Last known state; an expired value keeps serving while one background refresh runs. */
  getState(target: TelemetryTarget): FeatureFlagState {
    try {
      return this.currentEntry(target)?.state ?? 'unknown';
    } catch {
      return 'unknown';
    }
  }

  /** The state once an in-flight fetch settles, waiting at most `timeoutMs` (for `close()`). */
  async whenSettled(target: TelemetryTarget, timeoutMs: number): Promise<FeatureFlagState> {
    try {
      const entry = this.currentEntry(target);
      if (entry?.inFlight) {
        await withDeadline(entry.inFlight, timeoutMs, () => undefined);
      }
      return entry?.state ?? 'unknown';
    } catch {
      return 'unknown';
    }
  }

  /**
   * The host's answer once it has one: its state and until when it holds (epoch ms; 0 when there
   * is no answer). Starts a refresh when the last answer expired, and waits for a fetch in flight,
   * which is bounded by its request timeout. Never rejects.
   */
  async answer(target: TelemetryTarget): Promise<FeatureFlagAnswer> {
    try {
      const entry = this.currentEntry(target);
      while (entry?.inFlight) {
        await entry.inFlight;
      }
      return entry ? { state: entry.state, expiresAt: entry.expiresAt } : { state: 'unknown', expiresAt: 0 };
    } catch {
      return { state: 'unknown', expiresAt: 0 };
    }
  }

  /** Number of users of the host's flag (0 once forgotten). */
  getRefCount(target: TelemetryTarget): number {
    try {
      return this.hosts.get(hostKey(target))?.holders.length ?? 0;
    } catch {
      return 0;
    }
  }

  /**
   * Read-only: hosts with an entry and the users holding them, over every host, so tests and
   * benches can see the cache empty once its connections are gone. Changes nothing, fetches nothing.
   */
  getStats(): { hosts: number; holders: number } {
    let holders = 0;
    for (const entry of this.hosts.values()) {
      holders += entry.holders.length;
    }
    return { hosts: this.hosts.size, holders };
  }

  /** The host's entry, with a background refresh started if its value has expired. */
  private currentEntry(target: TelemetryTarget): HostEntry | undefined {
    if (target !== this.lastTarget) {
      this.lastKey = hostKey(target);
      this.lastTarget = target;
    }
    const key = this.lastKey;
    const entry = this.hosts.get(key);
    if (entry) {
      this.refreshIfStale(key, entry);
    }
    return entry;
  }

  private refreshIfStale(key: string, entry: HostEntry): void {
    if (entry.inFlight || (entry.expiresAt !== 0 && Date.now() < entry.expiresAt)) {
      return;
    }
    const { context, target } = entry.holders[0];
    if (entry.failed) {
      // A failure is not an answer: once it expires, logs are held (bounded) until the retry answers.
      entry.state = 'unknown';
    }
    entry.inFlight = fetchFlag(context, target).then((result) => {
      entry.state = result.state;
      entry.failed = result.reason !== undefined;
      entry.expiresAt = Date.now() + result.ttlMs;
      entry.inFlight = undefined;
      if (result.orgId && 'id' in result.orgId) {
        entry.orgId = result.orgId.id;
      } else if (result.orgId) {
        debugLog(context, `telemetry feature flag for ${key}: ${result.orgId.problem}`);
      }
      if (result.reason) {
        debugLog(context, `telemetry feature flag for ${key}: ${result.reason}; disabled for ${result.ttlMs} ms`);
      }
    });
  }
}

/** Never rejects: every failure is a short-lived 'disabled'. */
async function fetchFlag(context: ITelemetryContext, target: TelemetryTarget): Promise<FetchResult> {
  let failureTtlMs = DEFAULT_TELEMETRY_CONFIG.featureFlagFailureTtlMs;
  try {
    const config = context.getTelemetryConfig();
    failureTtlMs = config.featureFlagFailureTtlMs;
    // The deadline also covers getting the auth headers, which httpRequest's own timeout does not.
    const response = await withDeadline(
      request(context, target, config.requestTimeoutMs),
      config.requestTimeoutMs,
      () => undefined,
    );
    if (!response) {
      return { state: 'disabled', ttlMs: failureTtlMs, reason: 'request timed out' };
    }
    // Whatever the status: the host answered, and the id is a fact about the host.
    const orgId = readOrgId(response);
    if (response.status < 200 || response.status >= 300) {
      return { state: 'disabled', ttlMs: failureTtlMs, reason: `HTTP ${response.status}`, orgId };
    }
    return { ...parseResponse(response.body, config.featureFlagTtlMs, failureTtlMs), orgId };
  } catch (error) {
    return { state: 'disabled', ttlMs: failureTtlMs, reason: `request failed: ${describe(error)}` };
  }
}

async function request(context: ITelemetryContext, target: TelemetryTarget, timeoutMs: number) {
  const headers: Record<string, string> = {
    ...(await target.getAuthHeaders()),
    Accept: 'application/json',
    'User-Agent': target.userAgent,
  };
  if (target.orgId) {
    headers['x-databricks-org-id'] = target.orgId;
  }
  const version = encodeURIComponent(target.driverVersion);
  return httpRequest(context, {
    method: 'GET',
    url: `https://${target.host}:${target.port}/api/2.0/connector-service/feature-flags/NODEJS/${version}`,
    headers,
    timeoutMs,
  });
}

/** The response's `x-databricks-org-id`: digits only, as the serializer needs them; anything else is ignored. */
function readOrgId(response: HttpResponse): FetchResult['orgId'] {
  let value: unknown;
  try {
    value = response.header(ORG_ID_HEADER);
  } catch {
    return { problem: `unreadable ${ORG_ID_HEADER} header ignored` };
  }
  if (value === undefined) {
    return undefined;
  }
  const text = typeof value === 'string' ? value.trim() : '';
  if (ORG_ID.test(text)) {
    return { id: text };
  }
  // Not the value itself, which could be anything: its length.
  const size = typeof value === 'string' ? `${value.length} chars` : typeof value;
  return { problem: `malformed ${ORG_ID_HEADER} header ignored (${size})` };
}

function parseResponse(body: string, defaultTtlMs: number, failureTtlMs: number): FetchResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return { state: 'disabled', ttlMs: failureTtlMs, reason: 'malformed response body' };
  }
  const record = isRecord(parsed) ? parsed : {};
  const flags = Array.isArray(record.flags) ? record.flags : [];
  const flag = flags.find((item: unknown) => isRecord(item) && item.name === TELEMETRY_FLAG_NAME);
  if (!isRecord(flag) || typeof flag.value !== 'string') {
    return { state: 'disabled', ttlMs: failureTtlMs, reason: 'flag missing from response' };
  }
  const ttlSeconds = record.ttl_seconds ?? record.ttlSeconds;
  const ttlMs =
    typeof ttlSeconds === 'number' && Number.isFinite(ttlSeconds) && ttlSeconds > 0
      ? Math.min(MAX_TTL_MS, Math.max(MIN_TTL_MS, ttlSeconds * 1000))
      : defaultTtlMs;
  return { state: flag.value.toLowerCase() === 'true' ? 'enabled' : 'disabled', ttlMs };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function describe(error: unknown): string {
  try {
    return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  } catch {
    return 'unprintable error';
  }
}
