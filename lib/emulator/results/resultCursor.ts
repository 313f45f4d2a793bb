import { okStatus, T, TFetchResultsResp, TGetResultSetMetadataResp, TSparkArrowResultLink } from '../thrift';
import { ResultFormat } from '../sql';
import { arrowBatchMessages, arrowSchemaMessage, arrowStream } from './arrowEncoder';
import { encodeColumns, tableSchema } from './thriftColumns';
import { ResultTable } from './table';

/** How one statement's rows travel. */
export interface ResultPlan {
  format: ResultFormat;
  /** LZ4 frame compressor, or undefined for uncompressed results. */
  lz4?: (data: Buffer) => Buffer;
  /** Number of CloudFetch files (ignored by inline formats). */
  chunks: number;
  /** Base of the CloudFetch links, e.g. `https://127.0.0.1:4443/cloudfetch/<operation id>`. */
  linkBase: string;
}

/** Presigned cloud-storage links expire; the driver checks before each download. */
const LINK_LIFETIME_MS = 15 * 60 * 1000;

const ROW_SET_TYPES: Record<ResultFormat, number> = {
  columns: T.TSparkRowSetType.COLUMN_BASED_SET,
  arrow: T.TSparkRowSetType.ARROW_BASED_SET,
  cloudfetch: T.TSparkRowSetType.URL_BASED_SET,
};

/**
 * Serves one result set page by page (inline formats) or link batch by link batch (CloudFetch),
 * generating each page or file only when it is asked for.
 */
export default class ResultCursor {
  private nextRow = 0;

  private nextChunk = 0;

  constructor(
    private readonly table: ResultTable,
    private readonly plan: ResultPlan,
  ) {}

  get chunkCount(): number {
    return this.table.rowCount === 0 ? 0 : Math.max(1, Math.min(this.plan.chunks, this.table.rowCount));
  }

  metadata(): TGetResultSetMetadataResp {
    const isArrow = this.plan.format !== 'columns';
    return {
      status: okStatus(),
      schema: tableSchema(this.table),
      resultFormat: ROW_SET_TYPES[this.plan.format],
      lz4Compressed: isArrow && this.plan.lz4 !== undefined,
      arrowSchema: isArrow ? arrowSchemaMessage(this.table) : undefined,
      isStagingOperation: false,
    };
  }

  /** The next page of at most `maxRows` rows; past the end, an empty page. */
  nextPage(maxRows: number): TFetchResultsResp {
    if (this.plan.format === 'cloudfetch') {
      return this.nextLinks(maxRows);
    }
    const start = this.nextRow;
    const end = Math.min(this.table.rowCount, start + Math.max(1, maxRows));
    this.nextRow = end;
    const hasMoreRows = end < this.table.rowCount;
    if (this.plan.format === 'columns') {
      return {
        status: okStatus(),
        hasMoreRows,
        results: { startRowOffset: start, rows: [], columns: encodeColumns(this.table, start, end) },
      };
    }
    const arrowBatches =
      end > start ? [{ batch: this.compress(arrowBatchMessages(this.table, start, end)), rowCount: end - start }] : [];
    return { status: okStatus(), hasMoreRows, results: { startRowOffset: start, rows: [], arrowBatches } };
  }

  /** Rows held by CloudFetch file `index`: an even split of the result. */
  private chunkRows(index: number): { start: number; end: number } {
    const count = this.chunkCount;
    return {
      start: Math.floor((index * this.table.rowCount) / count),
      end: Math.floor(((index + 1) * this.table.rowCount) / count),
    };
  }

  /** The body of CloudFetch file `index` (a whole Arrow IPC stream), or undefined if there is none. */
  chunk(index: number): Buffer | undefined {
    if (this.plan.format !== 'cloudfetch' || !Number.isInteger(index) || index < 0 || index >= this.chunkCount) {
      return undefined;
    }
    const { start, end } = this.chunkRows(index);
    return this.compress(arrowStream(this.table, start, end));
  }

  /** Links to the next files, as many as fit in `maxRows` rows (at least one). */
  private nextLinks(maxRows: number): TFetchResultsResp {
    const startRowOffset =
      this.nextChunk < this.chunkCount ? this.chunkRows(this.nextChunk).start : this.table.rowCount;
    const resultLinks: TSparkArrowResultLink[] = [];
    let rows = 0;
    while (this.nextChunk < this.chunkCount) {
      const { start, end } = this.chunkRows(this.nextChunk);
      if (resultLinks.length > 0 && rows + (end - start) > maxRows) {
        break;
      }
      resultLinks.push({
        fileLink: `${this.plan.linkBase}/${this.nextChunk}`,
        expiryTime: Date.now() + LINK_LIFETIME_MS,
        startRowOffset: start,
        rowCount: end - start,
        // An estimate (8 bytes a value): the file is generated only when downloaded.
        bytesNum: (end - start) * 8 * this.table.columns.length,
        httpHeaders: {},
      });
      rows += end - start;
      this.nextChunk += 1;
    }
    return {
      status: okStatus(),
      hasMoreRows: this.nextChunk < this.chunkCount,
      results: { startRowOffset, rows: [], resultLinks },
    };
  }

  private compress(data: Buffer): Buffer {
    return this.plan.lz4 ? this.plan.lz4(data) : data;
  }
}
