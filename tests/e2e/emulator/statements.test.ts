import { expect } from 'chai';
import { Emulator, startEmulator } from '../../../lib/emulator';
import { query, withSession } from './driver';

async function rejection(
  promise: Promise<unknown>,
): Promise<Error & { errorCode?: string; response?: Record<string, unknown> }> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  return expect.fail('expected a rejection');
}

describe('emulator: statements through the real driver', () => {
  let emulator: Emulator;

  before(async () => {
    emulator = await startEmulator();
  });

  after(async () => {
    await emulator.close();
  });

  it('answers SELECT 1', async () => {
    const rows = await withSession(emulator, (session) => query(session, 'SELECT 1'));
    expect(rows).to.deep.equal([{ 1: 1 }]);
  });

  it('accepts trailing semicolons, comments and any case', async () => {
    const rows = await withSession(emulator, (session) => query(session, '-- a comment\n select * from RANGE( 3 ) ;'));
    expect(rows.map((row) => Number(row.id))).to.deep.equal([0, 1, 2]);
  });

  for (const direct of ['on', 'off']) {
    it(`keeps a statement RUNNING for sleep= milliseconds (direct results ${direct})`, async () => {
      emulator.resetRequestCounts();
      const started = Date.now();
      const rows = await withSession(emulator, (session) =>
        query(session, `/* emulator: sleep=400 direct=${direct} */ SELECT 1`),
      );
      expect(rows).to.deep.equal([{ 1: 1 }]);
      expect(Date.now() - started).to.be.at.least(400);
      expect(emulator.requestCounts().thriftMethods.GetOperationStatus).to.be.at.least(2);
    });

    it(`fails an unknown table with SQLSTATE 42P01 (direct results ${direct})`, async () => {
      const error = await rejection(
        withSession(emulator, (session) =>
          query(session, `/* emulator: direct=${direct} */ SELECT * FROM main.default.nope`),
        ),
      );
      expect(error.errorCode).to.equal('ERROR');
      expect(error.response?.sqlState).to.equal('42P01');
      expect(error.message).to.contain('TABLE_OR_VIEW_NOT_FOUND');
    });
  }

  it('fails unparseable SQL with SQLSTATE 42601, after the statement ran for a while', async () => {
    const started = Date.now();
    const error = await rejection(
      withSession(emulator, (session) => query(session, '/* emulator: sleep=300 */ SELEC 1')),
    );
    expect(Date.now() - started).to.be.at.least(300);
    expect(error.response?.sqlState).to.equal('42601');
    expect(error.message).to.contain('PARSE_SYNTAX_ERROR');
  });

  it('cancels a running statement', async () => {
    emulator.resetRequestCounts();
    const started = Date.now();
    await withSession(emulator, async (session) => {
      const operation = await session.executeStatement('/* emulator: sleep=10000 */ SELECT * FROM range(10)');
      const fetching = rejection(operation.fetchAll());
      await new Promise((resolve) => setTimeout(resolve, 250));
      await operation.cancel();
      const error = await fetching;
      expect(error.message).to.match(/cancel/i);
    });
    expect(Date.now() - started).to.be.below(3000);
    expect(emulator.requestCounts().thriftMethods.CancelOperation).to.equal(1);
  });

  it('uses the emulator-wide statement delay when no hint is given', async () => {
    const slow = await startEmulator({ statementDelayMs: 300 });
    try {
      const started = Date.now();
      await withSession(slow, (session) => query(session, 'SELECT 1'));
      expect(Date.now() - started).to.be.at.least(300);
    } finally {
      await slow.close();
    }
  });

  it('answers GetInfo', async () => {
    await withSession(emulator, async (session) => {
      const info = await session.getInfo(13 /* CLI_SERVER_NAME */);
      expect(info.getValue()).to.equal('Spark SQL');
    });
  });
});
