/**
 * A long-lived client process for the overhead figures. The parent tells it over IPC to run a
 * sample of N statements and gets back this process's cumulative CPU at the sample's start and
 * end, so the two sides of an A/B comparison never share a heap, a GC or a diagnostics-channel
 * subscription, yet run interleaved against the same emulator. The parent charges a sample with
 * all CPU from its start to the start of the worker's next sample: background work the sample
 * caused (a timed flush, an upload) is counted wherever it lands.
 */
import type IDBSQLClient from '@databricks/sql/dist/contracts/IDBSQLClient';
import type IDBSQLSession from '@databricks/sql/dist/contracts/IDBSQLSession';
import { ClientKind, connect, runQuery } from '../support/clients';
import { cpuNow } from '../support/stats';
import type { EmulatorEndpoint } from '../support/emulatorProcess';
import type { TelemetryOptions } from '../../lib';

export type WorkerRequest =
  | { type: 'init'; kind: ClientKind; endpoint: EmulatorEndpoint; telemetry?: TelemetryOptions }
  | { type: 'warmup'; sqls: string[]; queries: number }
  | { type: 'sample'; sql: string; queries: number }
  | { type: 'mark' }
  | { type: 'stop' };

export type WorkerReply =
  | { type: 'ready' }
  /** `cpuAt*`: this process's cumulative CPU (user + system) in µs when the sample started and ended. */
  | { type: 'sample'; cpuAtStart: number; cpuAtEnd: number; wallMs: number; rows: number }
  | { type: 'mark'; cpuAt: number }
  | { type: 'stopped' }
  | { type: 'error'; message: string };

let client: IDBSQLClient | undefined;
let session: IDBSQLSession | undefined;

function reply(message: WorkerReply): void {
  process.send?.(message);
}

async function handle(message: WorkerRequest): Promise<void> {
  switch (message.type) {
    case 'init': {
      client = await connect(message.kind, message.endpoint, { telemetry: message.telemetry });
      session = await client.openSession();
      reply({ type: 'ready' });
      return;
    }
    case 'warmup': {
      if (!session) {
        throw new Error('not initialised');
      }
      for (const sql of message.sqls) {
        for (let i = 0; i < message.queries; i += 1) {
          await runQuery(session, sql);
        }
      }
      reply({ type: 'mark', cpuAt: cpuNow() });
      return;
    }
    case 'sample': {
      if (!session) {
        throw new Error('not initialised');
      }
      const wallStart = process.hrtime.bigint();
      const cpuAtStart = cpuNow();
      let rows = 0;
      for (let i = 0; i < message.queries; i += 1) {
        rows += await runQuery(session, message.sql);
      }
      const cpuAtEnd = cpuNow();
      const wallMs = Number(process.hrtime.bigint() - wallStart) / 1e6;
      reply({ type: 'sample', cpuAtStart, cpuAtEnd, wallMs, rows });
      return;
    }
    case 'mark':
      reply({ type: 'mark', cpuAt: cpuNow() });
      return;
    case 'stop': {
      await session?.close();
      await client?.close();
      reply({ type: 'stopped' });
      process.disconnect?.();
      return;
    }
  }
}

process.on('message', (message: WorkerRequest) => {
  handle(message).catch((error: unknown) => {
    reply({ type: 'error', message: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
  });
});
