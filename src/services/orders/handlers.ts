// Bus handlers (group `orders`): the saga's replies and the catalog facts (ProductCreated,
// ProductPriceChanged). The consumer layer runs each in a transaction with inbox dedup;
// what a handler emits goes to the outbox in that transaction. StockReleased and PaymentRefunded have no handler (the
// consumer acknowledges and skips them): the order is CANCELLED when its compensations are
// sent, see domain/saga.ts. In the choreography the same machinery runs the follower
// (domain/choreography.ts) on the same facts instead of the orchestrating saga.
import { message, type PayloadOf, type ProductCreated, type ProductPriceChanged } from '#contracts/index.ts';
import type { MessageHandler } from '#platform/bus/consumer.ts';
import type { Logger } from '#platform/log.ts';
import { fold, isTerminal, type OrderState } from './domain/order.ts';
import type { OnOutcome } from './metrics.ts';
import { react as orchestrate, sagaReplyTypes, type SagaReply, type SagaStep } from './domain/saga.ts';
import type { Dialect, Sql } from '#platform/db/db.ts';
import { createStateCache, type StateCache } from './state-cache.ts';
import { appendStep, loadEvents, upsertProduct } from './store.ts';
import { inSpan } from '#platform/telemetry/tracing.ts';

export interface HandlerDeps {
  clock: { now(): Date };
  log?: Logger;
  /** Picks the per-dialect SQL; without it the portable statements run (slower on PostgreSQL). */
  dialect?: Dialect;
  /** Folded states of live orders, shared with the POST path; a private one when absent. */
  cache?: StateCache;
  /** What a reply does to an order: the orchestrating saga (`react`, the default) or the choreography's `follow`. */
  react?: (state: OrderState, reply: SagaReply, at: string) => SagaStep;
  /** Told once an order's terminal status has committed (metrics.ts). */
  onOutcome?: OnOutcome;
}

export function createHandlers(deps: HandlerDeps): Record<string, MessageHandler> {
  const dialect = deps.dialect ?? 'sqlite';
  const cache = deps.cache ?? createStateCache();
  const react = deps.react ?? orchestrate;
  // What this transaction wrote, per order: a later message of the same transaction must
  // see it, and the cache only learns it after the commit. Keyed by ctx.tx, which the
  // consumer hands to every message of a transaction.
  const written = new WeakMap<Sql, Map<string, OrderState>>();
  const load = async (tx: Sql, orderId: string) => fold(await loadEvents(tx, orderId));

  // Fold (from the cache, or the stream), decide, append + update the view, emit. A
  // ConcurrencyConflict from the append rolls the batch back and the consumer retries.
  const onReply: MessageHandler = async (ctx) => {
    const reply = { type: ctx.message.type, payload: ctx.message.payload } as SagaReply;
    const orderId = reply.payload.orderId.toLowerCase();
    const now = deps.clock.now().toISOString();
    let mine = written.get(ctx.tx);
    let state = mine?.get(orderId);
    const cached = state === undefined ? cache.get(orderId) : undefined;
    state ??= cached ?? (await load(ctx.tx, orderId));
    let step = react(state, reply, now);
    const idle = (s: SagaStep) => s.events.length === 0 && s.send.length === 0;
    if (idle(step) && cached !== undefined) {
      // A stale entry could make a due reply look like a duplicate: only the stream may
      // decide to drop one.
      state = await load(ctx.tx, orderId);
      step = react(state, reply, now);
    }
    if (idle(step)) {
      deps.log?.debug({ orderId, type: reply.type, step: state.step, messageId: ctx.message.id }, 'reply does not fit the order; ignored');
      return;
    }
    const decided = step;
    const attributes = () => ({
      'orderflow.order.id': orderId,
      'orderflow.saga.reply': reply.type,
      'orderflow.saga.from': state.step,
      'orderflow.saga.to': decided.state.step,
      'orderflow.saga.events': decided.events.map((e) => e.type),
      'orderflow.saga.sends': decided.send.map((o) => o.contract.type),
    });
    await inSpan(`saga ${reply.type}`, attributes, async () => {
      // A late reply to a timed-out order appends nothing and only sends its undoing.
      if (decided.events.length > 0) {
        try {
          await appendStep(ctx.tx, dialect, state.version, decided.events, decided.state);
        } catch (err) {
          cache.forget(orderId);
          throw err;
        }
      }
      if (mine === undefined) written.set(ctx.tx, (mine = new Map()));
      mine.set(orderId, decided.state);
      const next = decided.state;
      const settled = deps.onOutcome !== undefined && isTerminal(next) && !isTerminal(state);
      ctx.afterCommit?.(() => {
        cache.remember(next);
        if (settled) deps.onOutcome!(next);
      });
      for (const o of decided.send) {
        const m = message(o.contract, { key: orderId, payload: o.payload, cause: ctx.message });
        ctx.emit(m.topic, m.message);
      }
    });
  };

  // The catalog copy. An order is priced when placed (its lines keep their unit price), so a
  // new price reaches only the orders placed after it is handled here.
  const onProductCreated: MessageHandler = async (ctx) => {
    const { productId, sku, name, priceCents } = ctx.message.payload as PayloadOf<typeof ProductCreated>;
    await upsertProduct(ctx.tx, { productId, sku, name, priceCents }, deps.clock.now().toISOString());
  };

  const onProductPriceChanged: MessageHandler = async (ctx) => {
    const { productId, sku, name, priceCents, revision } = ctx.message.payload as PayloadOf<typeof ProductPriceChanged>;
    await upsertProduct(ctx.tx, { productId, sku, name, priceCents, revision }, deps.clock.now().toISOString());
  };

  const handlers: Record<string, MessageHandler> = { ProductCreated: onProductCreated, ProductPriceChanged: onProductPriceChanged };
  for (const type of sagaReplyTypes) handlers[type] = onReply;
  return handlers;
}
