// Bus handlers (group `orders`): the saga's replies and the catalog facts. The consumer
// layer runs each in a transaction with inbox dedup; what a handler emits goes to the
// outbox in that transaction. StockReleased and PaymentRefunded have no handler (the
// consumer acknowledges and skips them): the order is CANCELLED when its compensations are
// sent, see domain/saga.ts.
import { message, type PayloadOf, type ProductCreated } from '#contracts/index.ts';
import type { MessageHandler } from '#platform/bus/consumer.ts';
import type { Logger } from '#platform/log.ts';
import { fold } from './domain/order.ts';
import { react, sagaReplyTypes, type SagaReply } from './domain/saga.ts';
import type { Dialect } from '#platform/db/db.ts';
import { appendStep, loadEvents, upsertProduct } from './store.ts';

export interface HandlerDeps {
  clock: { now(): Date };
  log?: Logger;
  /** Picks the per-dialect SQL; without it the portable statements run (slower on PostgreSQL). */
  dialect?: Dialect;
}

export function createHandlers(deps: HandlerDeps): Record<string, MessageHandler> {
  const dialect = deps.dialect ?? 'sqlite';
  // Load the stream (a handful of rows), fold, decide, append, update the view, emit.
  // A ConcurrencyConflict from the append rolls the batch back and the consumer retries.
  const onReply: MessageHandler = async (ctx) => {
    const reply = { type: ctx.message.type, payload: ctx.message.payload } as SagaReply;
    const orderId = reply.payload.orderId.toLowerCase();
    const state = fold(await loadEvents(ctx.tx, orderId));
    const step = react(state, reply, deps.clock.now().toISOString());
    if (step.events.length === 0) {
      deps.log?.debug({ orderId, type: reply.type, step: state.step, messageId: ctx.message.id }, 'reply does not fit the order; ignored');
      return;
    }
    await appendStep(ctx.tx, dialect, state.version, step.events, step.state);
    for (const o of step.send) {
      const m = message(o.contract, { key: orderId, payload: o.payload, cause: ctx.message });
      ctx.emit(m.topic, m.message);
    }
  };

  const onProductCreated: MessageHandler = async (ctx) => {
    const p = ctx.message.payload as PayloadOf<typeof ProductCreated>;
    await upsertProduct(ctx.tx, p, deps.clock.now().toISOString());
  };

  const handlers: Record<string, MessageHandler> = { ProductCreated: onProductCreated };
  for (const type of sagaReplyTypes) handlers[type] = onReply;
  return handlers;
}
