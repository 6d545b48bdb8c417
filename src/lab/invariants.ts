/**
 * The invariants of DESIGN.md, checked from outside through the public API once the system
 * is quiet. Returns the list of violations (empty when all hold), so a caller can poll until
 * the compensations in flight have landed and then assert. The end-to-end tests and
 * `orderflow chaos` share them.
 */
import { defineError } from '#platform/errors.ts';
import type { Client, OrderDetails, Product } from './client.ts';

/** The public API answered what a check cannot read (not a violation: the check could not run). */
export const UnexpectedAnswer = defineError('PLT_ERR_LAB_UNEXPECTED_ANSWER', 500);
/** A wait for the system (waitFor) ran out of time. */
export const WaitTimedOut = defineError('PLT_ERR_LAB_WAIT_TIMED_OUT', 500);

export interface PlacedOrder {
  id: string;
  items: Array<{ productId: string; quantity: number }>;
  paymentMethod: string;
  country: string;
  /** The request and its Idempotency-Key, when placed by placeBurst: replayPlaced sends them again. */
  request?: { key: string; body: unknown };
}

export interface Expectation {
  /** Stock each product was created with. */
  initialStock: Map<string, number>;
  orders: PlacedOrder[];
}

export async function fetchAll<T>(ids: string[], fetch: (id: string) => Promise<T>, concurrency = 16): Promise<T[]> {
  const out: T[] = new Array(ids.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, ids.length) }, async () => {
      while (next < ids.length) {
        const i = next++;
        out[i] = await fetch(ids[i]);
      }
    }),
  );
  return out;
}

export async function checkInvariants(client: Client, exp: Expectation): Promise<string[]> {
  const problems: string[] = [];
  const details = await fetchAll(exp.orders.map((o) => o.id), async (id) => {
    const r = await client.details(id);
    if (r.status !== 200) throw UnexpectedAnswer(`details of ${id}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body as OrderDetails;
  });
  const confirmedUnits = new Map<string, number>();
  details.forEach((d, i) => {
    const placed = exp.orders[i];
    const { order, payment, shipment } = d;
    const tag = `order ${order.id} (${order.status}/${order.reason ?? '-'}, ${placed.paymentMethod}, ${placed.country})`;
    if (order.status !== 'CONFIRMED' && order.status !== 'CANCELLED') {
      problems.push(`${tag}: not terminal`);
      return;
    }
    if (order.status === 'CONFIRMED') {
      for (const item of placed.items) confirmedUnits.set(item.productId, (confirmedUnits.get(item.productId) ?? 0) + item.quantity);
      if (payment?.status !== 'CHARGED') problems.push(`${tag}: confirmed without a standing charge (payment ${JSON.stringify(payment)})`);
      if (shipment?.status !== 'SCHEDULED') problems.push(`${tag}: confirmed without a shipment (${JSON.stringify(shipment)})`);
      if (placed.paymentMethod !== 'card' || placed.country === 'XX') problems.push(`${tag}: should not have been confirmed`);
      return;
    }
    // CANCELLED
    switch (order.reason) {
      case 'OUT_OF_STOCK':
        if (payment !== null) problems.push(`${tag}: payment for an out-of-stock order (${JSON.stringify(payment)})`);
        if (shipment !== null && shipment.status === 'SCHEDULED') problems.push(`${tag}: shipment for an out-of-stock order`);
        break;
      case 'PAYMENT_DECLINED':
        if (payment !== null && payment.status !== 'DECLINED') problems.push(`${tag}: declined order has payment ${payment.status}`);
        if (placed.paymentMethod === 'card') problems.push(`${tag}: a good card was declined`);
        if (shipment !== null && shipment.status === 'SCHEDULED') problems.push(`${tag}: shipment for a declined order`);
        break;
      case 'SHIPPING_UNAVAILABLE':
        if (payment?.status !== 'REFUNDED') problems.push(`${tag}: expected a charge and a refund, payment is ${JSON.stringify(payment)}`);
        if (shipment !== null && shipment.status === 'SCHEDULED') problems.push(`${tag}: shipment scheduled for an unserved country`);
        if (placed.country !== 'XX') problems.push(`${tag}: a served country was refused`);
        break;
      case 'TIMEOUT':
        // Whatever was done before or after the deadline is undone: a late charge refunded,
        // no shipment (stock is checked below: only CONFIRMED orders consume it).
        if (payment !== null && payment.status === 'CHARGED') problems.push(`${tag}: a timed-out order keeps its charge`);
        if (shipment !== null && shipment.status === 'SCHEDULED') problems.push(`${tag}: shipment for a timed-out order`);
        break;
      default:
        problems.push(`${tag}: unknown reason`);
    }
  });
  const products = await client.products();
  if (products.status !== 200) throw UnexpectedAnswer(`products: ${products.status} ${JSON.stringify(products.body)}`);
  const byId = new Map((products.body as Product[]).map((p) => [p.id, p]));
  for (const [productId, initial] of exp.initialStock) {
    const p = byId.get(productId);
    if (!p) {
      problems.push(`product ${productId} missing`);
      continue;
    }
    const expected = initial - (confirmedUnits.get(productId) ?? 0);
    if (p.available !== expected) problems.push(`product ${p.sku}: available ${p.available}, expected ${initial} − ${confirmedUnits.get(productId) ?? 0} = ${expected}`);
    if (p.available < 0) problems.push(`product ${p.sku}: oversold (${p.available})`);
  }
  return problems;
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw WaitTimedOut(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`, { cause: last });
}

/**
 * Polls the invariants until they hold or `timeoutMs` passes (compensations may still be in
 * flight when the last status turns) and returns the last problems found, empty when all hold.
 */
export async function settledInvariants(client: Client, exp: Expectation, timeoutMs = 30_000): Promise<string[]> {
  let problems: string[] = [];
  await waitFor('the invariants to hold', async () => {
    problems = await checkInvariants(client, exp);
    return problems.length === 0 ? true : undefined;
  }, timeoutMs, 500).catch(() => undefined);
  return problems;
}
