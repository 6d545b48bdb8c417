/**
 * The orders of one step or fault scenario: sends them (the pacer's `send`), classifies
 * answers, follows each accepted order to its terminal status, and keeps the counts both
 * in total and per second. Latency always counts from the order's due time.
 *
 * An order is complete when its status is terminal: on events and choreography the answer
 * is 202 PENDING and the terminal event shows up on orders.events (the tracker); on rest
 * the 201 answer carries the final status. Orders the tracker has not seen by the end are
 * looked up with GET /api/orders/:id.
 */
import type { Architecture } from './lab-result.ts';
import type { Client } from './client.ts';
import { createLatencyHistogram, type LatencyHistogram } from './histogram.ts';
import { nextOrder, viewsBefore, type CompletionTracker, type OrderMix } from './load.ts';

export interface Second {
  offered: number;
  accepted: number;
  completed: number;
  errors: number;
  completion: LatencyHistogram;
}

export interface Totals {
  offered: number;
  accepted: number;
  completed: number;
  /** Requests answered with an error, or never answered (timeout, network, client-overload). */
  failed: number;
  errors: Record<string, number>;
  inFlight: number;
  /** Accepted, not yet seen terminal. */
  pending: number;
  /** Completed as CANCELLED(TIMEOUT): a saga step outlived its deadline. */
  timedOut: number;
  /** Browsing before the orders (mix.viewsPerOrder): views the log took, and batches that failed. Not counted in the orders' figures. */
  views: { accepted: number; failedBatches: number };
}

export interface OrderRun {
  send(due: number): Promise<void>;
  overload(due: number): void;
  totals(): Totals;
  readonly http: LatencyHistogram;
  readonly completion: LatencyHistogram;
  /** Per second since `origin`, by the time things happened (due time for offered). */
  readonly seconds: Second[];
  /**
   * Waits for answers in flight, then for pending orders to complete, until `timeoutMs`;
   * pending orders are polled every second when there is no tracker, and once at the end
   * otherwise. Returns when the last order completed (performance.now()), or null if none did.
   */
  drain(timeoutMs: number, signal?: AbortSignal): Promise<number | null>;
}

const terminal = new Set(['CONFIRMED', 'CANCELLED']);
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT', 'ETIMEDOUT']);

export function errorKind(status: number, body: unknown): string {
  const code = (body as { error?: { code?: unknown } } | undefined)?.error?.code;
  return status >= 500 && typeof code === 'string' ? `http-${status} ${code}` : `http-${status}`;
}

export function networkErrorKind(err: unknown): string {
  const e = err as { code?: string; cause?: { code?: string } };
  return TIMEOUT_CODES.has(e?.code ?? '') || TIMEOUT_CODES.has(e?.cause?.code ?? '') ? 'timeout' : 'network';
}

/** The id of an order the system accepted before the request failed (a REST saga that gave up midway). */
function acceptedIdOf(body: unknown): string | undefined {
  const id = (body as { error?: { details?: { orderId?: unknown } } } | undefined)?.error?.details?.orderId;
  return typeof id === 'string' ? id : undefined;
}

