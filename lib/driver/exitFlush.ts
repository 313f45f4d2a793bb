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
  let deadline: NodeJS.Timeout | undefined;
  const timedOut = new Promise<void>((resolve) => {
    deadline = setTimeout(resolve, Math.max(...pending.map((connection) => connection.exitDeadlineMs())));
  });
  Promise.race([Promise.all(pending.map((connection) => connection.flushAtExit())), timedOut]).then(() => {
    clearTimeout(deadline);
    flushing = false;
  });
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
