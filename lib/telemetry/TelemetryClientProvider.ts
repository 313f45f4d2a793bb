import CircuitBreaker from './CircuitBreaker';
import CircuitBreakerRegistry from './CircuitBreakerRegistry';
import ITelemetryContext from './contracts/ITelemetryContext';
import ITelemetryExporter from './contracts/ITelemetryExporter';
import TelemetryTarget, { hostKey, telemetryClientKey } from './contracts/TelemetryTarget';
import DatabricksTelemetryExporter from './DatabricksTelemetryExporter';
import FeatureFlagCache from './FeatureFlagCache';
import TelemetryClient from './TelemetryClient';
import debugLog from './debugLog';

export type ExporterFactory = (
  context: ITelemetryContext,
  target: TelemetryTarget,
  breaker: CircuitBreaker,
) => ITelemetryExporter;

/** What `TelemetryClientProvider.getStats()` counts. */
export interface TelemetryClientProviderStats {
  /** Shared clients (one per host and credential in use). */
  clients: number;
  /** Connections holding a reference on one of them. */
  connections: number;
  /** Distinct hosts of those clients. */
  hosts: number;
  /** Host entries in the feature-flag cache. */
  flagHosts: number;
  /** References held on those entries. */
  flagHolders: number;
  /** Per-host circuit breakers. */
  breakers: number;
}

interface ClientHolder {
  client: TelemetryClient;
  host: string;
  refCount: number;
}

/**
 * Shares one `TelemetryClient` between the connections of one host AND credential (two tenants
 * on one host never share a client, so never each other's token or attribution), reference
 * counted, and holds the host's feature flag for as long as a connection uses it. Instance-based;
 * `getDefault()` gives the process-wide instance that makes sharing across connections work.
 */
export default class TelemetryClientProvider {
  private static defaultInstance?: TelemetryClientProvider;

  private readonly clients = new Map<string, ClientHolder>();

  constructor(
    private readonly featureFlags = new FeatureFlagCache(),
    private readonly breakers = new CircuitBreakerRegistry(),
    private readonly createExporter: ExporterFactory = (context, target, breaker) =>
      new DatabricksTelemetryExporter(context, target, breaker),
  ) {}

  /** The process-wide provider, created on first use; creating it starts no timers and sends nothing. */
  static getDefault(): TelemetryClientProvider {
    TelemetryClientProvider.defaultInstance ??= new TelemetryClientProvider();
    return TelemetryClientProvider.defaultInstance;
  }

  /**
   * The client for the target's host and credential, created on first use with this context.
   * Undefined (with a debug log) when one cannot be made: telemetry is then off for the connection.
   */
  getOrCreateClient(context: ITelemetryContext, target: TelemetryTarget): TelemetryClient | undefined {
    try {
      const key = telemetryClientKey(target);
      let holder = this.clients.get(key);
      if (!holder) {
        const host = hostKey(target);
        const exporter = this.createExporter(context, target, this.breakers.getCircuitBreaker(host, context));
        holder = { client: new TelemetryClient(context, target, exporter, this.featureFlags), host, refCount: 0 };
        this.clients.set(key, holder);
      }
      holder.refCount += 1;
      this.featureFlags.acquire(context, target);
      return holder.client;
    } catch (error) {
      log(context, 'creating a telemetry client failed', error);
      return undefined;
    }
  }

  /** Drops one user of the client; the last one closes it (bounded by `closeTimeoutMs`). Never rejects. */
  async releaseClient(target: TelemetryTarget): Promise<void> {
    let closing: TelemetryClient;
    try {
      const key = telemetryClientKey(target);
      const holder = this.clients.get(key);
      if (!holder) {
        return;
      }
      holder.refCount -= 1;
      if (holder.refCount > 0) {
        this.featureFlags.release(target);
        return;
      }
      this.clients.delete(key);
      closing = holder.client;
      const { host } = holder;
      // The breaker is per host: forget it only when no credential uses the host any more.
      if (![...this.clients.values()].some((other) => other.host === host)) {
        this.breakers.removeCircuitBreaker(host);
      }
    } catch {
      // A malformed target matches no client: nothing to release.
      return;
    }
    // Closing still asks the host's feature flag whether to flush, so the flag is released after.
    await closing.close();
    this.featureFlags.release(target);
  }

  /**
   * Read-only counts of what the provider holds now: shared clients, the connections using them,
   * the distinct hosts they are for, the feature-flag cache's host entries and holders, and the
   * breakers. Everything is back to 0 once every connection released its client. Never throws.
   */
  getStats(): TelemetryClientProviderStats {
    const stats: TelemetryClientProviderStats = {
      clients: 0,
      connections: 0,
      hosts: 0,
      flagHosts: 0,
      flagHolders: 0,
      breakers: 0,
    };
    try {
      const hosts = new Set<string>();
      for (const holder of this.clients.values()) {
        stats.clients += 1;
        stats.connections += holder.refCount;
        hosts.add(holder.host);
      }
      stats.hosts = hosts.size;
      const flags = this.featureFlags.getStats();
      stats.flagHosts = flags.hosts;
      stats.flagHolders = flags.holders;
      stats.breakers = this.breakers.getStats().breakers;
    } catch {
      // A substituted cache or registry without counts: what was counted so far stands.
    }
    return stats;
  }

  /** Connections using the target's client (0 when there is none). */
  getRefCount(target: TelemetryTarget): number {
    try {
      return this.clients.get(telemetryClientKey(target))?.refCount ?? 0;
    } catch {
      return 0;
    }
  }
}

function log(context: ITelemetryContext, message: string, error: unknown): void {
  debugLog(context, `telemetry: ${message}`, error);
}