export function createOrderRun(o: { arch: Architecture; client: Client; tracker: CompletionTracker | null; mix: OrderMix; origin: number }): OrderRun {
  const http = createLatencyHistogram();
  const completion = createLatencyHistogram();
  const seconds: Second[] = [];
  const totals: Totals = { offered: 0, accepted: 0, completed: 0, failed: 0, errors: {}, inFlight: 0, pending: 0, timedOut: 0, views: { accepted: 0, failedBatches: 0 } };
  // Accepted orders not yet terminal; `measured` is false where the completion time is unknown.
  const pending = new Map<string, { due: number; measured: boolean }>();
  let lastCompletion: number | null = null;

  const second = (t: number): Second => {
    const i = Math.max(0, Math.floor((t - o.origin) / 1000));
    while (seconds.length <= i) seconds.push({ offered: 0, accepted: 0, completed: 0, errors: 0, completion: createLatencyHistogram() });
    return seconds[i];
  };
  const fail = (kind: string, t: number) => {
    totals.failed++;
    totals.errors[kind] = (totals.errors[kind] ?? 0) + 1;
    second(t).errors++;
  };
  const complete = (id: string, at: number, reason?: string) => {
    const p = pending.get(id);
    if (!p) return;
    pending.delete(id);
    totals.completed++;
    if (reason === 'TIMEOUT') totals.timedOut++;
    const s = second(at);
    s.completed++;
    if (p.measured) {
      completion.record(at - p.due);
      s.completion.record(at - p.due);
    }
    lastCompletion = lastCompletion === null ? at : Math.max(lastCompletion, at);
  };
  const accept = (id: string, due: number, at: number, measured: boolean) => {
    if (pending.has(id)) return;
    totals.accepted++;
    second(at).accepted++;
    pending.set(id, { due, measured });
  };

  async function send(due: number): Promise<void> {
    totals.offered++;
    second(due).offered++;
    totals.inFlight++;
    const order = nextOrder(o.mix);
    const views = viewsBefore(order, o.mix, new Date());
    // The shopper's views go out with the order, not before it: the order's latency is its
    // own, and analytics joins by event time, whichever reaches the log first.
    if (views.length > 0) void browse(views);
    let r;
    try {
      r = await o.client.placeOrder(order);
    } catch (err) {
      fail(networkErrorKind(err), performance.now());
      return;
    } finally {
      totals.inFlight--;
    }
    const at = performance.now();
    http.record(at - due);
    const body = r.body as { id?: string; status?: string; reason?: string } | undefined;
    if ((r.status === 201 || r.status === 202) && typeof body?.id === 'string') {
      accept(body.id, due, at, true);
      if (terminal.has(body.status ?? '')) complete(body.id, at, body.reason);
      else if (o.tracker) {
        const id = body.id;
        const tracker = o.tracker;
        tracker.wait(id).then((t) => complete(id, Math.max(t, at), tracker.reason(id)));
      }
      return;
    }
    fail(errorKind(r.status, r.body), at);
    const id = acceptedIdOf(r.body);
    // Counted as failed and as accepted: orders' recovery still owes it a terminal status.
    if (id) accept(id, due, at, false);
  }

  async function browse(events: Array<Record<string, unknown>>): Promise<void> {
    try {
      const r = await o.client.call('POST', '/api/events', { events });
      if (r.status === 202) totals.views.accepted += (r.body as { accepted: number }).accepted;
      else totals.views.failedBatches++;
    } catch {
      totals.views.failedBatches++;
    }
  }

  async function poll(ids: string[]): Promise<void> {
    const queue = [...ids];
    await Promise.all(Array.from({ length: Math.min(32, queue.length) }, async () => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
        try {
          const r = await o.client.order(id);
          if (r.status === 200 && terminal.has(r.body.status)) complete(id, performance.now(), r.body.reason);
        } catch {
          // still unknown: it stays pending
        }
      }
    }));
  }

  async function drain(timeoutMs: number, signal?: AbortSignal): Promise<number | null> {
    const until = performance.now() + timeoutMs;
    let polled = 0;
    while (performance.now() < until && !signal?.aborted && (totals.inFlight > 0 || pending.size > 0)) {
      await new Promise((r) => setTimeout(r, 100));
      if (!o.tracker && pending.size > 0 && performance.now() - polled >= 1000) {
        polled = performance.now();
        await poll([...pending.keys()]);
      }
    }
    // The tracker may only be slow; the order service has the truth. Bounded so a drowned step ends.
    if (pending.size > 0) await poll([...pending.keys()].slice(0, 5000));
    return lastCompletion;
  }

  return {
    send,
    overload: (due) => {
      totals.offered++;
      second(due).offered++;
      fail('client-overload', due);
    },
    totals: () => ({ ...totals, errors: { ...totals.errors }, views: { ...totals.views }, pending: pending.size }),
    http,
    completion,
    seconds,
    drain,
  };
}
