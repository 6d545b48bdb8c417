/**
 * One upstream service run as several instances (ORDERS_URL=http://a,http://b): an Upstream
 * over one pool and breaker per instance, that sends each call to the instance with the
 * fewest calls in flight (round-robin among equals), skips an instance whose breaker is
 * open, and tries the call again on another instance when the one it went to could not
 * answer (refused, reset, timed out, or a 502/503/504 of its own).
 *
 * The per-instance breaker is this module's own, not cockatiel's: an open one only moves its
 * instance to the back of the line, it never refuses a call outright. When every instance
 * failed or is open, the call still goes to the open ones: one instance back from a restart
 * while the other is killed must be used, not refused because its breaker has not yet seen
 * it come back (it happened: a read failed with "circuit open" on both).
 *
 * Which calls are tried again elsewhere:
 * - GET, HEAD, PUT, DELETE: always (idempotent by RFC 9110 §9.2.2, and so are the services'
 *   PUT and DELETE routes, keyed by the order id);
 * - POST with an Idempotency-Key: always, timeouts and resets included. The receiver claims
 *   the key in the transaction that makes the order (orders/place-order.ts), and every
 *   instance shares that database: a second attempt either makes the order the first did
 *   not, or answers with the one the first made. That holds for POST /orders only: the key
 *   is what makes it safe, not the instance;
 * - any other POST only when it cannot have reached the instance: the connection was refused
 *   (nothing listening: the instance is down) or its breaker was open (never sent). A reset
 *   or a timeout may come after the instance read and acted on it, so it is not repeated.
 *
 * An instance shutting down drains (platform/http/drain.ts): it refuses new connections
 * (tried elsewhere, as above) and answers what arrives on the open ones with
 * `x-orderflow-draining`; such an answer is a good one, and opens that instance's breaker at
 * once, so the next calls go to the others without first failing on it.
 *
 * With one URL this is the plain single-instance upstream (upstream.ts), retries and all.
 */
import { BrokenCircuitError } from 'cockatiel';
import { setTimeout as sleep } from 'node:timers/promises';
import { createUpstream, isUnavailableAnswer, type Upstream, type UpstreamOptions, type UpstreamRequest, type UpstreamResponse } from './upstream.ts';
import type { BreakerState } from './http-policy.ts';
import { drainingHeader } from '../http/drain.ts';

/** One instance as its callers see it: where it is and whether its breaker is open. */
export type InstanceView = Pick<Upstream, 'name' | 'url' | 'breakerState'>;

export interface BalancedUpstreamOptions extends Omit<UpstreamOptions, 'url'> {
  /** Origins of the instances, e.g. ['http://127.0.0.1:8081', 'http://127.0.0.1:8181']. */
  urls: readonly string[];
}

/** An Upstream over several instances; `instances` are each instance's state (its breaker, for /metrics). */
export interface BalancedUpstream extends Upstream {
  readonly instances: readonly InstanceView[];
}

const idempotentMethods = new Set<UpstreamRequest['method']>(['GET', 'HEAD', 'PUT', 'DELETE']);
// Errors that mean the request never left: nothing listened, or the breaker kept it home.
const notSentCodes = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'EHOSTUNREACH', 'ENETUNREACH']);

/** True when the failure shows the request never reached the instance (so even a POST may go elsewhere). */
export function neverSent(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof BrokenCircuitError) return true;
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== undefined && notSentCodes.has(code)) return true;
    if (e instanceof AggregateError && e.errors.some(neverSent)) return true;
  }
  return false;
}

