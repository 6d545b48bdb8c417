// The orders service's own metrics (the metric set of issue 8), on the host's registry:
// - orderflow_saga_duration_seconds{arch,outcome}: from the order's placement to its
//   terminal status, observed once that status is committed, and only by the writer that
//   made the transition (a redelivered reply or a second driver changes nothing, so it is
//   not counted twice);
// - orderflow_orders_total{status,reason}: the same terminal outcomes, counted;
// - orderflow_orders_pending_oldest_age_seconds: the age of the oldest order still PENDING,
//   read at scrape time through the partial index orders_view_pending (store.ts), bounded
//   by a timeout; for the alert on sagas older than their deadline.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Architecture } from '#platform/config.ts';
import type { Db } from '#platform/db/db.ts';
import { statusOf, type OrderState } from './domain/order.ts';
import { oldestPendingOrder } from './store.ts';

/** Told of an order whose terminal status was just committed by this writer. */
export type OnOutcome = (state: OrderState) => void;

/** From a few ms (rest, one machine) to minutes (a saga waiting out a broker outage). */
const sagaBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

export function createOrdersMetrics(registry: Registry, db: Db, arch: Architecture, opts: { timeoutMs?: number } = {}): OnOutcome {
  const timeoutMs = opts.timeoutMs ?? 2_000;
  const duration = new Histogram({
    name: 'orderflow_saga_duration_seconds',
    help: 'Time from an order placed to its terminal status, by architecture and outcome.',
    labelNames: ['arch', 'outcome'] as const,
    buckets: sagaBuckets,
    registers: [registry],
  });
  const orders = new Counter({
    name: 'orderflow_orders_total',
    help: 'Orders that reached their terminal status, by status and cancellation reason ("" when confirmed).',
    labelNames: ['status', 'reason'] as const,
    registers: [registry],
  });
  let lastAge = 0;
  new Gauge({
    name: 'orderflow_orders_pending_oldest_age_seconds',
    help: 'Age of the oldest order still PENDING; 0 when there is none.',
    registers: [registry],
    async collect() {
      let timer: NodeJS.Timeout | undefined;
      try {
        const oldest = await Promise.race([
          oldestPendingOrder(db),
          new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('timed out')), timeoutMs))),
        ]);
        const at = oldest === undefined ? NaN : Date.parse(oldest);
        lastAge = Number.isNaN(at) ? 0 : Math.max(0, (Date.now() - at) / 1000);
      } catch {
        // The database did not answer in time: the last value stands (readiness tells the outage).
      } finally {
        clearTimeout(timer);
      }
      this.set(lastAge);
    },
  });

  return (state) => {
    const status = statusOf(state);
    if (status === 'PENDING') return;
    const seconds = (Date.parse(state.updatedAt) - Date.parse(state.createdAt)) / 1000;
    if (Number.isFinite(seconds)) duration.observe({ arch, outcome: status === 'CONFIRMED' ? 'confirmed' : 'cancelled' }, Math.max(0, seconds));
    orders.inc({ status, reason: state.reason ?? '' });
  };
}
