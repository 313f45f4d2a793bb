import { thrift } from '@databricks/sql';
import { expect } from 'chai';
import { Emulator, startEmulator } from '../../../lib/emulator';
import { query, resultMetadata, withSession } from './driver';

const ROWS = 25_000;
const { TSparkRowSetType } = thrift.TCLIService_types;

function expectRange(rows: Record<string, unknown>[], count: number) {
  expect(rows).to.have.length(count);
  rows.forEach((row, i) => {
    if (Number(row.id) !== i) {
      expect.fail(`row ${i} is ${JSON.stringify(row)}`);
    }
  });
}

describe('emulator: result formats through the real driver', () => {
  let emulator: Emulator;

  before(async () => {
    emulator = await startEmulator();
  });

  after(async () => {
    await emulator.close();
  });

  const cases: { format: string; lz4: string; direct: string; resultFormat: number }[] = [];
  for (const direct of ['on', 'off']) {
    cases.push({ format: 'columns', lz4: 'off', direct, resultFormat: TSparkRowSetType.COLUMN_BASED_SET });
    for (const lz4 of ['on', 'off']) {
      cases.push({ format: 'arrow', lz4, direct, resultFormat: TSparkRowSetType.ARROW_BASED_SET });
      cases.push({ format: 'cloudfetch', lz4, direct, resultFormat: TSparkRowSetType.URL_BASED_SET });
    }
  }

  for (const { format, lz4, direct, resultFormat } of cases) {
    it(`serves range(${ROWS}) as ${format}, lz4 ${lz4}, direct results ${direct}`, async () => {
      emulator.resetRequestCounts();
      const hint = `/* emulator: format=${format} lz4=${lz4} direct=${direct} chunks=3 */`;
      const { rows, metadata } = await withSession(emulator, async (session) => {
        const operation = await session.executeStatement(`${hint} SELECT * FROM range(${ROWS})`);
        const meta = await resultMetadata(operation);
        const all = (await operation.fetchAll()) as Record<string, unknown>[];
        await operation.close();
        return { rows: all, metadata: meta };
      });
      expectRange(rows, ROWS);
      expect(metadata.resultFormat).to.equal(resultFormat);
      expect(Boolean(metadata.lz4Compressed)).to.equal(format !== 'columns' && lz4 === 'on');
      const counts = emulator.requestCounts();
      expect(counts.cloudFetch).to.equal(format === 'cloudfetch' ? 3 : 0);
      // Direct results carry status and metadata: no separate calls for them.
      expect(counts.thriftMethods.GetResultSetMetadata ?? 0).to.equal(direct === 'on' ? 0 : 1);
    });
  }

  it('answers SELECT 1 in every format', async () => {
    await withSession(emulator, async (session) => {
      for (const format of ['columns', 'arrow', 'cloudfetch']) {
        expect(await query(session, `/* emulator: format=${format} */ SELECT 1`)).to.deep.equal([{ 1: 1 }]);
      }
    });
  });

  it('picks the format from what the driver asks for when no hint is given', async () => {
    await withSession(emulator, async (session) => {
      const small = await session.executeStatement('SELECT * FROM range(10)');
      expect((await resultMetadata(small)).resultFormat).to.equal(TSparkRowSetType.ARROW_BASED_SET);
      await small.close();
      const large = await session.executeStatement('SELECT * FROM range(20000)');
      expect((await resultMetadata(large)).resultFormat).to.equal(TSparkRowSetType.URL_BASED_SET);
      await large.close();
    });
    await withSession(
      emulator,
      async (session) => {
        const operation = await session.executeStatement('SELECT * FROM range(10)');
        expect((await resultMetadata(operation)).resultFormat).to.equal(TSparkRowSetType.COLUMN_BASED_SET);
        expectRange((await operation.fetchAll()) as Record<string, unknown>[], 10);
        await operation.close();
      },
      { arrowEnabled: false, useCloudFetch: false },
    );
  });

  it('serves an empty result', async () => {
    await withSession(emulator, async (session) => {
      for (const format of ['columns', 'arrow', 'cloudfetch']) {
        expect(await query(session, `/* emulator: format=${format} */ SELECT * FROM range(0)`)).to.deep.equal([]);
      }
    });
  });

  it('pages results larger than one fetch', async () => {
    await withSession(emulator, async (session) => {
      for (const format of ['columns', 'arrow', 'cloudfetch']) {
        const operation = await session.executeStatement(
          `/* emulator: format=${format} chunks=5 */ SELECT * FROM range(1000)`,
          {
            maxRows: 300,
          },
        );
        const rows: Record<string, unknown>[] = [];
        do {
          rows.push(...((await operation.fetchChunk({ maxRows: 300 })) as Record<string, unknown>[]));
        } while (await operation.hasMoreRows());
        await operation.close();
        expectRange(rows, 1000);
      }
    });
  });

  it('streams SELECT * FROM range(1000000) over CloudFetch, one file at a time', async function () {
    this.timeout(30_000);
    emulator.resetRequestCounts();
    const { count, last } = await withSession(emulator, async (session) => {
      const operation = await session.executeStatement('SELECT * FROM range(1000000)');
      let rows = 0;
      let lastId: unknown;
      do {
        const chunk = (await operation.fetchChunk({ maxRows: 100_000 })) as Record<string, unknown>[];
        rows += chunk.length;
        if (chunk.length > 0) {
          lastId = chunk[chunk.length - 1].id;
        }
      } while (await operation.hasMoreRows());
      await operation.close();
      return { count: rows, last: lastId };
    });
    expect(count).to.equal(1_000_000);
    expect(Number(last)).to.equal(999_999);
    // Ten files of 100 000 rows, each generated when it was downloaded.
    expect(emulator.requestCounts().cloudFetch).to.equal(10);
  });
});
