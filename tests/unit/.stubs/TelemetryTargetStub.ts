import TelemetryTarget from '../../../lib/telemetry/contracts/TelemetryTarget';

/** A target on a test host with a fixed bearer token. */
export function makeTarget(overrides: Partial<TelemetryTarget> = {}): TelemetryTarget {
  return {
    host: 'example.cloud.databricks.com',
    port: 443,
    userAgent: 'NodejsDatabricksSqlConnector/2.1.0 (Node.js 20)',
    driverVersion: '2.1.0',
    credentialKey: 'credential-a',
    getAuthHeaders: async () => ({ Authorization: 'Bearer test-token' }),
    ...overrides,
  };
}
