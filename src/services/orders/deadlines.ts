// The deadline sweeper: no order stays PENDING past its step's deadline, whatever was
// dead-lettered, lost or stopped. A loop like rest/recovery.ts: every interval it selects the
// pending orders whose current step started before now − deadline (through the partial index
// orders_view_pending_step, store.ts) and runs the pure decision (domain/deadline.ts `expire`)
// for each in a transaction that re-reads its stream: the append is optimistic on the stream
// version, so a reply racing the timeout and the sweeper settle it exactly once; whichever
// loses re-reads (the consumer retries its batch; the batch writer runs a failed job again
// alone) and finds the order moved on, or cancelled.
//
// What each architecture sends with the TIMEOUT:
// - events: the compensating commands and OrderCancelled(TIMEOUT), through the outbox;
// - choreography: OrderCancelled(TIMEOUT) alone: orders sends no commands there, inventory
//   and payments undo what they hold for a cancelled order when they see it;
// - rest: OrderCancelled(TIMEOUT) on the bus for whoever follows orders (notifications,
//   analytics); no commands. The saga's rest_sagas row stays until its compensations are
//   done, and recovery (rest/recovery.ts) finds the order CANCELLED and makes the calls.
import { message } from '#contracts/index.ts';
import { appendToOutbox } from '#platform/bus/outbox.ts';
import type { Architecture } from '#platform/config.ts';
import { startPeriodic } from '#platform/periodic.ts';
import type { BatchWriter } from '#platform/db/batch-writer.ts';
import type { Db } from '#platform/db/db.ts';
import type { Logger } from '#platform/log.ts';
import { expire } from './domain/deadline.ts';
import { fold, type OrderState } from './domain/order.ts';
import type { OnOutcome } from './metrics.ts';
import type { StateCache } from './state-cache.ts';
import { appendStep, loadEvents, pendingSince } from './store.ts';

export interface SweeperOptions {
  db: Db;
  /** Group commit of the timeouts of one pass; one transaction per order by default. */
  write?: BatchWriter;
  arch: Architecture;
  clock: { now(): Date };
  log: Logger;
  /** How long a saga step may wait for its answer. */
  deadlineMs: number;
  intervalMs: number;
  /** Orders timed out per pass, at most (the next pass takes the rest). */
  batch?: number;
  cache?: StateCache;
  onOutcome?: OnOutcome;
}

export interface Sweeper {
  /** Runs one pass now; resolves with the orders it timed out. */
  pass(): Promise<OrderState[]>;
  stop(): Promise<void>;
}

export function startSweeper(opts: SweeperOptions): Sweeper {
  const { db, log } = opts;
  const batch = opts.batch ?? 200;
  const write: BatchWriter = opts.write ?? ((job) => db.transaction(job));
  async function timeOut(orderId: string, now: string): Promise<OrderState | undefined> {
    return write(async (tx) => {
      const state = fold(await loadEvents(tx, orderId));
      const step = expire(state, now, opts.deadlineMs);
      if (step.events.length === 0) return undefined;
      await appendStep(tx, db.dialect, state.version, step.events, step.state);
      // rest and choreography announce the outcome only (rest's compensations are recovery's calls).
      const send = opts.arch === 'events' ? step.send : step.send.filter((o) => o.contract.kind === 'event');
      const outgoing: Array<ReturnType<typeof message>> = [];
      for (const o of send) outgoing.push(message(o.contract, { key: orderId, payload: o.payload, occurredAt: now, cause: outgoing[0]?.message }));
      await appendToOutbox(tx, outgoing);
      return step.state;
    });
  }

  async function pass(stopped: () => boolean): Promise<OrderState[]> {
    const now = opts.clock.now();
    const before = new Date(now.getTime() - opts.deadlineMs).toISOString();
    const due = await pendingSince(db, before, batch);
    const at = now.toISOString();
    const settled = await Promise.all(due.map(async ({ id }) => {
      try {
        return await timeOut(id, at);
      } catch (err) {
        // A conflict lost twice, or the database away: the order is still due next pass.
        if (!stopped()) log.warn({ err, orderId: id }, 'could not time out an order past its deadline; will try again');
        return undefined;
      }
    }));
    const timedOut = settled.filter((s): s is OrderState => s !== undefined);
    for (const state of timedOut) {
      opts.cache?.remember(state);
      opts.onOutcome?.(state);
    }
    if (timedOut.length > 0) log.warn({ count: timedOut.length, deadlineMs: opts.deadlineMs, orderIds: timedOut.slice(0, 10).map((s) => s.id) }, 'orders past their saga deadline cancelled as TIMEOUT');
    return timedOut;
  }

  return startPeriodic({ name: 'deadline sweep', intervalMs: opts.intervalMs, log, failed: [], run: pass });
}
