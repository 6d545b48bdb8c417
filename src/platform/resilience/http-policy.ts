/**
 * The policy around every outbound call to another service: a timeout, a circuit breaker
 * shared by all calls to that upstream, and jittered retries for calls that are safe to
 * repeat. Whatever goes wrong on the way (refused, reset, timed out, circuit open) comes
 * out as one coded error, PLT_ERR_DEPENDENCY_UNAVAILABLE (503), never a hang or a 500.
 */
import {
  BrokenCircuitError,
  CircuitState,
  ConsecutiveBreaker,
  ExponentialBackoff,
  TaskCancelledError,
  TimeoutStrategy,
  circuitBreaker,
  handleWhen,
  retry,
  timeout,
  wrap,
  type IPolicy,
} from 'cockatiel';
import { DependencyUnavailable, OrderflowError } from '../errors.ts';

export interface BreakerOptions {
  /** Consecutive failures that open the circuit. */
  consecutiveFailures: number;
  /** How long the circuit stays open before one trial call is let through. */
  halfOpenAfterMs: number;
}

export interface HttpPolicyOptions {
  /** Names the upstream in error messages. */
  name: string;
  timeoutMs: number;
  /** Extra attempts for idempotent calls only; 0 by default. */
  retries?: number;
  /** First retry delay; later ones grow exponentially with decorrelated jitter. */
  retryDelayMs?: number;
  /** false disables the breaker. */
  breaker?: BreakerOptions | false;
  /**
   * Results that count as failures for the breaker and the retries (e.g. an HTTP 503).
   * They are still returned to the caller once the retries are spent.
   */
  isFailureResult?: (result: unknown) => boolean;
}

export type BreakerState = 'closed' | 'open' | 'half-open' | 'isolated';

export interface HttpPolicy {
  /**
   * Runs `fn` under the policy. `fn` gets an AbortSignal that fires on timeout: pass it
   * to the request so the socket work stops too. `idempotent` allows retries.
   */
  execute<T>(fn: (signal: AbortSignal) => Promise<T>, opts?: { idempotent?: boolean }): Promise<T>;
  breakerState(): BreakerState;
}

const states: Record<number, BreakerState> = {
  [CircuitState.Closed]: 'closed',
  [CircuitState.Open]: 'open',
  [CircuitState.HalfOpen]: 'half-open',
  [CircuitState.Isolated]: 'isolated',
};

// A coded client error (a 4xx the caller raised on purpose) says nothing about the
// upstream's health: it neither trips the breaker nor gets retried.
const isFailure = (err: Error) => !(err instanceof OrderflowError && err.statusCode < 500);

/** Builds the policy for one upstream; share it among all calls to that upstream. */
export function createHttpPolicy(opts: HttpPolicyOptions): HttpPolicy {
  const failureResult = opts.isFailureResult ?? (() => false);
  const handled = () => handleWhen(isFailure).orWhenResult(failureResult);
  // abortOnReturn off: aborting a finished call's signal only builds an AbortError
  // (a DOMException with its stack), 5-7 % of the gateway's CPU on the read path (profiled);
  // every caller has read its answer by then, and a timeout still aborts.
  const deadline = timeout(opts.timeoutMs, { strategy: TimeoutStrategy.Aggressive, abortOnReturn: false });
  const halfOpenAfterMs = opts.breaker === false ? 0 : (opts.breaker?.halfOpenAfterMs ?? 2_000);
  const breaker = opts.breaker === false
    ? undefined
    : circuitBreaker(handled(), {
        halfOpenAfter: halfOpenAfterMs,
        breaker: new ConsecutiveBreaker(opts.breaker?.consecutiveFailures ?? 5),
      });
  let openedAt = 0;
  breaker?.onBreak(() => (openedAt = Date.now()));
  const once: IPolicy = breaker ? wrap(breaker, deadline) : deadline;
  const retries = opts.retries ?? 0;
  const withRetries: IPolicy = retries > 0
    ? wrap(retry(handled(), { maxAttempts: retries, backoff: new ExponentialBackoff({ initialDelay: opts.retryDelayMs ?? 50, maxDelay: 1_000 }) }), once)
    : once;

  return {
    async execute(fn, callOpts = {}) {
      const policy = callOpts.idempotent ? withRetries : once;
      try {
        return await policy.execute(({ signal }) => fn(signal));
      } catch (err) {
        throw toDependencyError(opts.name, opts.timeoutMs, err);
      }
    },
    breakerState() {
      if (!breaker) return 'closed';
      const state = states[breaker.state];
      // cockatiel turns an open circuit half-open only when a call arrives after
      // halfOpenAfter; a caller that checks before calling (to shed load) must see that the
      // next call would be the trial, or an open circuit would stay open for ever.
      if (state === 'open' && Date.now() - openedAt >= halfOpenAfterMs) return 'half-open';
      return state;
    },
  };
}

function toDependencyError(name: string, timeoutMs: number, err: unknown): unknown {
  if (err instanceof OrderflowError) return err;
  if (err instanceof BrokenCircuitError) return DependencyUnavailable(`${name} is unavailable (circuit open)`, { cause: err });
  if (err instanceof TaskCancelledError) return DependencyUnavailable(`${name} did not answer within ${timeoutMs} ms`, { cause: err });
  const reason = err instanceof Error ? ((err as NodeJS.ErrnoException).code ?? err.message) : String(err);
  return DependencyUnavailable(`${name} is unreachable (${reason})`, { cause: err });
}
