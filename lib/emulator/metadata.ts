import { ColumnDef, ResultTable, staticTable } from './results/table';

/** A tiny, fixed catalog so metadata calls have plausible answers. */
interface TableInfo {
  catalog: string;
  schema: string;
  name: string;
  type: 'TABLE' | 'VIEW';
  columns: { name: string; type: string; jdbcType: number }[];
}

const VARCHAR = 12;
const INTEGER = 4;
const BIGINT_TYPE = -5;
const TIMESTAMP = 93;
const DOUBLE = 8;

const TABLES: TableInfo[] = [
  {
    catalog: 'main',
    schema: 'default',
    name: 'customers',
    type: 'TABLE',
    columns: [
      { name: 'customer_id', type: 'BIGINT', jdbcType: BIGINT_TYPE },
      { name: 'name', type: 'STRING', jdbcType: VARCHAR },
    ],
  },
  {
    catalog: 'main',
    schema: 'default',
    name: 'orders',
    type: 'TABLE',
    columns: [
      { name: 'order_id', type: 'BIGINT', jdbcType: BIGINT_TYPE },
      { name: 'customer_id', type: 'BIGINT', jdbcType: BIGINT_TYPE },
      { name: 'amount', type: 'DOUBLE', jdbcType: DOUBLE },
      { name: 'ordered_at', type: 'TIMESTAMP', jdbcType: TIMESTAMP },
    ],
  },
  {
    catalog: 'main',
    schema: 'default',
    name: 'recent_orders',
    type: 'VIEW',
    columns: [{ name: 'order_id', type: 'BIGINT', jdbcType: BIGINT_TYPE }],
  },
  {
    catalog: 'samples',
    schema: 'nyctaxi',
    name: 'trips',
    type: 'TABLE',
    columns: [
      { name: 'trip_distance', type: 'DOUBLE', jdbcType: DOUBLE },
      { name: 'fare_amount', type: 'DOUBLE', jdbcType: DOUBLE },
    ],
  },
];

const SCHEMAS: [catalog: string, schema: string][] = [
  ['main', 'default'],
  ['main', 'information_schema'],
  ['samples', 'nyctaxi'],
];

const FUNCTIONS = ['abs', 'coalesce', 'current_date', 'lower', 'upper'];

const TYPES: [name: string, jdbcType: number, precision: number][] = [
  ['BIGINT', BIGINT_TYPE, 19],
  ['BOOLEAN', 16, 1],
  ['DOUBLE', DOUBLE, 15],
  ['INT', INTEGER, 10],
  ['STRING', VARCHAR, 2147483647],
  ['TIMESTAMP', TIMESTAMP, 29],
];

/** SQL LIKE patterns (`%`, `_`) as the JDBC metadata calls use them; absent or `*` matches all. */
function matches(pattern: string | null | undefined, value: string): boolean {
  if (pattern === undefined || pattern === null || pattern === '' || pattern === '*' || pattern === '%') {
    return true;
  }
  const regex = pattern
    .replace(/[.+?^${}()|[\]\\]/g, '\\$&')
    .replace(/%|\*/g, '.*')
    .replace(/_/g, '.');
  return new RegExp(`^${regex}$`, 'i').test(value);
}

const str = (name: string): ColumnDef => ({ name, type: 'STRING' });
const int = (name: string): ColumnDef => ({ name, type: 'INT' });

export function catalogs(): ResultTable {
  const names = [...new Set(SCHEMAS.map(([catalog]) => catalog)), 'system'];
  return staticTable(
    [str('TABLE_CAT')],
    names.map((name) => [name]),
  );
}

export function schemas(catalogName?: string | null, schemaName?: string | null): ResultTable {
  const rows = SCHEMAS.filter(([c, s]) => matches(catalogName, c) && matches(schemaName, s)).map(([c, s]) => [s, c]);
  return staticTable([str('TABLE_SCHEM'), str('TABLE_CATALOG')], rows);
}

function findTables(catalogName?: string | null, schemaName?: string | null, tableName?: string | null): TableInfo[] {
  return TABLES.filter(
    (t) => matches(catalogName, t.catalog) && matches(schemaName, t.schema) && matches(tableName, t.name),
  );
}

