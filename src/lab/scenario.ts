/**
 * Drives the system from outside: a catalog, a burst of concurrent orders with declined
 * cards and unserved countries mixed in, and the wait for every order to settle.
 */
import { randomUUID } from 'node:crypto';
import type { Client, OrderView } from './client.ts';
import { fetchAll, UnexpectedAnswer, waitFor, type Expectation, type PlacedOrder } from './invariants.ts';

/** A seeded generator, so a failing run can be replayed. */
export function random(seed: number) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

export async function createCatalog(client: Client, count: number, stock: number): Promise<Map<string, number>> {
  const initial = new Map<string, number>();
  const run = randomUUID().slice(0, 8);
  for (let i = 0; i < count; i++) {
    const r = await client.createProduct({ sku: `E2E-${run}-${i}`, name: `Test product ${i}`, priceCents: 1000 + i * 250, stock });
    if (r.status !== 201) throw UnexpectedAnswer(`create product: ${r.status} ${JSON.stringify(r.body)}`);
    initial.set(r.body.id, stock);
  }
  return initial;
}

export interface BurstOptions {
  count: number;
  concurrency: number;
  declineRatio: number;
  unservedRatio: number;
  seed?: number;
  /** Pause between the starts of two orders of one worker, to spread the burst over time. */
  paceMs?: number;
  /** How long one order may keep being retried (catalog not yet known, service restarting). */
  retryForMs?: number;
}

/**
 * Places orders the way a careful client does: each with its own Idempotency-Key, retried
 * with the same key while the answer is 422 unknown product (the orders service learns the
 * catalog asynchronously) or the system is unavailable (a service restarting).
 */
export async function placeBurst(client: Client, productIds: string[], opts: BurstOptions): Promise<{ placed: PlacedOrder[]; retries: number }> {
  const rnd = random(opts.seed ?? 42);
  const plans = Array.from({ length: opts.count }, (_, i) => {
    const lines = 1 + Math.floor(rnd() * 2);
    const items = new Map<string, number>();
    for (let l = 0; l < lines; l++) {
      const productId = productIds[Math.floor(rnd() * productIds.length)];
      items.set(productId, (items.get(productId) ?? 0) + 1 + Math.floor(rnd() * 3));
    }
    const x = rnd();
    const paymentMethod = x < opts.declineRatio ? 'card-declined' : 'card';
    const country = rnd() < opts.unservedRatio ? 'XX' : 'DE';
    return {
      key: randomUUID(),
      body: {
        items: [...items].map(([productId, quantity]) => ({ productId, quantity })),
        paymentMethod,
        shippingAddress: { country, city: 'Berlin' },
      },
    };
  });
  const placed: PlacedOrder[] = [];
  let retries = 0;
  let next = 0;
  const retryForMs = opts.retryForMs ?? 60_000;
  await Promise.all(
    Array.from({ length: opts.concurrency }, async () => {
      while (next < plans.length) {
        const plan = plans[next++];
        const deadline = Date.now() + retryForMs;
        for (;;) {
          let status = 0;
          let body: any;
          try {
            ({ status, body } = await client.placeOrder(plan.body, plan.key));
          } catch (err) {
            body = String(err);
          }
          if (status === 202 || status === 201) {
            placed.push({ id: body.id, items: plan.body.items, paymentMethod: plan.body.paymentMethod, country: plan.body.shippingAddress.country, request: plan });
            break;
          }
          const retryable = status === 0 || status >= 500 || (status === 422 && body?.error?.code === 'ORD_ERR_UNKNOWN_PRODUCT');
          if (!retryable || Date.now() > deadline) throw UnexpectedAnswer(`order not accepted: ${status} ${JSON.stringify(body)}`);
          retries++;
          await new Promise((r) => setTimeout(r, 100));
        }
        if (opts.paceMs) await new Promise((r) => setTimeout(r, opts.paceMs));
      }
    }),
  );
  return { placed, retries };
}

/**
 * Sends every placed request again with its Idempotency-Key, as a client does whose answer was
 * lost: each must name the order the client was given. Returns what did not, one line each.
 * Ids alone cannot tell that a request made two orders (a retry across a crash that did not
 * find the first one's key): the client only ever hears of one of them; its replay can.
 */
export async function replayPlaced(client: Client, placed: PlacedOrder[]): Promise<string[]> {
  const answers = await fetchAll(placed.map((_, i) => String(i)), async (i) => {
    const order = placed[Number(i)];
    if (!order.request) return `order ${order.id}: placed without a recorded request`;
    const { status, body } = await client.placeOrder(order.request.body, order.request.key);
    if (status !== 201 && status !== 202) return `order ${order.id}: its replay answered ${status} ${JSON.stringify(body)}`;
    return body.id === order.id ? undefined : `order ${order.id}: its replay names order ${body.id}`;
  });
  return answers.filter((a): a is string => a !== undefined);
}

/** Waits until every order is CONFIRMED or CANCELLED; returns their views. */
export async function waitAllTerminal(client: Client, orders: PlacedOrder[], timeoutMs: number): Promise<OrderView[]> {
  return waitFor(
    'every order to reach a terminal status',
    async () => {
      const views = await fetchAll(orders.map((o) => o.id), async (id) => {
        const r = await client.order(id);
        if (r.status !== 200) throw UnexpectedAnswer(`GET order ${id}: ${r.status} ${JSON.stringify(r.body)}`);
        return r.body;
      });
      const pending = views.filter((v) => v.status === 'PENDING');
      return pending.length === 0 ? views : undefined;
    },
    timeoutMs,
    250,
  );
}

export function expectation(initialStock: Map<string, number>, orders: PlacedOrder[]): Expectation {
  return { initialStock, orders };
}
