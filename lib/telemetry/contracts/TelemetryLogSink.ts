import { TelemetryLog } from '../types';

/** Where the aggregator hands finished logs: the connection, which passes them to its shared client. */
export interface TelemetryLogSink {
  enqueue(log: TelemetryLog): void;
}

/** Which statements the adapter still sees running: the TTL sweep leaves those alone. */
export interface OpenStatements {
  has(statementId: string): boolean;
}
