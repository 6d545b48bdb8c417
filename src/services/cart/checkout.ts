/**
 * Checkout: the cart's current version becomes an order, once.
 *
 * The order is placed through orders' own API (POST /orders), not a command message: the
 * order exists when the customer gets the answer (the next GET /api/orders/:id finds it),
 * orders keeps its admission checks (an unknown product, a full saga backlog) and they reach
 * the caller as they are, and it works the same in the three architectures. The call carries
 * `Idempotency-Key: cart:<cartId>:<version>`: orders claims the key in the transaction that
 * makes the order, so every attempt for one cart version (a retry, a second instance, a
 * cart that crashed between the order and emptying) gets the same order. The cart then
 * records the order and empties in one transaction, with CartCheckedOut in its outbox.
 *
 * A client's own Idempotency-Key is honoured too: its answer is kept (checkout_keys) and
 * replayed; the same key with another body is a 422, as at orders.
 */
import { createHash } from 'node:crypto';
import { CartCheckedOut, message } from '#contracts/index.ts';
import { appendToOutbox } from '#platform/bus/outbox.ts';
import type { BatchWriter } from '#platform/db/batch-writer.ts';
import type { Db } from '#platform/db/db.ts';
import { DependencyUnavailable, OrderflowError } from '#platform/errors.ts';
import type { Upstream, UpstreamResponse } from '#platform/resilience/upstream.ts';
import { eventLines, orderKeyOf, priceLines } from './domain/cart.ts';
import { EmptyCart, IdempotencyKeyReused, OrdersFailed } from './errors.ts';
import { findCheckoutKey, getCart, getCheckout, getLines, keepCheckoutKey, recordCheckout, type CheckoutAnswer, type KeptAnswer } from './store.ts';

export interface CheckoutDeps {
  db: Db;
  write: BatchWriter;
  clock: { now(): Date };
  orders: Upstream;
  /** Whether the catalog copy counts stock (not in rest: see domain/cart.ts available()). */
  stockCounted: boolean;
  idempotencyTtlMs: number;
}

export interface CheckoutRequest {
  paymentMethod: string;
  shippingAddress: { country: string; [field: string]: unknown };
}

/** JSON with object keys sorted, so that the same body always hashes the same. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

const requestHash = (body: CheckoutRequest): string => createHash('sha256').update(canonical(body)).digest('base64url');

function replay(prior: KeptAnswer, hash: string, key: string): CheckoutAnswer {
  if (prior.requestHash !== hash) throw IdempotencyKeyReused(`Idempotency-Key ${JSON.stringify(key)} was used for a different checkout`, { details: { orderId: prior.orderId } });
  const { requestHash: _, ...answer } = prior;
  return answer;
}

export async function checkout(deps: CheckoutDeps, customerId: string, body: CheckoutRequest, clientKey?: string): Promise<CheckoutAnswer> {
  const { db } = deps;
  const hash = requestHash(body);
  const notBefore = new Date(deps.clock.now().getTime() - deps.idempotencyTtlMs).toISOString();
  if (clientKey !== undefined) {
    const prior = await findCheckoutKey(db, customerId, clientKey, notBefore);
    if (prior) return replay(prior, hash, clientKey);
  }
  const cart = await getCart(db, customerId);
  const lines = cart ? await getLines(db, cart.cartId, deps.stockCounted) : [];
  if (!cart || lines.length === 0) throw EmptyCart('the cart is empty: put something in it first');
  const priced = priceLines(lines);
  const placed = await placeOrder(deps.orders, orderKeyOf(cart.cartId, cart.version), {
    customerId,
    items: lines.map((l) => ({ productId: l.productId, quantity: l.quantity })),
    ...body,
  });

  const at = deps.clock.now().toISOString();
  const { answer, keyTaken } = await deps.write(async (tx) => {
    let answer = placed;
    if (await recordCheckout(tx, cart.cartId, cart.version, placed, at)) {
      const payload = { cartId: cart.cartId, customerId, version: cart.version, orderId: placed.orderId, lines: eventLines(priced.lines), totalCents: priced.totalCents };
      await appendToOutbox(tx, [message(CartCheckedOut, { payload, occurredAt: at })]);
    } else {
      // Recorded by a request that raced this one: its answer stands (the same order).
      answer = (await getCheckout(tx, cart.cartId, cart.version)) ?? placed;
    }
    const keyTaken = clientKey !== undefined && !(await keepCheckoutKey(tx, customerId, clientKey, hash, answer, at, notBefore));
    return { answer, keyTaken };
  });
  if (!keyTaken) return answer;
  // A request with the same key won the race: its answer is the key's (or a 422 for another body).
  const winner = await findCheckoutKey(db, customerId, clientKey as string, notBefore);
  return winner ? replay(winner, hash, clientKey as string) : answer;
}

interface OrdersError { code?: unknown; message?: unknown; details?: { orderId?: unknown } }

function parse(res: UpstreamResponse): Record<string, any> | undefined {
  try {
    return JSON.parse(res.body.toString('utf8'));
  } catch {
    return undefined;
  }
}

/**
 * POST /orders under the cart version's key, read as an order placed, or as orders' refusal
 * (passed on with its code and status), or as orders being away (503).
 */
async function placeOrder(orders: Upstream, key: string, body: Record<string, unknown>): Promise<CheckoutAnswer> {
  const res = await orders.request({ method: 'POST', path: '/orders', headers: { 'content-type': 'application/json', 'idempotency-key': key }, body: JSON.stringify(body) });
  const parsed = parse(res);
  if ((res.statusCode === 201 || res.statusCode === 202) && typeof parsed?.id === 'string') {
    return parsed.reason ? { orderId: parsed.id, status: parsed.status, reason: parsed.reason } : { orderId: parsed.id, status: parsed.status };
  }
  const error = (parsed?.error ?? {}) as OrdersError;
  const orderId = typeof error.details?.orderId === 'string' ? error.details.orderId : undefined;
  // The version was ordered before with another payment or address (an earlier attempt whose
  // answer was lost): that order is this cart version's.
  if (error.code === 'ORD_ERR_IDEMPOTENCY_KEY_REUSED' && orderId) return { orderId, status: await statusOf(orders, orderId) };
  // rest: the order is accepted but its saga not finished (orders' recovery finishes it).
  if (res.statusCode >= 500 && orderId) return { orderId, status: 'PENDING' };
  const code = typeof error.code === 'string' ? error.code : undefined;
  const text = typeof error.message === 'string' ? error.message : `orders answered ${res.statusCode}`;
  if (res.statusCode >= 400 && res.statusCode < 500 && code) throw new OrderflowError(code, text, { statusCode: res.statusCode });
  if (res.statusCode === 503) throw new OrderflowError(code ?? DependencyUnavailable.code, `orders cannot take the order now (${text}); the cart is unchanged, retry later`, { statusCode: 503 });
  throw OrdersFailed(`orders answered ${res.statusCode} to a checkout; the cart is unchanged`);
}

async function statusOf(orders: Upstream, orderId: string): Promise<string> {
  const res = await orders.request({ method: 'GET', path: `/orders/${orderId}` }).catch(() => undefined);
  const status = res?.statusCode === 200 ? parse(res)?.status : undefined;
  return typeof status === 'string' ? status : 'PENDING';
}
