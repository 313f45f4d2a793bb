/**
 * Where a fault can be injected. `thrift:<Method>` (e.g. `thrift:FetchResults`) narrows to one RPC;
 * `oauth` is the OAuth token endpoint, `oauthDiscovery` the OIDC discovery document.
 */
export type FaultTarget =
  'telemetry' | 'featureFlags' | 'cloudFetch' | 'thrift' | `thrift:${string}` | 'oauth' | 'oauthDiscovery';

/** One way for an endpoint to misbehave. */
export type Fault =
  /** Answer normally. Useful inside a sequence. */
  | { kind: 'ok' }
  /** Answer with this HTTP status (500, 503, 429, 401, 403, 404...) and a small JSON error body. */
  | { kind: 'status'; status: number; retryAfterSeconds?: number }
  /** Wait, then answer normally. */
  | { kind: 'delay'; ms: number }
  /** Never answer; the request stays open until the client gives up or the emulator closes. */
  | { kind: 'hang' }
  /** Destroy the connection without an answer. */
  | { kind: 'reset' }
  /** Answer 200 with a body that is neither JSON, Thrift nor Arrow. */
  | { kind: 'malformed' }
  /** Answer normally, but send the body one byte every `intervalMs` (default 20). */
  | { kind: 'drip'; intervalMs?: number }
  /** Telemetry only: accept just the first `accepted` logs and report so in `numProtoSuccess`. */
  | { kind: 'partial'; accepted: number };

/** A fault applied to the next `times` requests (default 1; `'forever'` never runs out). */
export type FaultStep = Fault & { times?: number | 'forever' };

const KINDS = new Set(['ok', 'status', 'delay', 'hang', 'reset', 'malformed', 'drip', 'partial']);

/**
 * Per-target sequences of faults, consumed one request at a time; once a sequence runs out the
 * target behaves normally again. "Fail 6 times, then succeed" is `[{ kind: 'status', status: 503, times: 6 }]`.
 */
export default class FaultInjector {
  private readonly sequences = new Map<string, { fault: Fault; remaining: number }[]>();

  set(target: FaultTarget, sequence: FaultStep | FaultStep[]): void {
    const steps = (Array.isArray(sequence) ? sequence : [sequence]).map((step) => {
      validate(step);
      const { times = 1, ...fault } = step;
      return { fault: fault as Fault, remaining: times === 'forever' ? Infinity : times };
    });
    this.sequences.set(target, steps);
  }

  /** Clears one target, or all of them. */
  clear(target?: FaultTarget): void {
    if (target) {
      this.sequences.delete(target);
    } else {
      this.sequences.clear();
    }
  }

  /** The fault for the next request to the first of `targets` that has one pending, consuming it. */
  next(...targets: FaultTarget[]): Fault | undefined {
    for (const target of targets) {
      const steps = this.sequences.get(target);
      while (steps && steps.length > 0 && steps[0].remaining <= 0) {
        steps.shift();
      }
      if (!steps || steps.length === 0) {
        continue;
      }
      steps[0].remaining -= 1;
      return steps[0].fault;
    }
    return undefined;
  }
}

/** Rejects specs the injector could not honour, so a typo fails where it is made. */
function validate(step: FaultStep): void {
  const { kind } = step as { kind?: unknown };
  if (typeof kind !== 'string' || !KINDS.has(kind)) {
    throw new Error(`Unknown fault kind: ${String(kind)}`);
  }
  const { times } = step;
  if (times !== undefined && times !== 'forever' && !(Number.isInteger(times) && times >= 0)) {
    throw new Error(`Fault "times" must be a non-negative integer or "forever", got ${String(times)}`);
  }
  if (step.kind === 'status' && !(Number.isInteger(step.status) && step.status >= 100 && step.status <= 599)) {
    throw new Error(`Fault status must be an HTTP status code, got ${String(step.status)}`);
  }
  if (step.kind === 'delay' && !(typeof step.ms === 'number' && step.ms >= 0)) {
    throw new Error('Fault delay needs "ms" >= 0');
  }
  if (step.kind === 'partial' && !(Number.isInteger(step.accepted) && step.accepted >= 0)) {
    throw new Error('Fault partial needs "accepted" >= 0');
  }
}
