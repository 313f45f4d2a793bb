import { TelemetryEventSink } from '../../telemetry/TelemetryEventEmitter';
import type ThriftClientObserver from '../ThriftClientObserver';

/** What the session and operation wrappers report to. */
export interface SessionObserverSink {
  readonly observer: ThriftClientObserver;
  readonly events: TelemetryEventSink;
  sessionClosed(sessionId: string): void;
}
