/**
 * Where and as whom one connection's telemetry is sent. Built by the driver adapter; the engine
 * never sees the token itself, only a function that produces the request headers.
 */
export default interface TelemetryTarget {
  /** Host name the application connected to, lower case. */
  host: string;
  port: number;
  /** `User-Agent` of the driver connection. */
  userAgent: string;
  /** Workspace (org) id from the HTTP path, sent as `x-databricks-org-id`. */
  orgId?: string;
  /** Driver version, for the feature-flag path. */
  driverVersion: string;
  /**
   * A one-way digest of the credential (never the credential): connections with different
   * credentials on one host must never share a telemetry client.
   */
  credentialKey: string;
  /** The connection's current authentication headers, as the driver last set them (telemetry never signs in itself). */
  getAuthHeaders(): Promise<Record<string, string>>;
}

/** Key of the per-host-and-credential telemetry client. */
export function telemetryClientKey(target: TelemetryTarget): string {
  return `${target.host}:${target.port}|${target.credentialKey}`;
}

/** Key of per-host state (feature flags, circuit breaker). */
export function hostKey(target: TelemetryTarget): string {
  return `${target.host}:${target.port}`;
}
