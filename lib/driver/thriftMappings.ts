import { thrift } from '@databricks/sql';
import { ExecutionResultFormat, OperationType } from '../telemetry/types';
import { uuidText } from '../telemetry/uuidText';

const { TSparkRowSetType, TOperationState, TStatusCode } = thrift.TCLIService_types;

/** The Thrift RPC that starts each kind of operation, with its wire operation type. */
export const OPERATION_STARTING_RPCS: Readonly<Record<string, OperationType>> = {
  ExecuteStatement: 'EXECUTE_STATEMENT',
  GetTypeInfo: 'LIST_TYPE_INFO',
  GetCatalogs: 'LIST_CATALOGS',
  GetSchemas: 'LIST_SCHEMAS',
  GetTables: 'LIST_TABLES',
  GetTableTypes: 'LIST_TABLE_TYPES',
  GetColumns: 'LIST_COLUMNS',
  GetFunctions: 'LIST_FUNCTIONS',
  GetPrimaryKeys: 'LIST_PRIMARY_KEYS',
  GetCrossReference: 'LIST_CROSS_REFERENCES',
};

/** Every RPC the adapter observes: operation starts, polls, result metadata and fetches. */
export const OBSERVED_RPCS: readonly string[] = [
  ...Object.keys(OPERATION_STARTING_RPCS),
  'GetOperationStatus',
  'GetResultSetMetadata',
  'FetchResults',
];

export function executionResultOf(rowSetType: unknown): ExecutionResultFormat {
  switch (rowSetType) {
    case TSparkRowSetType.ARROW_BASED_SET:
      return 'INLINE_ARROW';
    case TSparkRowSetType.URL_BASED_SET:
      return 'EXTERNAL_LINKS';
    case TSparkRowSetType.COLUMN_BASED_SET:
      return 'COLUMNAR_INLINE';
    default:
      return 'FORMAT_UNSPECIFIED';
  }
}

export function isErrorStatus(status: { statusCode?: unknown } | undefined): boolean {
  return status?.statusCode === TStatusCode.ERROR_STATUS || status?.statusCode === TStatusCode.INVALID_HANDLE_STATUS;
}

export const OPERATION_STATE = {
  FINISHED: TOperationState.FINISHED_STATE,
  ERROR: TOperationState.ERROR_STATE,
  CANCELED: TOperationState.CANCELED_STATE,
  CLOSED: TOperationState.CLOSED_STATE,
  TIMEDOUT: TOperationState.TIMEDOUT_STATE,
} as const;

/**
 * Canonical UUID text of a Thrift handle GUID: the same string as the driver's public
 * `session.id` / `operation.id`. Returns undefined for anything that is not 16 bytes.
 */
export function guidToUuid(guid: unknown): string | undefined {
  if (!(guid instanceof Uint8Array) || guid.length !== 16) {
    return undefined;
  }
  return uuidText(guid);
}
