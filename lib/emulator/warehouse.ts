import { randomBytes } from 'crypto';
import * as metadata from './metadata';
import Operation, { newGuid, Outcome } from './operation';
import ResultCursor from './results/resultCursor';
import { literalTable, rangeTable, ResultTable } from './results/table';
import { parseStatement, ResultFormat, StatementHints } from './sql';
import {
  errorStatus,
  int64ToNumber,
  okStatus,
  T,
  TOperationHandle,
  TSessionHandle,
  TSparkDirectResults,
} from './thrift';

type Req<K extends keyof typeof T> = (typeof T)[K] extends new (...args: never[]) => infer R ? R : never;

/** How statements are answered unless a statement's hint says otherwise. */
export interface WarehouseSettings {
  /** `auto`: CloudFetch for large results when the driver can download, else Arrow if it can read it, else columns. */
  resultFormat: ResultFormat | 'auto';
  /** With `auto`, results of at least this many rows go through CloudFetch. */
  cloudFetchMinRows: number;
  /** Rows per CloudFetch file, unless `chunks=` says how many files. */
  rowsPerChunk: number;
  /** `auto`: inline Arrow compressed when the driver asks for it, CloudFetch files always compressed. */
  lz4: boolean | 'auto';
  /** `false` ignores the driver's requests for direct results. */
  directResults: boolean;
  /** How long every statement reports RUNNING, unless `sleep=` says otherwise. */
  statementDelayMs: number;
  /** The LZ4 codec, absent when `lz4-napi` cannot load (results are then uncompressed). */
  lz4Codec?: (data: Buffer) => Buffer;
  /** `https://host:port`, for CloudFetch links. */
  baseUrl: string;
}

/** Rows in the first page when the driver asks for direct results without a size. */
const DEFAULT_DIRECT_ROWS = 100_000;

/**
 * The Thrift TCLIService handler. Every method takes exactly one parameter (even when unused),
 * which makes the generated processor use its promise path.
 */
export default class Warehouse {
  private readonly sessions = new Map<string, Set<string>>();

  private readonly operations = new Map<string, Operation>();

  constructor(private readonly settings: WarehouseSettings) {}

  /** Body of CloudFetch file `chunk` of operation `operationId`, or undefined if there is none. */
  chunk(operationId: string, chunk: number): Buffer | undefined {
    return this.operations.get(operationId.replace(/-/g, '').toLowerCase())?.result?.chunk(chunk);
  }

  async OpenSession(_req: Req<'TOpenSessionReq'>) {
    const { guid } = newGuid();
    this.sessions.set(guid.toString('hex'), new Set());
    return {
      status: okStatus(),
      serverProtocolVersion: T.TProtocolVersion.SPARK_CLI_SERVICE_PROTOCOL_V8,
      sessionHandle: { sessionId: { guid, secret: randomBytes(16) } },
      canUseMultipleCatalogs: true,
    };
  }

  async CloseSession(req: Req<'TCloseSessionReq'>) {
    const key = sessionKey(req.sessionHandle);
    const operations = this.sessions.get(key);
    if (!operations) {
      return { status: invalidSession() };
    }
    operations.forEach((operation) => this.operations.delete(operation));
    this.sessions.delete(key);
    return { status: okStatus() };
  }

  async GetInfo(req: Req<'TGetInfoReq'>) {
    const values: Record<number, string> = {
      [T.TGetInfoType.CLI_SERVER_NAME]: 'Spark SQL',
      [T.TGetInfoType.CLI_DBMS_NAME]: 'Spark SQL',
      [T.TGetInfoType.CLI_DBMS_VER]: '3.5.0',
    };
    if (!this.sessions.has(sessionKey(req.sessionHandle))) {
      return { status: invalidSession(), infoValue: { stringValue: '' } };
    }
    const value = values[req.infoType];
    if (value === undefined) {
      return {
        status: errorStatus(`Unsupported GetInfo type ${req.infoType}`, 'HYC00'),
        infoValue: { stringValue: '' },
      };
    }
    return { status: okStatus(), infoValue: { stringValue: value } };
  }

  async ExecuteStatement(req: Req<'TExecuteStatementReq'>) {
    const statement = parseStatement(req.statement ?? '');
    const { hints } = statement;
    const runningMs = hints.sleep ?? this.settings.statementDelayMs;
    const directAllowed = hints.direct ?? this.settings.directResults;
    if (statement.kind === 'error') {
      const outcome = { error: { sqlState: statement.sqlState, message: statement.message } };
      return this.start(req, T.TOperationType.EXECUTE_STATEMENT, () => outcome, runningMs, directAllowed);
    }
    const table = statement.kind === 'range' ? rangeTable(statement.rows) : literalTable(statement.value);
    return this.start(
      req,
      T.TOperationType.EXECUTE_STATEMENT,
      (operationId) => ({ result: new ResultCursor(table, this.plan(req, table, hints, operationId)) }),
      runningMs,
      directAllowed,
    );
  }

