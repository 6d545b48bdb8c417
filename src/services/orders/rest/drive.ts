// The rest architecture's saga driver: the same pure saga as the events architecture
// (domain/saga.ts `react`), but each command is a synchronous call and each reply its answer.
//
// What is durable, and why that is enough: the order's stream holds OrderPlaced from the
// accepting transaction until the outcome is appended, in ONE transaction with every step
// the chain took; a rest_sagas row marks the saga unfinished until the compensations it
// owes are done too. Every call is idempotent by order id at its receiver and nothing is
// released or refunded before the outcome is recorded, so a saga cut short anywhere (a
// crash, a timeout, a service down) is finished by driving it again from its stream: the
// repeated calls answer what was decided the first time. Two drivers racing on one order
// (a replayed request, recovery) are settled by the stream's optimistic concurrency.
// The outcome's facts (OrderConfirmed, OrderCancelled) go to the outbox in the transaction
// that appends it, as in the other architectures, for whoever follows orders.
import type { Logger } from '#platform/log.ts';
import type { BatchWriter } from '#platform/db/batch-writer.ts';
import type { Db } from '#platform/db/db.ts';
import { isOrderflowError } from '#platform/errors.ts';
import { appendToOutbox } from '#platform/bus/outbox.ts';
import { ChargePayment, message, ReserveStock, ScheduleShipment, type PayloadOf } from '#contracts/index.ts';
import { fold, isTerminal, OrderNotFound, Step, type OrderEvent, type OrderState } from '../domain/order.ts';
import { compensationsFor, react, type Outgoing } from '../domain/saga.ts';
import { appendStep, deleteRestSaga, loadEvents } from '../store.ts';
import type { Downstream } from './downstream.ts';
import { markSpan } from '#platform/telemetry/tracing.ts';
import type { OnOutcome } from '../metrics.ts';

export interface DriverDeps {
  db: Db;
  write: BatchWriter;
  downstream: Downstream;
  clock: { now(): Date };
  log: Logger;
  /** The whole chain of calls of one drive. */
  deadlineMs: number;
  /** Told once an order's terminal status has committed by this driver (metrics.ts). */
  onOutcome?: OnOutcome;
}

export interface RestDriver {
  /**
   * Drives an accepted order to its outcome and the compensations it owes; resolves with
   * the final state. Rejects with a coded 5xx when a service cannot answer (the order stays
   * unfinished for recovery). A drive of the same order already running here is joined.
   */
  drive(orderId: string, known?: OrderState): Promise<OrderState>;
  driving(orderId: string): boolean;
}

const compensating = new Set(['ReleaseStock', 'RefundPayment', 'CancelShipment']);

/** The command the saga waits on in `state`'s step. */
function pendingCommand(s: OrderState): Outgoing {
  const orderId = s.id;
  switch (s.step) {
    case Step.AWAITING_STOCK:
      return { contract: ReserveStock, payload: { orderId, items: s.items.map((l) => ({ productId: l.productId, quantity: l.quantity })) } };
    case Step.AWAITING_PAYMENT:
      return { contract: ChargePayment, payload: { orderId, customerId: s.customerId, amountCents: s.totalCents, method: s.paymentMethod } };
    default:
      return { contract: ScheduleShipment, payload: { orderId, address: s.shippingAddress as PayloadOf<typeof ScheduleShipment>['address'] } };
  }
}

export function createRestDriver(deps: DriverDeps): RestDriver {
  const { db, write, downstream, log } = deps;
  const running = new Map<string, Promise<OrderState>>();
  const load = async (orderId: string) => fold(await loadEvents(db, orderId));

  async function compensate(state: OrderState, signal: AbortSignal): Promise<void> {
    if (state.step === Step.CANCELLED && state.reason) {
      for (const c of compensationsFor(state.id, state.reason)) await downstream.call(c, signal);
    }
    await write((tx) => deleteRestSaga(tx, state.id));
  }

  async function run(orderId: string, known?: OrderState): Promise<OrderState> {
    const signal = AbortSignal.timeout(deps.deadlineMs);
    let state = known && !isTerminal(known) ? known : await load(orderId);
    if (state.step === Step.NONE) throw OrderNotFound(`no order ${orderId}`);
    if (!isTerminal(state)) {
      const from = state.version;
      const events: OrderEvent[] = [];
      const queue: Outgoing[] = [pendingCommand(state)];
      const facts: Outgoing[] = [];
      let owed = false;
      for (let command = queue.shift(); command; command = queue.shift()) {
        // The facts (OrderConfirmed/OrderCancelled) are announced with the outcome's record.
        // Compensations wait for that record.
        if (command.contract.kind === 'event') {
          facts.push(command);
          continue;
        }
        if (compensating.has(command.contract.type)) {
          owed = true;
          continue;
        }
        const reply = await downstream.call(command, signal);
        if (!reply) continue;
        const step = react(state, reply, deps.clock.now().toISOString());
        const before = state.step;
        markSpan(`saga ${reply.type}`, () => ({
          'orderflow.order.id': orderId,
          'orderflow.saga.reply': reply.type,
          'orderflow.saga.from': before,
          'orderflow.saga.to': step.state.step,
          'orderflow.saga.events': step.events.map((e) => e.type),
          'orderflow.saga.sends': step.send.map((o) => o.contract.type),
        }));
        events.push(...step.events);
        state = step.state;
        queue.push(...step.send);
      }
      const outcome = state;
      const at = deps.clock.now().toISOString();
      const announced = facts.map((f) => message(f.contract, { key: orderId, payload: f.payload, occurredAt: at }));
      try {
        await write(async (tx) => {
          await appendStep(tx, db.dialect, from, events, outcome);
          await appendToOutbox(tx, announced);
          if (!owed) await deleteRestSaga(tx, orderId);
        });
        if (isTerminal(outcome)) deps.onOutcome?.(outcome);
      } catch (err) {
        // Another driver recorded the outcome first: it is the same outcome (the calls are
        // idempotent); go on from what it recorded.
        if (!isOrderflowError(err, 'PLT_ERR_CONCURRENCY_CONFLICT')) throw err;
        state = await load(orderId);
        if (!isTerminal(state)) throw err;
        owed = true;
      }
      if (!owed) return state;
    }
    try {
      await compensate(state, signal);
    } catch (err) {
      // The outcome stands; recovery repeats the compensations until they are done.
      log.warn({ err, orderId }, 'compensation of a cancelled order failed; recovery will repeat it');
    }
    return state;
  }

  return {
    drive(orderId, known) {
      let p = running.get(orderId);
      if (!p) {
        p = run(orderId, known).finally(() => running.delete(orderId));
        running.set(orderId, p);
      }
      return p;
    },
    driving: (orderId) => running.has(orderId),
  };
}
