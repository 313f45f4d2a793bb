import ITelemetryTransport, {
  UploadBatch,
  UploadResult,
} from '../../../../lib/telemetry/contracts/ITelemetryTransport';

/** One scripted answer: a result, or a function giving one (to hang, abort or throw at the right moment). */
export type ScriptStep = UploadResult | ((batch: UploadBatch, attempt: number) => Promise<UploadResult>);

/** Answers each send with the next scripted step (the last one repeats), recording what it was sent. */
export default class ScriptedTransport implements ITelemetryTransport {
  public readonly calls: Array<{ batch: UploadBatch; attempt: number }> = [];

  constructor(private readonly script: ScriptStep[]) {}

  get attempts(): number[] {
    return this.calls.map((call) => call.attempt);
  }

  async send(batch: UploadBatch, attempt: number): Promise<UploadResult> {
    this.calls.push({ batch, attempt });
    const next = this.script[Math.min(this.calls.length - 1, this.script.length - 1)];
    return typeof next === 'function' ? next(batch, attempt) : next;
  }
}
