import { LogLevel } from '@databricks/sql';
import type IDBSQLLogger from '@databricks/sql/dist/contracts/IDBSQLLogger';
import { TelemetryEventSink } from '../telemetry/TelemetryEventEmitter';
import type { DeferredWork } from './DeferredEvents';
import { OperationType } from '../telemetry/types';
import ExceptionClassifier from '../telemetry/ExceptionClassifier';
import { isSqlState } from '../telemetry/errorNames';
import OperationObservation from './OperationObservation';
import CloudFetchLinkRegistry from './CloudFetchLinkRegistry';
import type { RetryReceiver } from './RetryCounter';
import { readThriftCall } from './thriftCall';
import {
  OBSERVED_RPCS,
  OPERATION_STARTING_RPCS,
  OPERATION_STATE,
  executionResultOf,
  guidToUuid,
  isErrorStatus,
} from './thriftMappings';

type Callback = (error: unknown, response: unknown) => void;
type Rpc = (this: unknown, request: unknown, callback?: Callback) => unknown;

// Thrift structs are plain objects; the adapter reads them defensively, so a loose shape is enough.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type ThriftStruct = any;

/** Marks an observed client; the slot says which observer its RPCs report to. */
const OBSERVER = Symbol('dbsql-telemetry.observer');

interface ObserverSlot {
  observer: ThriftClientObserver;
  /** Each observed RPC's method before it was observed, and whether the client held it itself. */
  originals: Map<string, { method: unknown; own: boolean }>;
}

/** Reads one kind of RPC's successful response: `now` is when it arrived. */
type RpcReader = (
  observer: ThriftClientObserver,
  request: ThriftStruct,
  response: ThriftStruct,
  startedAt: number,
  now: number,
  parent: unknown,
) => void;

/** Where the observer's events go, and its reading waits, in one order. */
export interface ObservationQueue extends TelemetryEventSink {
  defer<T>(work: DeferredWork<T>, arg: T): void;
  deliver(): void;
}

/** One RPC's outcome, held until the queue's next batch. */
interface RpcOutcome {
  observer: ThriftClientObserver;
  name: string;
  read: RpcReader;
  request: ThriftStruct;
  error: unknown;
  response: ThriftStruct;
  startedAt: number;
  now: number;
  /** The call's Thrift sequence id, which names it in a retried request. */
  seqid: unknown;
  /** For an operation's start: the application's OpenTelemetry context when it was sent. */
  parent: unknown;
}

/** What the adapter measures only for the OpenTelemetry output. */
export interface ObservedForOpenTelemetry {
  /** Hand each statement's text on (the application opted in). */
  queryText: boolean;
  /** The application's context at the moment a call is made, to parent the statement's span on. */
  activeContext: () => unknown;
}

/** One chunk the driver downloaded: `time` is when the download ended. */
export interface ChunkDownload {
  statementId: string;
  chunkIndex: number;
  latencyMs: number;
  bytes: number;
  time: number;
}

interface StatementRetries {
  observer: ThriftClientObserver;
  handleGuid: Buffer;
  retries: number;
}

interface DownloadRetries {
  observer: ThriftClientObserver;
  url: string;
  retries: number;
}

/** Retried calls whose outcome has not been read: bounded, since a call may never report back. */
const MAX_RETRIED_CALLS = 1000;

const OBSERVED_RPC_NAMES: ReadonlySet<string> = new Set(OBSERVED_RPCS);

interface StatementTime {
  observer: ThriftClientObserver;
  statementId: string;
  time: number;
}

/** A response that announces CloudFetch links is read at once: the driver downloads them next. */
function announcesLinks(name: string, response: ThriftStruct): boolean {
  const results = name === 'FetchResults' ? response?.results : response?.directResults?.resultSet?.results;
  return Array.isArray(results?.resultLinks) && results.resultLinks.length > 0;
}

/**
 * Watches the Thrift RPCs of one connection through methods set on the driver's Thrift client:
 * operation starts, polls, result format, compression, result links, server error states and
 * RPC failures. It only takes requests and responses, hands the caller exactly what the driver
 * would have seen, at the same moment, and reads them later, in the connection's batches (see
 * DeferredEvents), with the closes and start times it is told of in between, in order.
 */
export default class ThriftClientObserver implements RetryReceiver {
  /** Open operations by statement id, and by the handle object the driver sends with their RPCs. */
  private readonly operations = new Map<string, OperationObservation>();

  private readonly byHandle = new Map<object, OperationObservation>();