  async GetTypeInfo(req: Req<'TGetTypeInfoReq'>) {
    return this.metadataCall(req, T.TOperationType.GET_TYPE_INFO, metadata.typeInfo());
  }

  async GetCatalogs(req: Req<'TGetCatalogsReq'>) {
    return this.metadataCall(req, T.TOperationType.GET_CATALOGS, metadata.catalogs());
  }

  async GetSchemas(req: Req<'TGetSchemasReq'>) {
    return this.metadataCall(req, T.TOperationType.GET_SCHEMAS, metadata.schemas(req.catalogName, req.schemaName));
  }

  async GetTables(req: Req<'TGetTablesReq'>) {
    const table = metadata.tables(req.catalogName, req.schemaName, req.tableName, req.tableTypes);
    return this.metadataCall(req, T.TOperationType.GET_TABLES, table);
  }

  async GetTableTypes(req: Req<'TGetTableTypesReq'>) {
    return this.metadataCall(req, T.TOperationType.GET_TABLE_TYPES, metadata.tableTypes());
  }

  async GetColumns(req: Req<'TGetColumnsReq'>) {
    const table = metadata.columns(req.catalogName, req.schemaName, req.tableName, req.columnName);
    return this.metadataCall(req, T.TOperationType.GET_COLUMNS, table);
  }

  async GetFunctions(req: Req<'TGetFunctionsReq'>) {
    const table = metadata.functions(req.catalogName, req.schemaName, req.functionName);
    return this.metadataCall(req, T.TOperationType.GET_FUNCTIONS, table);
  }

  // TOperationType has no primary-key or cross-reference kinds; HiveServer2 reports both as GET_FUNCTIONS.
  async GetPrimaryKeys(req: Req<'TGetPrimaryKeysReq'>) {
    const table = metadata.primaryKeys(req.catalogName, req.schemaName, req.tableName);
    return this.metadataCall(req, T.TOperationType.GET_FUNCTIONS, table);
  }

  async GetCrossReference(req: Req<'TGetCrossReferenceReq'>) {
    const table = metadata.crossReference(
      [req.parentCatalogName, req.parentSchemaName, req.parentTableName],
      [req.foreignCatalogName, req.foreignSchemaName, req.foreignTableName],
    );
    return this.metadataCall(req, T.TOperationType.GET_FUNCTIONS, table);
  }

  async GetOperationStatus(req: Req<'TGetOperationStatusReq'>) {
    const operation = this.operation(req.operationHandle);
    return operation ? operation.status() : { status: invalidOperation() };
  }

  async CancelOperation(req: Req<'TCancelOperationReq'>) {
    const operation = this.operation(req.operationHandle);
    operation?.cancel();
    return { status: operation ? okStatus() : invalidOperation() };
  }

  async CloseOperation(req: Req<'TCloseOperationReq'>) {
    const operation = this.operation(req.operationHandle);
    if (!operation) {
      return { status: invalidOperation() };
    }
    this.operations.delete(operation.key);
    this.sessions.get(operation.sessionKey)?.delete(operation.key);
    return { status: okStatus() };
  }

  async GetResultSetMetadata(req: Req<'TGetResultSetMetadataReq'>) {
    const operation = this.operation(req.operationHandle);
    if (!operation) {
      return { status: invalidOperation() };
    }
    return operation.result?.metadata() ?? { status: notReady(operation) };
  }

  async FetchResults(req: Req<'TFetchResultsReq'>) {
    const operation = this.operation(req.operationHandle);
    if (!operation) {
      return { status: invalidOperation() };
    }
    const result = operation.result;
    if (!result) {
      return { status: notReady(operation) };
    }
    return result.nextPage(int64ToNumber(req.maxRows) ?? DEFAULT_DIRECT_ROWS);
  }

  async GetDelegationToken(_req: Req<'TGetDelegationTokenReq'>) {
    return { status: errorStatus('Delegation tokens are not supported', 'HYC00') };
  }

  async CancelDelegationToken(_req: Req<'TCancelDelegationTokenReq'>) {
    return { status: errorStatus('Delegation tokens are not supported', 'HYC00') };
  }

