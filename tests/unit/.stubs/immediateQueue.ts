import DeferredEvents from '../../../lib/driver/DeferredEvents';
import { TelemetryEventSink } from '../../../lib/telemetry/TelemetryEventEmitter';

/** An observation queue that holds nothing: events and work reach `emitter` at once, as they happen. */
export function immediately(emitter: TelemetryEventSink): DeferredEvents {
  const queue = new DeferredEvents(emitter);
  queue.close();
  return queue;
}
