/**
 * One short-lived application for the close-and-exit figures: connect, open a session, run a few
 * statements, optionally close everything (timing `client.close()`), print `DONE <monotonic ms>` as its
 * last line of work, then simply return and let Node exit. The parent times DONE -> exit.
 * Argument: a JSON `ExitChildSpec`.
 */
import { ClientKind, connect, runQuery } from '../support/clients';
import type { EmulatorEndpoint } from '../support/emulatorProcess';
import type { TelemetryOptions } from '../../lib';
import { monotonicMs } from '../support/clock';

export interface ExitChildSpec {
  kind: ClientKind;
  close: boolean;
  endpoint: EmulatorEndpoint;
  queries: number;
  telemetry?: TelemetryOptions;
  /** Wait this long after the statements (before closing), so an upload is in flight. */
  pauseMs?: number;
  /**
   * Keep a ref'd timer while working, as an application with a server or other work would, so
   * `close()` can be timed even if nothing of the driver's keeps the process alive during it.
   */
  holdOpen?: boolean;
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2]) as ExitChildSpec;
  const hold = spec.holdOpen ? setInterval(() => undefined, 1000) : undefined;
  const client = await connect(spec.kind, spec.endpoint, { telemetry: spec.telemetry });
  const session = await client.openSession();
  for (let i = 0; i < spec.queries; i += 1) {
    await runQuery(
      session,
      i % 2 === 0
        ? '/* emulator: format=arrow */ SELECT 1'
        : '/* emulator: format=cloudfetch chunks=2 */ SELECT * FROM range(2000)',
    );
  }
  if (spec.pauseMs) {
    await new Promise((resolve) => setTimeout(resolve, spec.pauseMs));
  }
  if (spec.close) {
    await session.close();
    const started = monotonicMs();
    // If the process exits while close() is pending, this is the last line the parent sees.
    process.stdout.write(`CLOSING ${started}\n`);
    await client.close();
    process.stdout.write(`CLOSE ${monotonicMs() - started}\n`);
  }
  clearInterval(hold);
  process.stdout.write(`DONE ${monotonicMs()}\n`);
}

main().catch((error: unknown) => {
  process.stdout.write(`ERROR ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
