// Accepting an order (POST /orders): price it from the local catalog, then in one
// transaction claim the idempotency key (the customer's own, for 24 h), start the order's stream, write its view row and
// queue OrderPlaced + ReserveStock in the outbox (OrderPlaced alone in the choreography;
// nothing in rest, whose saga is driven by calls inside the request: rest/drive.ts).
import { createHash } from 'node:crypto';
import { message } from '#contracts/index.ts';
import { appendToOutbox } from '#platform/bus/outbox.ts';
import type { Architecture } from '#platform/config.ts';
import type { Db } from '#platform/db/db.ts';
import { ConcurrencyConflict, defineError } from '#platform/errors.ts';
import { initialState, type OrderState, type OrderStatus, type ShippingAddress } from './domain/order.ts';
import { priceItems, type RequestedLine } from './domain/pricing.ts';
import { startSaga } from './domain/saga.ts';
import type { BatchWriter } from '#platform/db/batch-writer.ts';
import type { StateCache } from './state-cache.ts';
import type { Admission } from './admission.ts';
import { appendEvents, claimIdempotencyKey, findIdempotencyKey, insertRestSaga, insertView, pricesOf, type IdempotentAnswer } from './store.ts';
import { markSpan } from '#platform/telemetry/tracing.ts';

export const IdempotencyKeyReused = defineError('ORD_ERR_IDEMPOTENCY_KEY_REUSED', 422);

export interface OrdersDeps {
  db: Db;
  ids: { newId(): string };
  clock: { now(): Date };
  /** Group commit of the accepting transactions; by default one transaction per order. */
  write?: BatchWriter;
  /** Learns each new order's state once it committed, for the saga's first reply. */
  cache?: StateCache;
  /**
   * How the saga runs (events by default): events sends OrderPlaced and ReserveStock;
   * choreography announces OrderPlaced alone (inventory reacts to it); rest announces it
   * too (for whoever follows orders: notifications, analytics), sends no command, and marks
   * the order unfinished until its calls are done (rest/drive.ts).
   */
  arch?: Architecture;
  /** Admission control (events, choreography): refuses a new order while the saga backlog is past its bound. */
  admission?: Admission;
  /** How long an Idempotency-Key answers with its order (24 h by default); a later replay makes a new order. */
  idempotencyTtlMs?: number;
}

export const DEFAULT_IDEMPOTENCY_TTL_MS = 24 * 3_600_000;

export interface PlaceOrderRequest {
  customerId: string;
  items: RequestedLine[];
  paymentMethod: string;
  shippingAddress: ShippingAddress;
}

export interface PlaceOrderAnswer {
  id: string;
  status: OrderStatus;
  /** True when an earlier request with the same Idempotency-Key made the order. */
  replayed: boolean;
  /** The new order's state (absent for a replay). */
  state?: OrderState;
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

export const requestHash = (body: unknown): string => createHash('sha256').update(canonical(body)).digest('base64url');

function replay(prior: IdempotentAnswer, hash: string, key: string): PlaceOrderAnswer {
  if (prior.requestHash !== hash) {
    throw IdempotencyKeyReused(`Idempotency-Key ${JSON.stringify(key)} was used for a different request`, { details: { orderId: prior.orderId } });
  }
  return { id: prior.orderId, status: prior.status, replayed: true };
}

export async function placeOrder(deps: OrdersDeps, body: PlaceOrderRequest, idempotencyKey?: string): Promise<PlaceOrderAnswer> {
  const { db } = deps;
  const hash = idempotencyKey === undefined ? '' : requestHash(body);
  // A key is the customer's own, and answers for the TTL: older, it is as good as absent.
  const notBefore = new Date(deps.clock.now().getTime() - (deps.idempotencyTtlMs ?? DEFAULT_IDEMPOTENCY_TTL_MS)).toISOString();
  // A replay is answered without pricing again; the common case (a new key) costs one
  // primary-key read here.
  if (idempotencyKey !== undefined) {
    const prior = await findIdempotencyKey(db, body.customerId, idempotencyKey, notBefore);
    if (prior) return replay(prior, hash, idempotencyKey);
  }

  // A replay is answered above whatever the backlog: it takes nothing new.
  await deps.admission?.admit();
  const prices = await pricesOf(db, db.dialect, body.items.map((i) => i.productId));
  const items = priceItems(body.items, prices);
  const orderId = deps.ids.newId();
  const at = deps.clock.now().toISOString();
  const step = startSaga(
    { type: 'PlaceOrder', at, orderId, customerId: body.customerId, items, paymentMethod: body.paymentMethod, shippingAddress: body.shippingAddress },
    initialState,
  );
  // One trace per order: the first message (OrderPlaced) starts it, the others follow from it.
  const outgoing: Array<ReturnType<typeof message>> = [];
  const send = deps.arch === 'choreography' || deps.arch === 'rest' ? step.send.filter((o) => o.contract.kind === 'event') : step.send;
  markSpan('saga PlaceOrder', () => ({ 'orderflow.order.id': orderId, 'orderflow.saga.to': step.state.step, 'orderflow.saga.sends': send.map((o) => o.contract.type) }));
  for (const o of send) outgoing.push(message(o.contract, { key: orderId, payload: o.payload, occurredAt: at, cause: outgoing[0]?.message }));

  const write: BatchWriter = deps.write ?? ((job) => db.transaction(job));
  const created = await write(async (tx) => {
    // First, so that a request losing the race for its key writes nothing at all.
    if (idempotencyKey !== undefined && !(await claimIdempotencyKey(tx, body.customerId, idempotencyKey, orderId, hash, at, notBefore))) return false;
    await appendEvents(tx, orderId, 0, step.events);
    await insertView(tx, step.state);
    if (deps.arch === 'rest') await insertRestSaga(tx, orderId, at);
    await appendToOutbox(tx, outgoing);
    return true;
  });
  if (created) {
    deps.admission?.accepted();
    deps.cache?.remember(step.state);
    return { id: orderId, status: 'PENDING', replayed: false, state: step.state };
  }

  // Lost the race to a concurrent request with the same key, which has committed.
  const winner = await findIdempotencyKey(db, body.customerId, idempotencyKey as string, notBefore);
  if (!winner) throw ConcurrencyConflict(`Idempotency-Key ${JSON.stringify(idempotencyKey)} is taken but its order is not visible yet; retry`);
  return replay(winner, hash, idempotencyKey as string);
}