  async RenewDelegationToken(_req: Req<'TRenewDelegationTokenReq'>) {
    return { status: errorStatus('Delegation tokens are not supported', 'HYC00') };
  }

  private plan(req: Req<'TExecuteStatementReq'>, table: ResultTable, hints: StatementHints, operationId: string) {
    const { settings } = this;
    let format = hints.format ?? (settings.resultFormat === 'auto' ? undefined : settings.resultFormat);
    if (!format) {
      if (req.canDownloadResult && table.rowCount >= settings.cloudFetchMinRows) {
        format = 'cloudfetch';
      } else {
        format = req.canReadArrowResult ? 'arrow' : 'columns';
      }
    }
    let lz4 = hints.lz4 ?? (settings.lz4 === 'auto' ? undefined : settings.lz4);
    lz4 ??= format === 'cloudfetch' || (format === 'arrow' && Boolean(req.canDecompressLZ4Result));
    return {
      format,
      lz4: lz4 && format !== 'columns' ? settings.lz4Codec : undefined,
      chunks: hints.chunks ?? Math.ceil(table.rowCount / Math.max(1, settings.rowsPerChunk)),
      linkBase: `${settings.baseUrl}/cloudfetch/${operationId}`,
    };
  }

  private metadataCall(
    req: { sessionHandle: TSessionHandle; getDirectResults?: { maxRows: unknown } },
    operationType: number,
    table: ResultTable,
  ) {
    const plan = { format: 'columns' as const, chunks: 0, linkBase: '' };
    return this.start(
      req,
      operationType,
      () => ({ result: new ResultCursor(table, plan) }),
      0,
      this.settings.directResults,
    );
  }

  /** Registers a new operation and answers with its handle, plus direct results when asked and allowed. */
  private start(
    req: { sessionHandle: TSessionHandle; getDirectResults?: { maxRows: unknown } },
    operationType: number,
    outcome: (operationId: string) => Outcome,
    runningMs: number,
    directAllowed: boolean,
  ) {
    const key = sessionKey(req.sessionHandle);
    const sessionOperations = this.sessions.get(key);
    if (!sessionOperations) {
      return { status: invalidSession() };
    }
    const guid = newGuid();
    const operation = new Operation(guid, key, operationType, outcome(guid.id), runningMs);
    this.operations.set(operation.key, operation);
    sessionOperations.add(operation.key);
    const response: {
      status: ReturnType<typeof okStatus>;
      operationHandle: TOperationHandle;
      directResults?: TSparkDirectResults;
    } = {
      status: okStatus(),
      operationHandle: operation.handle,
    };
    if (req.getDirectResults && directAllowed) {
      response.directResults = this.directResults(
        operation,
        int64ToNumber(req.getDirectResults.maxRows) ?? DEFAULT_DIRECT_ROWS,
      );
    }
    return response;
  }

  /**
   * Status, metadata and first page in the ExecuteStatement answer. When that page is the whole
   * result the operation is closed here too (the driver then never calls CloseOperation), but it
   * stays registered so its CloudFetch files can still be downloaded.
   */
  private directResults(operation: Operation, maxRows: number): TSparkDirectResults {
    const directResults: TSparkDirectResults = { operationStatus: operation.status() };
    const result = operation.result;
    if (result) {
      directResults.resultSetMetadata = result.metadata();
      directResults.resultSet = result.nextPage(maxRows);
      if (!directResults.resultSet.hasMoreRows) {
        directResults.closeOperation = { status: okStatus() };
      }
    }
    return directResults;
  }

  private operation(handle: TOperationHandle | undefined): Operation | undefined {
    const guid = handle?.operationId?.guid;
    return Buffer.isBuffer(guid) ? this.operations.get(guid.toString('hex')) : undefined;
  }
}

function sessionKey(handle: TSessionHandle | undefined): string {
  const guid = handle?.sessionId?.guid;
  return Buffer.isBuffer(guid) ? guid.toString('hex') : '';
}

function invalidSession() {
  return errorStatus('Invalid SessionHandle: the session does not exist or was closed');
}

function invalidOperation() {
  return errorStatus('Invalid OperationHandle: the operation does not exist or was closed');
}

function notReady(operation: Operation) {
  if (operation.state === T.TOperationState.ERROR_STATE && 'error' in operation.outcome) {
    return errorStatus(operation.outcome.error.message, operation.outcome.error.sqlState);
  }
  return errorStatus(`Operation is in state ${T.TOperationState[operation.state]}, not FINISHED_STATE`);
}