  private clientObserved = false;

  /** The client observed last, to give its methods back. */
  private client?: object;

  /** HTTP retries of observed calls, by sequence id, until their outcome is read. */
  private readonly retriesBySeqid = new Map<number, number>();

  /** Retries of the operation-starting call being read, for the operation it starts. */
  private startRetries = 0;

  /** The last session handle GUID seen and its text: a connection's statements mostly share one. */
  private lastSessionGuid?: unknown;

  private lastSessionId?: string;

  public readonly links: CloudFetchLinkRegistry;

  /**
   * `onFirstLink`: the server announced the connection's first CloudFetch link (see
   * CloudFetchLinkRegistry). `downloadsReported`: the driver reports each chunk download itself
   * (`chunkDownloaded()`, from 1.15), so links are only counted, never matched to requests.
   */
  constructor(
    private readonly events: ObservationQueue,
    private readonly logger: IDBSQLLogger,
    onFirstLink?: () => void,
    private readonly downloadsReported = false,
    /** What the OpenTelemetry output needs beyond the upload; none when the output is off. */
    private readonly openTelemetry?: ObservedForOpenTelemetry,
  ) {
    this.links = new CloudFetchLinkRegistry(
      events,
      (statementId) => this.operations.get(statementId),
      onFirstLink,
      !downloadsReported,
    );
  }

  /**
   * Observes a Thrift client in place: its observed RPCs become own methods that call the
   * original. Methods it does not observe are left as they are, so they cost nothing. A client
   * observed before (the driver keeps one across `connect()` calls) reports to this observer from
   * now on. Never throws.
   */
  observeClient(client: object): void {
    try {
      const rpcs = client as Record<string | symbol, unknown>;
      let slot = rpcs[OBSERVER] as ObserverSlot | undefined;
      if (slot === undefined) {
        slot = { observer: this, originals: new Map() };
        Object.defineProperty(client, OBSERVER, { value: slot });
      }
      slot.observer = this;
      if (slot.originals.size === 0) {
        for (const name of OBSERVED_RPCS) {
          const original = rpcs[name];
          if (typeof original === 'function') {
            slot.originals.set(name, { method: original, own: Object.prototype.hasOwnProperty.call(client, name) });
            rpcs[name] = ThriftClientObserver.observedRpc(name, original as Rpc, slot);
          }
        }
      }
      this.client = client;
      this.clientObserved = true;
    } catch (failure) {
      this.logger.log(LogLevel.debug, `Telemetry: could not observe the Thrift client: ${(failure as Error)?.message}`);
    }
  }

  /**
   * Gives the observed client its own methods back, so its RPCs cost what they cost unobserved,
   * and forgets what was being observed (its operations end now). `observeClient` takes it up
   * again. Never throws.
   */
  releaseClient(endTime: number): void {
    try {
      this.completeAll(endTime);
      this.retriesBySeqid.clear();
      const rpcs = this.client as Record<string | symbol, unknown> | undefined;
      const slot = rpcs?.[OBSERVER] as ObserverSlot | undefined;
      this.clientObserved = false;
      if (rpcs === undefined || slot === undefined || slot.observer !== this) {
        return;
      }
      for (const [name, { method, own }] of slot.originals) {
        if (own) {
          rpcs[name] = method;
        } else {
          delete rpcs[name];
        }
      }
      slot.originals.clear();
    } catch (failure) {
      this.logger.log(LogLevel.debug, `Telemetry: could not release the Thrift client: ${(failure as Error)?.message}`);
    }
  }

  /** How many calls the observed client has numbered (its sequence id); undefined while none is observed. */
  sentCalls(): number | undefined {
    const seqid = this.clientObserved ? (this.client as { _seqid?: unknown } | undefined)?._seqid : undefined;
    return typeof seqid === 'number' ? seqid : undefined;
  }

  /** True once a client reports to this observer: the driver makes one Thrift client per connection. */
  observesClient(): boolean {
    return this.clientObserved;
  }

  hasOpenOperations(): boolean {
    return this.operations.size > 0;
  }

  private static readonly applyOutcome: DeferredWork<RpcOutcome> = (outcome) => outcome.observer.observe(outcome);

  private static readonly applyStartTime: DeferredWork<StatementTime> = ({ observer, statementId, time }) => {
    const observation = observer.operations.get(statementId);
    if (observation) {
      observation.startTime = time;
    }
  };

  private static readonly applyClose: DeferredWork<StatementTime> = ({ observer, statementId, time }) =>
    observer.completeStatement(statementId, time);

