import { expect } from 'chai';
import { DBSQLClient } from '../../../lib';
import { Emulator, RequestCounts, startEmulator } from '../../../lib/emulator';
import { connectClient, runQuery, sleep, waitFor } from '../../support/harness';

// Longer than the flush interval telemetryOptions() sets: a timer started by connect() would
// have fired by then, and a request sent from connect() would have reached the emulator.
const QUIET_MS = 150;

/** Every counter of the emulator that is not zero, as `name: count` (Thrift calls by RPC). */
function requestsMade(counts: RequestCounts): string[] {
  const { thriftMethods, ...totals } = counts;
  return [
    ...Object.entries(totals).filter(([, count]) => count !== 0),
    ...Object.entries(thriftMethods).map(([rpc, count]) => [`thrift ${rpc}`, count] as const),
  ].map(([name, count]) => `${name}: ${count}`);
}

describe('client e2e: connect() with telemetry on sends no request', () => {
  let emulator: Emulator;
  let client: DBSQLClient | undefined;

  // One emulator per test: a request late from one test cannot be counted in the next.
  beforeEach(async () => {
    emulator = await startEmulator();
  });

  afterEach(async () => {
    await client?.close();
    client = undefined;
    await emulator.close();
  });

  it('connect() asks for no feature flag, uploads nothing and opens no session', async () => {
    client = await connectClient(emulator);
    await sleep(QUIET_MS);
    const counts = emulator.requestCounts();
    expect(counts.featureFlags, 'feature-flag requests').to.equal(0);
    expect(counts.telemetryExt + counts.telemetryUnauth, 'uploads').to.equal(0);
    expect(requestsMade(counts), 'any request at all').to.deep.equal([]);
  });

  it('connect() then close() without a session sends nothing either', async () => {
    client = await connectClient(emulator);
    await client.close();
    client = undefined;
    await sleep(QUIET_MS);
    expect(requestsMade(emulator.requestCounts())).to.deep.equal([]);
  });

  it('the same counters see the flag request and the upload once a session runs a statement', async () => {
    client = await connectClient(emulator);
    await sleep(QUIET_MS);
    expect(requestsMade(emulator.requestCounts()), 'before the session').to.deep.equal([]);
    const session = await client.openSession();
    await runQuery(session, 'SELECT 1');
    await session.close();
    await client.close();
    client = undefined;
    const counts = await waitFor(() => {
      const current = emulator.requestCounts();
      return current.featureFlags > 0 && current.telemetryExt > 0 ? current : undefined;
    });
    expect(counts?.featureFlags, 'feature-flag requests').to.be.at.least(1);
    expect(counts?.telemetryExt, 'uploads').to.be.at.least(1);
    expect(counts?.thriftMethods.OpenSession).to.equal(1);
  });
});
