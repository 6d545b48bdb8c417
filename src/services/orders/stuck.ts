// `orderflow orders stuck`: the orders PENDING past their step's deadline, read from the
// orders store itself rather than through the service's HTTP API. An order is only stuck
// when the deadline sweeper (deadlines.ts) is not doing its work — orders down, its
// database unreachable from it, the sweep failing — which is exactly when the API may not
// answer; the store is the truth, and reading it needs nothing else running (as `orderflow
// dlq` reads the bus). The view selects the candidates through the same partial index as
// the sweeper; each one's stream says which step it waits in.
import type { Sql } from '#platform/db/db.ts';
import { deadlineOf } from './domain/deadline.ts';
import { fold, type Step } from './domain/order.ts';
import { loadEvents, pendingSince } from './store.ts';

export interface StuckOrder {
  id: string;
  step: Step;
  createdAt: string;
  stepStartedAt: string;
  /** How long past its deadline at the time of the listing. */
  overdueMs: number;
}

/** The PENDING orders whose current step started `deadlineMs` or more before `now`, oldest step first. */
export async function stuckOrders(sql: Sql, now: Date, deadlineMs: number, limit = 1_000): Promise<StuckOrder[]> {
  const candidates = await pendingSince(sql, new Date(now.getTime() - deadlineMs).toISOString(), limit);
  const out: StuckOrder[] = [];
  for (const c of candidates) {
    const state = fold(await loadEvents(sql, c.id));
    const deadline = deadlineOf(state, deadlineMs);
    // Settled between the two reads, or its view ahead of the stream: not stuck.
    if (deadline === undefined || deadline > now.getTime()) continue;
    out.push({ id: c.id, step: state.step, createdAt: state.createdAt, stepStartedAt: state.updatedAt, overdueMs: now.getTime() - deadline });
  }
  return out;
}