  /** Moves an operation's start to when the application made the call (after the RPCs held before it). */
  setStartTime(statementId: string, startTime: number): void {
    this.events.defer(ThriftClientObserver.applyStartTime, { observer: this, statementId, time: startTime });
  }

  /** The caller closed or cancelled the operation: its statement completes after the RPCs held before. */
  statementClosed(statementId: string, endTime: number): void {
    this.events.defer(ThriftClientObserver.applyClose, { observer: this, statementId, time: endTime });
  }

  /** The driver downloaded a CloudFetch chunk: reported after the RPCs held before it. */
  chunkDownloaded(download: ChunkDownload): void {
    this.events.defer(ThriftClientObserver.applyDownload, { observer: this, download });
  }

  private static readonly applyDownload: DeferredWork<{ observer: ThriftClientObserver; download: ChunkDownload }> = ({
    observer,
    download,
  }) => {
    const observation = observer.operations.get(download.statementId);
    if (observation === undefined) {
      return;
    }
    observation.lastResultAt = download.time;
    observer.events.emitCloudFetchChunk({
      statementId: download.statementId,
      chunkIndex: download.chunkIndex,
      timestamp: download.time,
      latencyMs: download.latencyMs,
      bytes: download.bytes,
      compressed: observation.isCompressed ?? false,
    });
  };

  /** True while the server has not yet reported a final state for the operation. */
  isRunning(statementId: string): boolean {
    const observation = this.operations.get(statementId);
    return observation !== undefined && !observation.settled;
  }

  /** The caller closed or cancelled the operation: its statement is complete. */
  completeStatement(statementId: string, endTime: number): void {
    const observation = this.operations.get(statementId);
    if (!observation) {
      return;
    }
    this.operations.delete(statementId);
    this.byHandle.delete(observation.handle);
    this.links.forget(statementId);
    const { startTime, readyAt, lastResultAt, chunksPresent } = observation;
    this.events.emitStatementComplete({
      statementId,
      sessionId: observation.sessionId,
      timestamp: endTime,
      latencyMs: endTime - startTime,
      executionResult: observation.executionResult,
      isCompressed: observation.isCompressed,
      pollCount: observation.pollCount,
      pollLatencyMs: observation.pollLatencyMs,
      chunksPresent: chunksPresent > 0 ? chunksPresent : undefined,
      resultReadyLatencyMs: readyAt !== undefined ? readyAt - startTime : undefined,
      resultConsumptionLatencyMs:
        readyAt !== undefined && lastResultAt !== undefined ? Math.max(0, lastResultAt - readyAt) : undefined,
      retryCount: observation.retryCount,
      rowsReturned: observation.rowsReturned,
    });
  }

  /** Completes every operation of a session still open when the session closes. */
  completeSession(sessionId: string, endTime: number): void {
    this.events.deliver();
    for (const observation of [...this.operations.values()]) {
      if (observation.sessionId === sessionId) {
        this.completeStatement(observation.statementId, endTime);
      }
    }
  }

  /** Completes everything still open (client close). */
  completeAll(endTime: number): void {
    this.events.deliver();
    for (const statementId of [...this.operations.keys()]) {
      this.completeStatement(statementId, endTime);
    }
  }

  /**
   * An RPC that hands its callback exactly what the driver would have seen, at the same moment,
   * after giving it to the slot's observer. Called as the driver calls it: on the client, with a
   * callback.
   */
  private static observedRpc(name: string, original: Rpc, slot: ObserverSlot): Rpc {
    const read = ThriftClientObserver.readerOf(name);
    const startsOperation = OPERATION_STARTING_RPCS[name] !== undefined;
    return function observed(this: unknown, request: unknown, callback?: Callback) {
      if (typeof callback !== 'function') {
        return original.call(this, request, callback);
      }
      const startedAt = Date.now();
      const parent = startsOperation ? slot.observer.openTelemetry?.activeContext() : undefined;
      // eslint-disable-next-line prefer-const -- set once the call is numbered, after the callback capturing it exists
      let seqid: unknown;
      const sent = original.call(this, request, (error: unknown, response: unknown) => {
        slot.observer.hold(
          name,
          read,
          request as ThriftStruct,
          error,
          response as ThriftStruct,
          startedAt,
          seqid,
          parent,
        );
        callback(error, response);
      });
      // The generated client numbers each call before sending it; its response comes later.
      seqid = (this as { _seqid?: unknown } | null)?._seqid;
      return sent;
    };
  }

