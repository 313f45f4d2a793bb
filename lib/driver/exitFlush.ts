import { withDeadline } from '../telemetry/deadline';
import type { ExitFlushable } from './contracts/ExitFlushable';

const connections = new Set<ExitFlushable>();

let flushing = false;

/**
 * Node emits 'beforeExit' when the event loop has emptied: the application forgot `close()`.
 * The pending logs are then sent, bounded by the close deadline (a ref'ed timer keeps the process
 * up only that long; when nothing is pending no timer is made, so the process exits at once and
 * the event is not re-armed forever). Not emitted on `process.exit()` or a signal.
 */
function onBeforeExit(): void {
  if (flushing) {
    return;
  }
  const pending = [...connections].filter((connection) => connection.hasExitWork());
  if (pending.length === 0) {
    return;
  }
  flushing = true;
  const deadlineMs = Math.max(...pending.map((connection) => connection.exitDeadlineMs()));
  const done = () => {
    flushing = false;
  };
  withDeadline(Promise.all(pending.map((connection) => connection.flushAtExit())), deadlineMs, () => undefined, {
    ref: true,
  }).then(done, done);
}

export function trackForExit(connection: ExitFlushable): void {
  if (connections.size === 0) {
    process.on('beforeExit', onBeforeExit);
  }
  connections.add(connection);
}

export function untrackForExit(connection: ExitFlushable): void {
  if (connections.delete(connection) && connections.size === 0) {
    process.off('beforeExit', onBeforeExit);
  }
}
