import { jsonReply, Reply } from './http';

/** The flag the Node.js driver reads to decide whether telemetry is on for a host. */
export const NODEJS_TELEMETRY_FLAG = 'databricks.partnerplatform.clientConfigsFeatureFlags.enableTelemetryForNodeJs';

/** `GET /api/2.0/connector-service/feature-flags/NODEJS/<version>`, with a settable value and TTL. */
export default class FeatureFlagEndpoint {
  constructor(
    private enabled: boolean,
    private ttlSeconds: number,
  ) {}

  set(enabled: boolean, ttlSeconds = this.ttlSeconds): void {
    this.enabled = enabled;
    this.ttlSeconds = ttlSeconds;
  }

  get state(): { enabled: boolean; ttlSeconds: number } {
    return { enabled: this.enabled, ttlSeconds: this.ttlSeconds };
  }

  reply(): Reply {
    return jsonReply(200, {
      flags: [{ name: NODEJS_TELEMETRY_FLAG, value: String(this.enabled) }],
      ttl_seconds: this.ttlSeconds,
    });
  }
}
