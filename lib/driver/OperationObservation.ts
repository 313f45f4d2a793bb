import { ExecutionResultFormat } from '../telemetry/types';

/** What the adapter has seen on the wire for one open operation, until the caller closes it. */
export default interface OperationObservation {
  statementId: string;
  sessionId: string;
  /** The operation handle of the starting RPC's response: the driver sends it with every later RPC. */
  handle: object;
  /** When the application called the method that started it. */
  startTime: number;
  pollCount: number;
  pollLatencyMs: number;
  executionResult?: ExecutionResultFormat;
  isCompressed?: boolean;
  /** Result links (CloudFetch chunks) the server announced. */
  chunksPresent: number;
  /** CloudFetch download attempts beyond the first for a chunk. */
  retryCount: number;
  /** When the server first reported the result ready. */
  readyAt?: number;
  /** When the last result page or chunk arrived. */
  lastResultAt?: number;
  /** Rows the server returned in result pages so far; undefined until the first page. */
  rowsReturned?: number;
  /** The server reported a final state (finished, failed, cancelled, closed). */
  settled: boolean;
}