  /** The reader of each observed RPC: each reads one request and response type only. */
  private static readerOf(name: string): RpcReader {
    const operationType = OPERATION_STARTING_RPCS[name];
    if (operationType !== undefined) {
      return (observer, request, response, startedAt, now, parent) =>
        observer.observeOperationStart(operationType, request, response, startedAt, now, parent);
    }
    switch (name) {
      case 'GetOperationStatus':
        return (observer, request, response, startedAt, now) =>
          observer.observeStatus(request, response, startedAt, now);
      case 'GetResultSetMetadata':
        return (observer, request, response) => observer.observeResultMetadata(request, response);
      default:
        return (observer, request, response, _startedAt, now) => observer.observeResults(request, response, now);
    }
  }

  /**
   * One RPC's outcome, from the client's callback: held for the next batch, or read at once when
   * it announces links the driver is about to download. Never throws.
   */
  private hold(
    name: string,
    read: RpcReader,
    request: ThriftStruct,
    error: unknown,
    response: ThriftStruct,
    startedAt: number,
    seqid: unknown,
    parent: unknown,
  ): void {
    // A call sent before the client was released answers after it: nothing is observed now.
    if (!this.clientObserved) {
      return;
    }
    try {
      const outcome: RpcOutcome = {
        observer: this,
        name,
        read,
        request,
        error,
        response,
        startedAt,
        now: Date.now(),
        seqid,
        parent,
      };
      if (!this.downloadsReported && error === null && announcesLinks(name, response)) {
        // A later page's links need its operation's start read first; a start needs nothing held
        // before it, and what is held stays held.
        if (OPERATION_STARTING_RPCS[name] === undefined && this.operationOf(request) === undefined) {
          this.events.deliver();
        }
        this.observe(outcome);
      } else {
        this.events.defer(ThriftClientObserver.applyOutcome, outcome);
      }
    } catch (failure) {
      this.logger.log(LogLevel.debug, `Telemetry: could not observe ${name}: ${(failure as Error)?.message}`);
    }
  }

  /** Reads one RPC's outcome. Never throws. */
  private observe({ name, read, request, error, response, startedAt, now, seqid, parent }: RpcOutcome): void {
    try {
      if (this.retriesBySeqid.size !== 0) {
        this.applyCallRetries(name, request, seqid);
      }
      if (error !== null && error !== undefined) {
        this.observeFailure(request, error);
      } else if (response !== null && typeof response === 'object') {
        read(this, request, response, startedAt, now, parent);
      }
      this.startRetries = 0;
    } catch (failure) {
      this.logger.log(LogLevel.debug, `Telemetry: could not observe ${name}: ${(failure as Error)?.message}`);
    }
  }

  /**
   * The driver retried a request (see RetryCounter), before the call's outcome reached its
   * callback. A Thrift call this observer reads is found again by its sequence id when its outcome
   * is read; another call about an operation (closing or cancelling it) by its operation handle,
   * in order with the outcomes held before it; a CloudFetch download by its link, once the response
   * announcing it has been read.
   */
  retried(request: unknown, retries: number): void {
    if (!this.clientObserved) {
      return;
    }
    const body = (request as { body?: unknown } | null)?.body;
    if (Buffer.isBuffer(body)) {
      const call = readThriftCall(body);
      if (call === undefined) {
        return;
      }
      if (OBSERVED_RPC_NAMES.has(call.name)) {
        if (this.retriesBySeqid.size < MAX_RETRIED_CALLS) {
          this.retriesBySeqid.set(call.seqid, (this.retriesBySeqid.get(call.seqid) ?? 0) + retries);
        }
      } else if (call.handleGuid !== undefined) {
        this.events.defer(ThriftClientObserver.applyStatementRetries, {
          observer: this,
          handleGuid: call.handleGuid,
          retries,
        });
      }
      return;
    }
    const url = (request as { url?: unknown } | null)?.url;
    if (this.downloadsReported && typeof url === 'string') {
      this.events.defer(ThriftClientObserver.applyDownloadRetries, { observer: this, url, retries });
    }
  }

  private static readonly applyStatementRetries: DeferredWork<StatementRetries> = ({
    observer,
    handleGuid,
    retries,
  }) => {
    const observation = observer.operations.get(guidToUuid(handleGuid) ?? '');
    if (observation !== undefined) {
      observation.retryCount += retries;
    }
  };

