// Saga deadlines, as pure functions: every step the saga waits in has a deadline; once it
// has passed, the order is cancelled as TIMEOUT and what was done is compensated. The clock
// and the deadline come in as arguments; the sweeper (../deadlines.ts) finds the candidates
// and runs this in a transaction.
//
// When a step started: the `at` of the event that entered it (OrderPlaced, StockReserved,
// PaymentCharged), which is the state's `updatedAt` for as long as the order is PENDING, since
// every event of a pending order moves it to a new step (ShipmentScheduled comes with
// OrderConfirmed). The view row keeps the same `updated_at`, so the sweeper can select the
// orders past their deadline through an index without folding every pending stream.
import { OrderCancelled } from '#contracts/index.ts';
import { compensationsFor, type SagaStep } from './saga.ts';
import { decide, evolve, isTerminal, Step, type OrderState } from './order.ts';

/** When the order's current step started (ISO time); undefined when it waits on nothing. */
export function stepStartedAt(state: OrderState): string | undefined {
  return state.step === Step.NONE || isTerminal(state) ? undefined : state.updatedAt;
}

/** The instant (ms since the epoch) the current step's deadline passes; undefined when it has none. */
export function deadlineOf(state: OrderState, deadlineMs: number): number | undefined {
  const since = stepStartedAt(state);
  if (since === undefined) return undefined;
  const start = Date.parse(since);
  return Number.isNaN(start) ? undefined : start + deadlineMs;
}

/** True when the order still waits at `now` (ISO time) on a step older than `deadlineMs`. */
export function isPastDeadline(state: OrderState, now: string, deadlineMs: number): boolean {
  const deadline = deadlineOf(state, deadlineMs);
  return deadline !== undefined && Date.parse(now) >= deadline;
}

/**
 * Times the order out when its step is past its deadline at `now`: OrderCancelled(TIMEOUT),
 * the compensations for anything the saga may have set going, and the announcement. Nothing
 * when it is not due (still in time, finished, unknown): a sweeper that raced a reply and
 * re-reads the stream gets nothing for an order the reply moved on or finished.
 */
export function expire(state: OrderState, now: string, deadlineMs: number): SagaStep {
  if (!isPastDeadline(state, now, deadlineMs)) return { events: [], send: [], state };
  const events = decide({ type: 'CancelOrder', at: now, reason: 'TIMEOUT' }, state);
  return {
    events,
    state: events.reduce(evolve, state),
    send: [...compensationsFor(state.id, 'TIMEOUT'), { contract: OrderCancelled, payload: { orderId: state.id, reason: 'TIMEOUT' } }],
  };
}
