/**
 * The steady load of `orderflow chaos`: orders at a constant rate (the pacer's open model),
 * a seeded mix of good and declined cards, served and unserved countries, plentiful and
 * scarce products. Each order has its own Idempotency-Key and is retried with it, the way a
 * careful client does, while the system answers 5xx or not at all (a service killed and
 * restarting); it counts whether each order was accepted at the first attempt.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from './client.ts';
import type { PlacedOrder } from './invariants.ts';
import { errorKind, networkErrorKind } from './order-run.ts';
import { pace } from './pacer.ts';

export interface ChaosMix {
  productIds: string[];
  declineRatio: number;
  unservedRatio: number;
}

export interface PlannedOrder {
  key: string;
  body: {
    items: Array<{ productId: string; quantity: number }>;
    paymentMethod: 'card' | 'card-declined';
    shippingAddress: { country: string; city: string };
  };
}

/** The next order of the seeded mix: one or two lines of one to three units. */
export function planOrder(rnd: () => number, mix: ChaosMix, i: number): PlannedOrder {
  const items = new Map<string, number>();
  const lines = 1 + Math.floor(rnd() * 2);
  for (let l = 0; l < lines; l++) {
    const productId = mix.productIds[Math.floor(rnd() * mix.productIds.length)];
    items.set(productId, (items.get(productId) ?? 0) + 1 + Math.floor(rnd() * 3));
  }
  return {
    key: randomUUID(),
    body: {
      items: [...items].map(([productId, quantity]) => ({ productId, quantity })),
      paymentMethod: rnd() < mix.declineRatio ? 'card-declined' : 'card',
      shippingAddress: { country: rnd() < mix.unservedRatio ? 'XX' : 'DE', city: 'Berlin' },
    },
  };
}

export const placedOf = (plan: PlannedOrder, id: string): PlacedOrder => ({
  id,
  items: plan.body.items,
  paymentMethod: plan.body.paymentMethod,
  country: plan.body.shippingAddress.country,
  request: plan,
});

/**
 * Worth another try with the same key: nothing answered, a 5xx (a service down or its
 * breaker open), a 409 (an earlier attempt of this key still being processed) or the
 * catalog not yet known to orders. Any other 4xx is the system refusing a valid order.
 */
export function retryable(status: number, body: unknown): boolean {
  const code = (body as { error?: { code?: unknown } } | undefined)?.error?.code;
  return status === 0 || status >= 500 || status === 409 || status === 429 || (status === 422 && code === 'ORD_ERR_UNKNOWN_PRODUCT');
}

/** 100 ms, doubling, at most 1 s between two attempts of one order. */
export const backoffMs = (attempt: number): number => Math.min(1000, 100 * 2 ** (attempt - 1));

export interface ChaosLoadCounts {
  /** Orders the load tried to place (each once, whatever its retries). */
  attempted: number;
  accepted: number;
  acceptedFirstAttempt: number;
  /** Requests sent again after a failed attempt. */
  retries: number;
  /** Failed attempts by kind (http-503 PLT_ERR_..., network, timeout). */
  errors: Record<string, number>;
}

export interface ChaosLoad {
  /** Stops new orders and waits until every order in flight is accepted or gives up. */
  stop(): Promise<void>;
  counts(): ChaosLoadCounts;
  /** The accepted orders, with their request and key. */
  readonly placed: PlacedOrder[];
  /** Orders not accepted: out of retries, or refused with a 4xx (`refusal` says how). */
  readonly unaccepted: Array<{ plan: PlannedOrder; refusal?: string }>;
}

export function startChaosLoad(o: { client: Client; mix: ChaosMix; rate: number; rnd: () => number; retryForMs: number }): ChaosLoad {
  const counts: ChaosLoadCounts = { attempted: 0, accepted: 0, acceptedFirstAttempt: 0, retries: 0, errors: {} };
  const placed: PlacedOrder[] = [];
  const unaccepted: ChaosLoad['unaccepted'] = [];
  const inFlight = new Set<Promise<void>>();
  const abort = new AbortController();

  async function place(plan: PlannedOrder): Promise<void> {
    const giveUpAt = performance.now() + o.retryForMs;
    for (let attempt = 1; ; attempt++) {
      let status = 0;
      let body: unknown;
      let kind: string;
      try {
        ({ status, body } = await o.client.placeOrder(plan.body, plan.key));
        kind = errorKind(status, body);
      } catch (err) {
        kind = networkErrorKind(err);
      }
      const id = (body as { id?: unknown } | undefined)?.id;
      if ((status === 201 || status === 202) && typeof id === 'string') {
        counts.accepted++;
        if (attempt === 1) counts.acceptedFirstAttempt++;
        placed.push(placedOf(plan, id));
        return;
      }
      counts.errors[kind] = (counts.errors[kind] ?? 0) + 1;
      if (!retryable(status, body)) {
        unaccepted.push({ plan, refusal: `${status} ${JSON.stringify(body)}` });
        return;
      }
      if (performance.now() > giveUpAt) {
        unaccepted.push({ plan });
        return;
      }
      counts.retries++;
      await sleep(backoffMs(attempt));
    }
  }

  const send = () => {
    const plan = planOrder(o.rnd, o.mix, counts.attempted);
    counts.attempted++;
    const p = place(plan).finally(() => inFlight.delete(p));
    inFlight.add(p);
    return p;
  };
  // The pacer's overload never fires below its in-flight bound, far above what a chaos rate keeps waiting.
  const paced = pace({ rate: o.rate, seconds: Infinity, send, overload: () => undefined, signal: abort.signal });

  return {
    async stop() {
      abort.abort();
      await paced;
      while (inFlight.size > 0) await Promise.all([...inFlight]);
    },
    counts: () => ({ ...counts, errors: { ...counts.errors } }),
    placed,
    unaccepted,
  };
}