  private static readonly applyDownloadRetries: DeferredWork<DownloadRetries> = ({ observer, url, retries }) => {
    const statementId = observer.links.statementOf(url);
    const observation = statementId === undefined ? undefined : observer.operations.get(statementId);
    if (observation !== undefined) {
      observation.retryCount += retries;
    }
  };

  /** Adds a read call's retries to its operation; a call that starts one passes them to it. */
  private applyCallRetries(name: string, request: ThriftStruct, seqid: unknown): void {
    const retries = typeof seqid === 'number' ? this.retriesBySeqid.get(seqid) : undefined;
    if (retries === undefined) {
      return;
    }
    this.retriesBySeqid.delete(seqid as number);
    if (OPERATION_STARTING_RPCS[name] !== undefined) {
      this.startRetries = retries;
      return;
    }
    const observation = this.operationOf(request);
    if (observation !== undefined) {
      observation.retryCount += retries;
    }
  }

  /**
   * The operation a request is for. The driver sends the handle object its operation was started
   * with, so the handle itself finds it without formatting its GUID; the GUID's text is the
   * fallback for a handle the driver rebuilt.
   */
  private operationOf(request: ThriftStruct): OperationObservation | undefined {
    const handle = request?.operationHandle;
    if (handle === null || typeof handle !== 'object') {
      return undefined;
    }
    return this.byHandle.get(handle) ?? this.operations.get(guidToUuid(handle.operationId?.guid) ?? '');
  }

  /** The operation of a request whose response reports no error status; an error status ends it. */
  private okOperationOf(request: ThriftStruct, response: ThriftStruct): OperationObservation | undefined {
    const observation = this.operationOf(request);
    if (observation !== undefined && isErrorStatus(response.status)) {
      this.emitStatementError(observation, response.status.sqlState, 'StatusError');
      return undefined;
    }
    return observation;
  }

  private observeStatus(request: ThriftStruct, response: ThriftStruct, startedAt: number, now: number): void {
    const observation = this.okOperationOf(request, response);
    if (observation !== undefined) {
      observation.pollCount += 1;
      observation.pollLatencyMs += now - startedAt;
      this.applyOperationStatus(observation, response, now);
    }
  }

  private observeResultMetadata(request: ThriftStruct, response: ThriftStruct): void {
    const observation = this.okOperationOf(request, response);
    if (observation !== undefined) {
      this.applyResultMetadata(observation, response);
    }
  }

  private observeResults(request: ThriftStruct, response: ThriftStruct, now: number): void {
    const observation = this.okOperationOf(request, response);
    if (observation !== undefined) {
      this.applyResults(observation, response.results, now);
    }
  }

  private observeOperationStart(
    operationType: OperationType,
    request: ThriftStruct,
    response: ThriftStruct,
    startedAt: number,
    now: number,
    parent: unknown,
  ): void {
    const sessionId = this.sessionIdOf(request?.sessionHandle?.sessionId?.guid);
    const handle = response.operationHandle;
    const retries = this.startRetries;
    this.startRetries = 0;
    const statementId = guidToUuid(handle?.operationId?.guid);
    if (!statementId || !sessionId) {
      if (isErrorStatus(response.status)) {
        this.events.emitError({
          sessionId,
          errorName: sqlStateOr(response.status.sqlState, 'StatusError'),
          isTerminal: true,
        });
      }
      return;
    }
    const observation: OperationObservation = {
      statementId,
      sessionId,
      handle,
      startTime: startedAt,
      pollCount: 0,
      pollLatencyMs: 0,
      chunksPresent: 0,
      retryCount: retries,
      settled: false,
      // Every field from the start: one object shape for all observations.
      executionResult: undefined,
      isCompressed: undefined,
      readyAt: undefined,
      lastResultAt: undefined,
      rowsReturned: undefined,
    };
    this.operations.set(statementId, observation);
    this.byHandle.set(handle, observation);
    this.events.emitStatementStart({
      statementId,
      sessionId,
      timestamp: startedAt,
      statementType: operationType === 'EXECUTE_STATEMENT' ? 'QUERY' : 'METADATA',
      operationType,
      queryText:
        this.openTelemetry?.queryText === true && typeof request?.statement === 'string'
          ? request.statement
          : undefined,
      parentContext: parent,
    });
    if (isErrorStatus(response.status)) {
      this.emitStatementError(observation, response.status.sqlState, 'StatusError');
      return;
    }
    const direct = response.directResults;
    if (direct) {
      if (direct.operationStatus) {
        this.applyOperationStatus(observation, direct.operationStatus, now);
      }
      if (direct.resultSetMetadata) {
        this.applyResultMetadata(observation, direct.resultSetMetadata);
      }
      if (direct.resultSet) {
        this.applyResults(observation, direct.resultSet.results, now);
      }
    }
  }

