import { randomBytes, randomUUID } from 'crypto';
import { okStatus, T, TGetOperationStatusResp, TOperationHandle } from './thrift';
import ResultCursor from './results/resultCursor';

/** A handle GUID: the driver parses it as an RFC 4122 UUID, so it must be one. */
export function newGuid(): { id: string; guid: Buffer } {
  const id = randomUUID();
  return { id, guid: Buffer.from(id.replace(/-/g, ''), 'hex') };
}

export type Outcome = { result: ResultCursor } | { error: { sqlState: string; message: string } };

/** One statement or metadata call, from creation to close. */
export default class Operation {
  readonly id: string;

  readonly handle: TOperationHandle;

  private readonly startedAt = Date.now();

  private readonly readyAt: number;

  private canceled = false;

  constructor(
    { id, guid }: { id: string; guid: Buffer },
    readonly sessionKey: string,
    operationType: number,
    readonly outcome: Outcome,
    runningMs: number,
  ) {
    this.id = id;
    this.handle = {
      operationId: { guid, secret: randomBytes(16) },
      operationType,
      // Every statement the emulator runs is a query: a result set is announced before it runs,
      // and a failure shows in the status, as on a real warehouse.
      hasResultSet: true,
    };
    this.readyAt = this.startedAt + runningMs;
  }

  /** Key of the operation map: the GUID as hex, whatever form the client sends it in. */
  get key(): string {
    return this.handle.operationId.guid.toString('hex');
  }

  get state(): number {
    if (this.canceled) {
      return T.TOperationState.CANCELED_STATE;
    }
    if (Date.now() < this.readyAt) {
      return T.TOperationState.RUNNING_STATE;
    }
    return 'error' in this.outcome ? T.TOperationState.ERROR_STATE : T.TOperationState.FINISHED_STATE;
  }

  /** The finished result, or undefined while running, after an error or a cancel. */
  get result(): ResultCursor | undefined {
    return this.state === T.TOperationState.FINISHED_STATE && 'result' in this.outcome
      ? this.outcome.result
      : undefined;
  }

  /** Cancelling a finished operation changes nothing, as on a real warehouse. */
  cancel(): void {
    if (this.state === T.TOperationState.RUNNING_STATE) {
      this.canceled = true;
    }
  }

  status(): TGetOperationStatusResp {
    const state = this.state;
    const response: TGetOperationStatusResp = {
      status: okStatus(),
      operationState: state,
      operationStarted: this.startedAt,
    };
    if (state === T.TOperationState.RUNNING_STATE) {
      return response;
    }
    // Only a finished statement states it: a `false` would make the driver skip its error check.
    if (state === T.TOperationState.FINISHED_STATE) {
      response.hasResultSet = true;
    }
    response.operationCompleted = Math.max(this.startedAt, Math.min(Date.now(), this.readyAt));
    if (state === T.TOperationState.ERROR_STATE && 'error' in this.outcome) {
      const { sqlState, message } = this.outcome.error;
      Object.assign(response, { sqlState, errorMessage: message, displayMessage: message, errorCode: 0 });
    }
    return response;
  }
}
