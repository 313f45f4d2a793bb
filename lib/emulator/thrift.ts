import { thrift as driverThrift } from '@databricks/sql';

/**
 * The driver's own generated TCLIService code: the emulator speaks exactly the protocol the
 * driver was built against, and never carries a copy of it.
 */
export const TCLIService = driverThrift.TCLIService;
export const T = driverThrift.TCLIService_types;

export type TStatus = InstanceType<typeof T.TStatus>;
export type TOperationHandle = InstanceType<typeof T.TOperationHandle>;
export type TSessionHandle = InstanceType<typeof T.TSessionHandle>;
export type TTableSchema = InstanceType<typeof T.TTableSchema>;
export type TColumn = InstanceType<typeof T.TColumn>;
export type TSparkArrowResultLink = InstanceType<typeof T.TSparkArrowResultLink>;
export type TGetOperationStatusResp = InstanceType<typeof T.TGetOperationStatusResp>;
export type TGetResultSetMetadataResp = InstanceType<typeof T.TGetResultSetMetadataResp>;
export type TFetchResultsResp = InstanceType<typeof T.TFetchResultsResp>;
export type TSparkDirectResults = InstanceType<typeof T.TSparkDirectResults>;

/** The slice of the `thrift` runtime package (a driver dependency, shipped without types) we use. */
interface ThriftTransport {
  commitPosition(): void;
}
interface ThriftRuntime {
  TBufferedTransport: {
    new (buffer: undefined, onFlush: (data: Buffer) => void): ThriftTransport;
    receiver(callback: (transport: ThriftTransport) => void): (data: Buffer) => void;
  };
  TBinaryProtocol: new (transport: ThriftTransport) => object;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const thriftRuntime = require('thrift') as ThriftRuntime;

/** Thrift i64 fields arrive as `node-int64` objects; plain numbers are accepted when writing. */
export function int64ToNumber(value: unknown): number | undefined {
  if (typeof value === 'number') {
    return value;
  }
  if (value && typeof (value as { toNumber?: unknown }).toNumber === 'function') {
    return (value as { toNumber(allowImprecise: boolean): number }).toNumber(true);
  }
  return undefined;
}

export function okStatus(): TStatus {
  return { statusCode: T.TStatusCode.SUCCESS_STATUS };
}

export function errorStatus(message: string, sqlState = 'HY000'): TStatus {
  return { statusCode: T.TStatusCode.ERROR_STATUS, errorMessage: message, displayMessage: message, sqlState };
}
