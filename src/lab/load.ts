/**
 * Load against the public API, and completion tracking on the bus.
 *
 * Completion is seen where it happens: the bench reads the orders.events topic in a group
 * of its own, and an order is complete when its OrderConfirmed or OrderCancelled event is
 * on the bus. Polling GET /api/orders would add load and blur the latency.
 */
import { randomUUID } from 'node:crypto';
import type { Bus } from '#platform/bus/bus.ts';
import { decode } from '#platform/bus/envelope.ts';
import type { Client } from './client.ts';

export interface CompletionTracker {
  /** Resolves with the completion time (performance.now()) of an order. */
  wait(orderId: string): Promise<number>;
  completed(): number;
  /** Why a completed order was cancelled (its OrderCancelled's reason); undefined otherwise. */
  reason(orderId: string): string | undefined;
  close(): Promise<void>;
}

const terminal = new Set(['OrderConfirmed', 'OrderCancelled']);

export async function trackCompletions(bus: Bus, topic: string): Promise<CompletionTracker> {
  const done = new Map<string, number>();
  // Only the cancellations are decoded, for their reason (the lab reports saga timeouts).
  const reasons = new Map<string, string>();
  const waiters = new Map<string, (t: number) => void>();
  let count = 0;
  const sub = await bus.subscribe({
    groupId: `bench-${randomUUID()}`,
    topics: [topic],
    async handle(batch) {
      const now = performance.now();
      for (const r of batch) {
        if (!terminal.has(r.headers.type)) continue;
        const orderId = r.key;
        if (done.has(orderId)) continue;
        done.set(orderId, now);
        count++;
        if (r.headers.type === 'OrderCancelled') {
          const reason = (decode(r).payload as { reason?: unknown }).reason;
          if (typeof reason === 'string') reasons.set(orderId, reason);
        }
        const w = waiters.get(orderId);
        if (w) {
          waiters.delete(orderId);
          w(now);
        }
      }
    },
  });
  return {
    wait(orderId) {
      const t = done.get(orderId);
      if (t !== undefined) return Promise.resolve(t);
      return new Promise((resolve) => waiters.set(orderId, resolve));
    },
    completed: () => count,
    reason: (orderId) => reasons.get(orderId),
    close: () => sub.close(),
  };
}

export interface OrderMix {
  productIds: string[];
  declineRatio: number;
  unservedRatio: number;
  /**
   * Products a shopper views before each order (POST /api/events, the ordered one among
   * them), so analytics has browsing to join with orders; 0 sends orders alone.
   */
  viewsPerOrder?: number;
}

let visit = 0;
/** The views of one shopper's visit before `order`: the ordered products first, then others of the catalog. */
export function viewsBefore(order: ReturnType<typeof nextOrder>, mix: OrderMix, at: Date): Array<Record<string, unknown>> {
  const n = mix.viewsPerOrder ?? 0;
  if (n <= 0) return [];
  const v = visit++;
  const sessionId = `lab-visit-${v}`;
  const ordered = order.items.map((i) => i.productId);
  const others = mix.productIds.filter((id) => !ordered.includes(id));
  const products = [...ordered, ...Array.from({ length: Math.max(0, n - ordered.length) }, (_, i) => others[(v * 31 + i) % Math.max(1, others.length)])].slice(0, n);
  return products.filter(Boolean).map((productId) => ({ type: 'product.viewed', sessionId, productId, at: at.toISOString() }));
}

let seq = 0;
export function nextOrder(mix: OrderMix) {
  const i = seq++;
  return {
    items: [{ productId: mix.productIds[i % mix.productIds.length], quantity: 1 + (i % 3) }],
    paymentMethod: (i * 7919) % 100 < mix.declineRatio * 100 ? 'card-declined' : 'card',
    shippingAddress: { country: (i * 104729) % 100 < mix.unservedRatio * 100 ? 'XX' : 'DE', city: 'Berlin' },
  };
}

export interface RunResult {
  offered: number;
  accepted: number;
  completed: number;
  errors: Record<string, number>;
  seconds: number;
  /** ms from the intended send time to the HTTP answer. */
  accept: number[];
  /** ms from the intended send time to the terminal event on the bus. */
  completion: number[];
}

/**
 * Open model: orders are sent at a constant rate whether or not earlier ones answered, and
 * latency counts from the time a request was due, not when it went out, so a stalled system
 * cannot hide its stall (coordinated omission).
 */
export async function runOpen(client: Client, tracker: CompletionTracker, mix: OrderMix, rate: number, seconds: number, drainMs = 30_000): Promise<RunResult> {
  const total = Math.round(rate * seconds);
  const res: RunResult = { offered: total, accepted: 0, completed: 0, errors: {}, seconds, accept: [], completion: [] };
  const inflight: Promise<void>[] = [];
  const start = performance.now();
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    inflight.push(sendOne(client, tracker, mix, due, res));
  }
  await withTimeout(Promise.all(inflight), (seconds * 1000) + drainMs);
  return res;
}

/** Closed model at saturation: `concurrency` clients, each placing its next order once the last one completed. */
export async function runClosed(client: Client, tracker: CompletionTracker, mix: OrderMix, concurrency: number, seconds: number): Promise<RunResult> {
  const res: RunResult = { offered: 0, accepted: 0, completed: 0, errors: {}, seconds, accept: [], completion: [] };
  const end = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        res.offered++;
        await sendOne(client, tracker, mix, performance.now(), res);
      }
    }),
  );
  res.seconds = seconds;
  return res;
}

async function sendOne(client: Client, tracker: CompletionTracker, mix: OrderMix, due: number, res: RunResult): Promise<void> {
  let r;
  try {
    r = await client.placeOrder(nextOrder(mix));
  } catch (err) {
    const kind = (err as { code?: string }).code ?? 'network';
    res.errors[kind] = (res.errors[kind] ?? 0) + 1;
    return;
  }
  const answered = performance.now();
  if (r.status !== 202 && r.status !== 201) {
    const kind = `http-${r.status}`;
    res.errors[kind] = (res.errors[kind] ?? 0) + 1;
    return;
  }
  res.accepted++;
  res.accept.push(answered - due);
  const completedAt = await tracker.wait(r.body.id);
  res.completed++;
  res.completion.push(completedAt - due);
}

async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ms)));
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