export function createBalancedUpstream(opts: BalancedUpstreamOptions): BalancedUpstream {
  if (opts.urls.length === 0) throw new TypeError(`${opts.name}: no instance URL`);
  if (opts.urls.length === 1) {
    const only = createUpstream({ ...opts, url: opts.urls[0] });
    return Object.assign(only, { instances: [only] as const });
  }
  // Retries go to the other instances, not again to the same one: each instance's policy
  // makes one attempt under its timeout, and the breaker is the one below.
  const upstreams = opts.urls.map((url) => createUpstream({ ...opts, url, name: `${opts.name} (${new URL(url).host})`, retries: 0, breaker: false }));
  const inFlight = upstreams.map(() => 0);
  const threshold = opts.breaker === false ? Infinity : (opts.breaker?.consecutiveFailures ?? 3);
  const openForMs = opts.breaker === false ? 0 : (opts.breaker?.halfOpenAfterMs ?? 1_000);
  const failures = upstreams.map(() => 0);
  const openUntil = upstreams.map(() => 0);
  const stateOf = (i: number): BreakerState => (failures[i] < threshold ? 'closed' : Date.now() < openUntil[i] ? 'open' : 'half-open');
  const failed = (i: number) => {
    if (++failures[i] >= threshold) openUntil[i] = Date.now() + openForMs;
  };
  const draining = (i: number) => {
    failures[i] = Math.max(failures[i], threshold);
    openUntil[i] = Date.now() + openForMs;
  };
  const succeeded = (i: number) => {
    failures[i] = 0;
    openUntil[i] = 0;
  };
  const instances: InstanceView[] = upstreams.map((u, i) => ({ name: u.name, url: u.url, breakerState: () => stateOf(i) }));
  const extraRounds = opts.retries ?? 2;
  let next = 0;

  // The instances in the order to try them: fewest in flight first, round-robin among
  // equals, an open breaker last (tried only when every other one failed too).
  function order(): number[] {
    const start = next++ % upstreams.length;
    const rotated = upstreams.map((_, i) => (start + i) % upstreams.length);
    const open = (i: number) => (stateOf(i) === 'open' ? 1 : 0);
    return rotated.sort((a, b) => open(a) - open(b) || inFlight[a] - inFlight[b]);
  }

  async function request(req: UpstreamRequest): Promise<UpstreamResponse> {
    const keyed = req.method === 'POST' && req.headers !== undefined && Object.keys(req.headers).some((h) => h.toLowerCase() === 'idempotency-key');
    const repeatable = idempotentMethods.has(req.method) || keyed;
    const tries = order();
    // Every instance once; for a repeatable call, a few more rounds with a short backoff
    // (a lone instance restarting is back within a second or two).
    const attempts = repeatable ? tries.length * (1 + extraRounds) : tries.length;
    let lastError: unknown;
    let lastAnswer: UpstreamResponse | undefined;
    for (let n = 0; n < attempts; n++) {
      if (req.signal?.aborted) break;
      if (n >= tries.length && n % tries.length === 0) await sleep(50 * 2 ** (n / tries.length - 1), undefined, { signal: req.signal }).catch(() => undefined);
      const i = tries[n % tries.length];
      inFlight[i]++;
      try {
        const answer = await upstreams[i].request(req);
        if (!isUnavailableAnswer(answer)) {
          if (answer.headers[drainingHeader] === undefined) succeeded(i);
          else draining(i);
          return answer;
        }
        failed(i);
        if (!repeatable) return answer;
        lastAnswer = answer;
      } catch (err) {
        // A caller's own abort says nothing of the instance.
        if (!req.signal?.aborted) failed(i);
        lastError = err;
        if (!repeatable && !neverSent(err)) throw err;
      } finally {
        inFlight[i]--;
      }
    }
    if (lastAnswer) return lastAnswer;
    throw lastError;
  }

  return {
    name: opts.name,
    url: opts.urls.join(','),
    instances,
    request,
    // For health: the service is up when any instance is ready.
    async probe(path, timeoutMs) {
      let last: UpstreamResponse | undefined;
      let lastError: unknown;
      for (const i of order()) {
        try {
          last = await upstreams[i].probe(path, timeoutMs);
          if (last.statusCode === 200) return last;
        } catch (err) {
          lastError = err;
        }
      }
      if (last) return last;
      throw lastError;
    },
    // The service's circuit is open only when every instance's is: calls still go somewhere.
    breakerState(): BreakerState {
      const states = upstreams.map((_, i) => stateOf(i));
      if (states.includes('closed')) return 'closed';
      if (states.includes('half-open')) return 'half-open';
      return states[0];
    },
    async close() {
      await Promise.allSettled(upstreams.map((u) => u.close()));
    },
  };
}

/**
 * The breakers to show on /metrics (orderflow_circuit_state{upstream}): the service's, and
 * with several instances each instance's too (upstream="orders (127.0.0.1:8181)").
 */
export function breakersOf(upstream: Upstream): InstanceView[] {
  const instances = (upstream as Partial<BalancedUpstream>).instances ?? [];
  return instances.length > 1 ? [upstream, ...instances] : [upstream];
}