  /** The session id for a handle GUID; the driver passes the same GUID object for every call of a session. */
  private sessionIdOf(guid: unknown): string | undefined {
    if (guid !== this.lastSessionGuid || guid === undefined) {
      this.lastSessionId = guidToUuid(guid);
      this.lastSessionGuid = guid;
    }
    return this.lastSessionId;
  }

  private observeFailure(request: ThriftStruct, error: unknown): void {
    const errorName = ExceptionClassifier.safeErrorName(error);
    const observation = this.operationOf(request);
    if (observation) {
      this.emitStatementError(observation, undefined, errorName);
      return;
    }
    // The driver has already retried what it retries: a failed RPC is final for the caller.
    this.events.emitError({
      sessionId: guidToUuid(request?.sessionHandle?.sessionId?.guid),
      errorName,
      isTerminal: true,
    });
  }

  private applyOperationStatus(observation: OperationObservation, status: ThriftStruct, now: number): void {
    switch (status.operationState) {
      case OPERATION_STATE.FINISHED:
        observation.readyAt ??= now;
        observation.settled = true;
        break;
      case OPERATION_STATE.ERROR:
        this.emitStatementError(observation, status.sqlState, 'OperationError');
        break;
      case OPERATION_STATE.TIMEDOUT:
        this.emitStatementError(observation, undefined, 'OperationTimedOut');
        break;
      case OPERATION_STATE.CANCELED:
      case OPERATION_STATE.CLOSED:
        observation.settled = true;
        break;
      default:
        break;
    }
  }

  private applyResultMetadata(observation: OperationObservation, metadata: ThriftStruct): void {
    observation.executionResult = executionResultOf(metadata.resultFormat);
    if (typeof metadata.lz4Compressed === 'boolean') {
      observation.isCompressed = metadata.lz4Compressed;
    }
  }

  private applyResults(observation: OperationObservation, results: ThriftStruct, now: number): void {
    observation.lastResultAt = now;
    const links = results?.resultLinks;
    if (Array.isArray(links)) {
      for (const link of links) {
        this.links.register(link?.fileLink, observation.statementId, observation.chunksPresent);
        observation.chunksPresent += 1;
      }
    }
    // Only the OpenTelemetry output reports rows: without it, nothing reads a page's rows.
    if (this.openTelemetry !== undefined) {
      observation.rowsReturned = (observation.rowsReturned ?? 0) + rowsOf(results);
    }
  }

  private emitStatementError(observation: OperationObservation, sqlState: unknown, fallback: string): void {
    observation.settled = true;
    this.events.emitError({
      statementId: observation.statementId,
      sessionId: observation.sessionId,
      errorName: sqlStateOr(sqlState, fallback),
      isTerminal: true,
      retryCount: observation.retryCount,
    });
  }
}

/**
 * Rows in one result page: what its Arrow batches or CloudFetch links say they hold, or the
 * length of its first column. Anything unreadable counts as none.
 */
function rowsOf(results: ThriftStruct): number {
  if (!results) {
    return 0;
  }
  const { arrowBatches, resultLinks } = results;
  if (
    (Array.isArray(arrowBatches) && arrowBatches.length > 0) ||
    (Array.isArray(resultLinks) && resultLinks.length > 0)
  ) {
    return rowCounts(arrowBatches) + rowCounts(resultLinks);
  }
  const column = Array.isArray(results.columns) ? results.columns[0] : undefined;
  if (column) {
    for (const key in column) {
      const values = column[key]?.values;
      if (Array.isArray(values)) {
        return values.length;
      }
    }
  }
  return 0;
}

/** The rows that Arrow batches or result links say they hold. */
function rowCounts(entries: unknown): number {
  let rows = 0;
  if (Array.isArray(entries)) {
    for (const entry of entries) {
      rows += countOf(entry?.rowCount);
    }
  }
  return rows;
}

/** A Thrift i64 (a number, or an Int64 object whose value is a number) as a count; else 0. */
function countOf(value: unknown): number {
  const number = typeof value === 'number' ? value : Number(value);
  return Number.isSafeInteger(number) && number > 0 ? number : 0;
}

function sqlStateOr(sqlState: unknown, fallback: string): string {
  return isSqlState(sqlState) ? sqlState : fallback;
}
