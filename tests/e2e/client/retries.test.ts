import { expect } from 'chai';
import { DBSQLClient } from '../../../lib';
import { Emulator, startEmulator } from '../../../lib/emulator';
import { connectClient, rejectionOf, runQuery, Session, waitForStatementLogs } from '../../support/harness';

/** The driver's backoff shortened, so a retried call costs milliseconds. */
const QUICK_RETRIES = { retryDelayMin: 5, retryDelayMax: 10 };

describe('client e2e: retry_count counts the HTTP retries the driver makes for a statement', () => {
  let emulator: Emulator;
  let client: DBSQLClient | undefined;

  before(async () => {
    emulator = await startEmulator();
  });

  afterEach(async () => {
    emulator.faults.clear();
    await client?.close();
    client = undefined;
  });

  after(async () => {
    await emulator.close();
  });

  async function openSession(): Promise<Session> {
    client = await connectClient(emulator, { config: QUICK_RETRIES });
    return client.openSession();
  }

  async function retryCountOf(statementId: string): Promise<number | undefined> {
    const [log] = await waitForStatementLogs(emulator, statementId);
    return log.sql_operation?.retry_count;
  }

  it('counts retried status polls and a retried close of one statement, and nothing for the next', async () => {
    const session = await openSession();
    emulator.faults.set('thrift:GetOperationStatus', { kind: 'status', status: 503, times: 2 });
    const { operation } = await runQuery(session, '/* emulator: direct=off sleep=50 */ SELECT 1');
    expect(await retryCountOf(operation.id)).to.equal(2);

    emulator.faults.set('thrift:CloseOperation', { kind: 'status', status: 429 });
    const closedAfterRetry = await runQuery(session, '/* emulator: direct=off */ SELECT 1');
    expect(await retryCountOf(closedAfterRetry.operation.id)).to.equal(1);

    const clean = await runQuery(session, '/* emulator: direct=off */ SELECT 1');
    expect(await retryCountOf(clean.operation.id)).to.equal(0);
    await session.close();
  });

  it('reports the retries made before a call failed for good with the failed statement', async () => {
    client = await connectClient(emulator, { config: { ...QUICK_RETRIES, retryMaxAttempts: 3 } });
    const session = await client.openSession();
    emulator.faults.set('thrift:GetOperationStatus', { kind: 'status', status: 503, times: 'forever' });
    const operation = await session.executeStatement('/* emulator: direct=off sleep=50 */ SELECT 1');
    await rejectionOf(operation.fetchAll());
    const [log] = await waitForStatementLogs(emulator, operation.id);
    expect(log.error_info?.error_name).to.be.a('string');
    expect(log.sql_operation?.retry_count).to.equal(2);
    emulator.faults.clear();
    await operation.close().catch(() => undefined);
    await session.close();
  });

  it('counts the retries of a metadata call that starts its operation', async () => {
    const session = await openSession();
    emulator.faults.set('thrift:GetCatalogs', { kind: 'status', status: 503 });
    const operation = await session.getCatalogs();
    await operation.fetchAll();
    await operation.close();
    expect(await retryCountOf(operation.id)).to.equal(1);
    await session.close();
  });

  it('counts a retried CloudFetch download', async () => {
    const session = await openSession();
    emulator.faults.set('cloudFetch', { kind: 'status', status: 503 });
    const { rows, operation } = await runQuery(
      session,
      '/* emulator: format=cloudfetch chunks=2 */ SELECT * FROM range(100)',
    );
    expect(rows).to.have.length(100);
    expect(await retryCountOf(operation.id)).to.equal(1);
    await session.close();
  });
});
