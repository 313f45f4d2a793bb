import http from 'http';
import ITelemetryContext from '../../../lib/telemetry/contracts/ITelemetryContext';
import { DEFAULT_TELEMETRY_CONFIG, TelemetryConfiguration } from '../../../lib/telemetry/types';
import LoggerStub from './LoggerStub';

/** An `ITelemetryContext` with a recording logger, overridable settings and an optional agent. */
export default class ClientContextStub implements ITelemetryContext {
  public readonly logger = new LoggerStub();

  public config: TelemetryConfiguration;

  public agent?: http.Agent;

  constructor(config: Partial<TelemetryConfiguration> = {}, agent?: http.Agent) {
    this.config = { ...DEFAULT_TELEMETRY_CONFIG, enabled: true, ...config };
    this.agent = agent;
  }

  getLogger(): LoggerStub {
    return this.logger;
  }

  getTelemetryConfig(): TelemetryConfiguration {
    return this.config;
  }

  async getConnectionProvider() {
    return { getAgent: async () => this.agent };
  }
}
