/**
 * The cost of one order in a step, from counts taken before the load and after the drain:
 * CPU time per process (cpu-time.ts), the services' /metrics counters (statements,
 * transactions, Kafka requests by API) and PostgreSQL's own counters (pg-stats.ts).
 */
import { DB_STATEMENTS, DB_TRANSACTIONS } from '#platform/db/db-stats.ts';
import { KAFKA_REQUESTS } from '#platform/bus/kafka/kafka-requests.ts';
import type { StepCost } from './lab-result.ts';
import type { PgCounters } from './pg-stats.ts';
import { counter, type Sample } from './prometheus.ts';
import { median } from './stats.ts';

/** The load generator is measured but is not part of the system. */
export const LOAD_GENERATOR = 'lab';

export interface CostInputs {
  orders: number;
  seconds: number;
  /** CPU ms used in the window, by process name. */
  cpuMs: Record<string, number>;
  /** Each service's /metrics before and after. */
  before: Map<string, Sample[]>;
  after: Map<string, Sample[]>;
  pgBefore: PgCounters | null;
  pgAfter: PgCounters | null;
}

/** after − before of a counter; a service restarted in between starts from zero, so then `after` alone. */
function delta(before: Sample[], after: Sample[], name: string, keep?: (l: Record<string, string>) => boolean): number {
  const a = counter(after, name, keep);
  const b = counter(before, name, keep);
  return a >= b ? a - b : a;
}

/** Kafka requests in the window by API, summed over the services. */
export function kafkaRequests(before: Map<string, Sample[]>, after: Map<string, Sample[]>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [service, samples] of after) {
    const apis = new Set(samples.filter((s) => s.name === KAFKA_REQUESTS || s.name === KAFKA_REQUESTS.slice(0, -6)).map((s) => s.labels.api ?? 'unknown'));
    for (const api of apis) {
      const n = delta(before.get(service) ?? [], samples, KAFKA_REQUESTS, (l) => (l.api ?? 'unknown') === api);
      if (n > 0) out[api] = (out[api] ?? 0) + n;
    }
  }
  return out;
}

function sumOver(before: Map<string, Sample[]>, after: Map<string, Sample[]>, name: string, keep?: (l: Record<string, string>) => boolean): number {
  let n = 0;
  for (const [service, samples] of after) n += delta(before.get(service) ?? [], samples, name, keep);
  return n;
}

const round = (n: number) => Math.round(n * 1000) / 1000;

/** The per-order figures; null when no order completed (nothing to divide by). */
export function stepCost(i: CostInputs): StepCost | null {
  if (!(i.orders > 0)) return null;
  const per = (n: number) => round(n / i.orders);
  const cpuMsPerOrder: Record<string, number> = {};
  let system = 0;
  for (const [name, ms] of Object.entries(i.cpuMs)) {
    cpuMsPerOrder[name] = per(ms);
    if (name !== LOAD_GENERATOR) system += ms;
  }
  const statements = sumOver(i.before, i.after, DB_STATEMENTS);
  const tx = (outcome: string, kind?: string) => sumOver(i.before, i.after, DB_TRANSACTIONS, (l) => l.outcome === outcome && (kind === undefined || l.kind === kind));
  const pg = i.pgBefore && i.pgAfter ? i.pgAfter : null;
  const pgDelta = (k: keyof PgCounters) => {
    const a = pg?.[k];
    const b = i.pgBefore?.[k];
    return typeof a === 'number' && typeof b === 'number' ? per(Math.max(0, a - b)) : null;
  };
  const kafka = kafkaRequests(i.before, i.after);
  const kafkaPerOrder = Object.fromEntries(Object.entries(kafka).sort((a, b) => b[1] - a[1]).map(([api, n]) => [api, per(n)]));
  return {
    orders: i.orders,
    seconds: round(i.seconds),
    cpuMsPerOrder,
    systemCpuMsPerOrder: per(system),
    dbStatementsPerOrder: { client: per(statements), server: pgDelta('statements') },
    dbCommitsPerOrder: { client: per(tx('commit')), server: pgDelta('commits') },
    dbTransactionsPerOrder: per(tx('commit', 'explicit') + tx('rollback', 'explicit')),
    dbRollbacksPerOrder: { client: per(tx('rollback')), server: pgDelta('rollbacks') },
    kafkaRequestsPerOrder: kafkaPerOrder,
    kafkaRequestsTotalPerOrder: per(Object.values(kafka).reduce((a, b) => a + b, 0)),
  };
}

// The bench's median (the lower middle of an even count), as for its other figures.
const medianOf = median;
const medianOrNull = (xs: Array<number | null>): number | null => (xs.some((x) => x === null) ? null : round(medianOf(xs as number[])));
const medianRecord = (rs: Array<Record<string, number>>): Record<string, number> =>
  Object.fromEntries([...new Set(rs.flatMap((r) => Object.keys(r)))].map((k) => [k, round(medianOf(rs.map((r) => r[k] ?? 0)))]));

/** Each figure's median over repeated runs (the bench's), field by field; null when none was costed. */
export function medianCost(costs: Array<StepCost | null | undefined>): StepCost | null {
  const cs = costs.filter((c): c is StepCost => !!c);
  if (!cs.length) return null;
  const pair = (pick: (c: StepCost) => { client: number; server: number | null }) => ({
    client: round(medianOf(cs.map((c) => pick(c).client))),
    server: medianOrNull(cs.map((c) => pick(c).server)),
  });
  const kafka = medianRecord(cs.map((c) => c.kafkaRequestsPerOrder));
  return {
    orders: round(medianOf(cs.map((c) => c.orders))),
    seconds: round(medianOf(cs.map((c) => c.seconds))),
    cpuMsPerOrder: medianRecord(cs.map((c) => c.cpuMsPerOrder)),
    systemCpuMsPerOrder: round(medianOf(cs.map((c) => c.systemCpuMsPerOrder))),
    dbStatementsPerOrder: pair((c) => c.dbStatementsPerOrder),
    dbCommitsPerOrder: pair((c) => c.dbCommitsPerOrder),
    dbTransactionsPerOrder: round(medianOf(cs.map((c) => c.dbTransactionsPerOrder))),
    dbRollbacksPerOrder: pair((c) => c.dbRollbacksPerOrder),
    kafkaRequestsPerOrder: Object.fromEntries(Object.entries(kafka).sort((a, b) => b[1] - a[1])),
    kafkaRequestsTotalPerOrder: round(medianOf(cs.map((c) => c.kafkaRequestsTotalPerOrder))),
  };
}
