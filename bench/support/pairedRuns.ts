import type IDBSQLSession from '@databricks/sql/dist/contracts/IDBSQLSession';
import { runQuery } from './clients';
import { round } from './stats';

async function timed(cpu: () => number, session: IDBSQLSession, sql: string): Promise<number> {
  const start = cpu();
  await runQuery(session, sql);
  return cpu() - start;
}

/**
 * Runs `pairs` statements on each session alternately (ABBA: neither side always goes first),
 * charging each with `cpu`'s µs while it ran.
 */
export async function pairUp(
  cpu: () => number,
  [a, b]: [IDBSQLSession, IDBSQLSession],
  sql: string,
  pairs: number,
): Promise<{ aMicros: number[]; bMicros: number[] }> {
  const aMicros: number[] = [];
  const bMicros: number[] = [];
  for (let pair = 0; pair < pairs; pair += 1) {
    const aFirst = pair % 2 === 0;
    const first = await timed(cpu, aFirst ? a : b, sql);
    const second = await timed(cpu, aFirst ? b : a, sql);
    aMicros.push(round(aFirst ? first : second, 1));
    bMicros.push(round(aFirst ? second : first, 1));
  }
  return { aMicros, bMicros };
}

/** Runs `statements` statements on every session in turn. */
export async function warm(sessions: IDBSQLSession[], sql: string, statements: number): Promise<void> {
  for (let i = 0; i < statements; i += 1) {
    for (const session of sessions) {
      await runQuery(session, sql);
    }
  }
}