export function tables(
  catalogName?: string | null,
  schemaName?: string | null,
  tableName?: string | null,
  tableTypes?: string[] | null,
): ResultTable {
  const rows = findTables(catalogName, schemaName, tableName)
    .filter((t) => !tableTypes || tableTypes.length === 0 || tableTypes.some((type) => type.toUpperCase() === t.type))
    .map((t) => [t.catalog, t.schema, t.name, t.type, '']);
  return staticTable(
    [str('TABLE_CAT'), str('TABLE_SCHEM'), str('TABLE_NAME'), str('TABLE_TYPE'), str('REMARKS')],
    rows,
  );
}

export function tableTypes(): ResultTable {
  return staticTable([str('TABLE_TYPE')], [['TABLE'], ['VIEW']]);
}

export function columns(
  catalogName?: string | null,
  schemaName?: string | null,
  tableName?: string | null,
  columnName?: string | null,
): ResultTable {
  const rows = findTables(catalogName, schemaName, tableName).flatMap((t) =>
    t.columns
      .map((column, i) => ({ column, position: i + 1 }))
      .filter(({ column }) => matches(columnName, column.name))
      .map(({ column, position }) => [
        t.catalog,
        t.schema,
        t.name,
        column.name,
        column.jdbcType,
        column.type,
        'YES',
        position,
      ]),
  );
  return staticTable(
    [
      str('TABLE_CAT'),
      str('TABLE_SCHEM'),
      str('TABLE_NAME'),
      str('COLUMN_NAME'),
      int('DATA_TYPE'),
      str('TYPE_NAME'),
      str('IS_NULLABLE'),
      int('ORDINAL_POSITION'),
    ],
    rows,
  );
}

export function functions(
  catalogName?: string | null,
  schemaName?: string | null,
  functionName?: string | null,
): ResultTable {
  const rows = FUNCTIONS.filter(
    (f) => matches(catalogName, 'system') && matches(schemaName, 'builtin') && matches(functionName, f),
  ).map((f) => ['system', 'builtin', f, '', 1, f]);
  return staticTable(
    [
      str('FUNCTION_CAT'),
      str('FUNCTION_SCHEM'),
      str('FUNCTION_NAME'),
      str('REMARKS'),
      int('FUNCTION_TYPE'),
      str('SPECIFIC_NAME'),
    ],
    rows,
  );
}

export function typeInfo(): ResultTable {
  return staticTable(
    [str('TYPE_NAME'), int('DATA_TYPE'), int('PRECISION')],
    TYPES.map(([name, jdbcType, precision]) => [name, jdbcType, precision]),
  );
}

/** Each table's first column is its primary key. */
export function primaryKeys(
  catalogName?: string | null,
  schemaName?: string | null,
  tableName?: string | null,
): ResultTable {
  const rows = findTables(catalogName, schemaName, tableName)
    .filter((t) => t.type === 'TABLE')
    .map((t) => [t.catalog, t.schema, t.name, t.columns[0].name, 1, `pk_${t.name}`]);
  return staticTable(
    [str('TABLE_CAT'), str('TABLE_SCHEM'), str('TABLE_NAME'), str('COLUMN_NAME'), int('KEY_SEQ'), str('PK_NAME')],
    rows,
  );
}

/** One foreign key: main.default.orders.customer_id references main.default.customers.customer_id. */
export function crossReference(
  parent: [catalog?: string | null, schema?: string | null, table?: string | null],
  foreign: [catalog?: string | null, schema?: string | null, table?: string | null],
): ResultTable {
  const found =
    matches(parent[0], 'main') &&
    matches(parent[1], 'default') &&
    matches(parent[2], 'customers') &&
    matches(foreign[0], 'main') &&
    matches(foreign[1], 'default') &&
    matches(foreign[2], 'orders');
  const rows = found
    ? [
        [
          'main',
          'default',
          'customers',
          'customer_id',
          'main',
          'default',
          'orders',
          'customer_id',
          1,
          'fk_orders_customers',
          'pk_customers',
        ],
      ]
    : [];
  return staticTable(
    [
      str('PKTABLE_CAT'),
      str('PKTABLE_SCHEM'),
      str('PKTABLE_NAME'),
      str('PKCOLUMN_NAME'),
      str('FKTABLE_CAT'),
      str('FKTABLE_SCHEM'),
      str('FKTABLE_NAME'),
      str('FKCOLUMN_NAME'),
      int('KEY_SEQ'),
      str('FK_NAME'),
      str('PK_NAME'),
    ],
    rows,
  );
}
