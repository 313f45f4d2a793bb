import { expect } from 'chai';
import { Emulator, startEmulator } from '../../../lib/emulator';
import { Session, withSession } from './driver';

type Operation = Awaited<ReturnType<Session['getCatalogs']>>;

async function rows(operation: Promise<Operation>): Promise<Record<string, unknown>[]> {
  const op = await operation;
  try {
    return (await op.fetchAll()) as Record<string, unknown>[];
  } finally {
    await op.close();
  }
}

describe('emulator: metadata calls through the real driver', () => {
  let emulator: Emulator;

  before(async () => {
    emulator = await startEmulator();
  });

  after(async () => {
    await emulator.close();
  });

  for (const direct of [true, false]) {
    it(`answers every metadata call (direct results ${direct ? 'on' : 'off'})`, async () => {
      const target = direct ? emulator : await startEmulator({ directResults: false });
      try {
        await withSession(target, async (session) => {
          expect((await rows(session.getCatalogs())).map((r) => r.TABLE_CAT)).to.deep.equal([
            'main',
            'samples',
            'system',
          ]);
          expect(await rows(session.getSchemas({ catalogName: 'main' }))).to.deep.equal([
            { TABLE_SCHEM: 'default', TABLE_CATALOG: 'main' },
            { TABLE_SCHEM: 'information_schema', TABLE_CATALOG: 'main' },
          ]);
          const tables = await rows(
            session.getTables({ catalogName: 'main', schemaName: 'default', tableName: 'ord%' }),
          );
          expect(tables.map((t) => [t.TABLE_NAME, t.TABLE_TYPE])).to.deep.equal([['orders', 'TABLE']]);
          const views = await rows(session.getTables({ catalogName: 'main', tableTypes: ['VIEW'] }));
          expect(views.map((t) => t.TABLE_NAME)).to.deep.equal(['recent_orders']);
          expect((await rows(session.getTableTypes())).map((r) => r.TABLE_TYPE)).to.deep.equal(['TABLE', 'VIEW']);
          const columns = await rows(
            session.getColumns({ catalogName: 'main', schemaName: 'default', tableName: 'orders' }),
          );
          expect(columns.map((c) => [c.COLUMN_NAME, c.TYPE_NAME, c.ORDINAL_POSITION])).to.deep.equal([
            ['order_id', 'BIGINT', 1],
            ['customer_id', 'BIGINT', 2],
            ['amount', 'DOUBLE', 3],
            ['ordered_at', 'TIMESTAMP', 4],
          ]);
          const functions = await rows(
            session.getFunctions({ catalogName: 'system', schemaName: 'builtin', functionName: 'upp%' }),
          );
          expect(functions.map((f) => f.FUNCTION_NAME)).to.deep.equal(['upper']);
          const types = await rows(session.getTypeInfo());
          expect(types.map((t) => t.TYPE_NAME)).to.include.members(['BIGINT', 'STRING', 'INT']);
          const keys = await rows(
            session.getPrimaryKeys({ catalogName: 'main', schemaName: 'default', tableName: 'orders' }),
          );
          expect(keys).to.deep.equal([
            {
              TABLE_CAT: 'main',
              TABLE_SCHEM: 'default',
              TABLE_NAME: 'orders',
              COLUMN_NAME: 'order_id',
              KEY_SEQ: 1,
              PK_NAME: 'pk_orders',
            },
          ]);
          const references = await rows(
            session.getCrossReference({
              parentCatalogName: 'main',
              parentSchemaName: 'default',
              parentTableName: 'customers',
              foreignCatalogName: 'main',
              foreignSchemaName: 'default',
              foreignTableName: 'orders',
            }),
          );
          expect(references.map((r) => [r.PKCOLUMN_NAME, r.FKTABLE_NAME, r.FKCOLUMN_NAME])).to.deep.equal([
            ['customer_id', 'orders', 'customer_id'],
          ]);
        });
      } finally {
        if (target !== emulator) {
          await target.close();
        }
      }
    });
  }
});
