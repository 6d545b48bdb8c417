import assert from 'node:assert/strict';
import { test } from 'node:test';
import { kafkaRequests, medianCost, stepCost } from './cost.ts';
import type { StepCost } from './lab-result.ts';
import { parseMetrics, type Sample } from './prometheus.ts';

const scrape = (text: string): Sample[] => parseMetrics(text);

const before = new Map([
  ['orders', scrape(`
orderflow_db_statements_total 1000
orderflow_db_transactions_total{outcome="commit",kind="explicit"} 100
orderflow_db_transactions_total{outcome="commit",kind="implicit"} 300
orderflow_db_transactions_total{outcome="rollback",kind="explicit"} 1
orderflow_kafka_requests_total{api="Produce"} 50
orderflow_kafka_requests_total{api="Fetch"} 70
`)],
  ['payments', scrape(`
orderflow_db_statements_total 500
orderflow_kafka_requests_total{api="Fetch"} 10
`)],
]);

const after = new Map([
  ['orders', scrape(`
orderflow_db_statements_total 1900
orderflow_db_transactions_total{outcome="commit",kind="explicit"} 200
orderflow_db_transactions_total{outcome="commit",kind="implicit"} 500
orderflow_db_transactions_total{outcome="rollback",kind="explicit"} 11
orderflow_kafka_requests_total{api="Produce"} 250
orderflow_kafka_requests_total{api="Fetch"} 370
orderflow_kafka_requests_total{api="OffsetCommit"} 100
`)],
  // Restarted in the step: its counters began again at zero.
  ['payments', scrape(`
orderflow_db_statements_total 100
orderflow_kafka_requests_total{api="Fetch"} 5
`)],
  ['gateway', []],
]);

test('kafka requests are summed over services by API, a restarted service counting from zero', () => {
  assert.deepEqual(kafkaRequests(before, after), { Produce: 200, Fetch: 300 + 5, OffsetCommit: 100 });
});

test('a step costs its counts over the orders completed, the load generator apart from the system', () => {
  const cost = stepCost({
    orders: 100,
    seconds: 17.25,
    cpuMs: { orders: 400, payments: 100, kafka: 250, postgres: 300, lab: 90 },
    before,
    after,
    pgBefore: { commits: 5000, rollbacks: 3, statements: 20_000 },
    pgAfter: { commits: 5720, rollbacks: 13, statements: 21_010 },
  });
  assert.deepEqual(cost, {
    orders: 100,
    seconds: 17.25,
    cpuMsPerOrder: { orders: 4, payments: 1, kafka: 2.5, postgres: 3, lab: 0.9 },
    systemCpuMsPerOrder: 10.5,
    dbStatementsPerOrder: { client: (900 + 100) / 100, server: 10.1 },
    dbCommitsPerOrder: { client: 3, server: 7.2 },
    dbTransactionsPerOrder: (100 + 10) / 100,
    dbRollbacksPerOrder: { client: 0.1, server: 0.1 },
    kafkaRequestsPerOrder: { Fetch: 3.05, Produce: 2, OffsetCommit: 1 },
    kafkaRequestsTotalPerOrder: 6.05,
  });
});

test('without PostgreSQL counters or pg_stat_statements the server figures are null', () => {
  const common = { orders: 10, seconds: 1, cpuMs: {}, before, after };
  const none = stepCost({ ...common, pgBefore: null, pgAfter: null })!;
  assert.deepEqual([none.dbStatementsPerOrder.server, none.dbCommitsPerOrder.server], [null, null]);
  const noExtension = stepCost({ ...common, pgBefore: { commits: 1, rollbacks: 0, statements: null }, pgAfter: { commits: 11, rollbacks: 0, statements: null } })!;
  assert.deepEqual([noExtension.dbStatementsPerOrder.server, noExtension.dbCommitsPerOrder.server], [null, 1]);
});

test('a step that completed no order has no per-order cost', () => {
  assert.equal(stepCost({ orders: 0, seconds: 15, cpuMs: { orders: 100 }, before, after, pgBefore: null, pgAfter: null }), null);
});

test('the median cost of repeated runs is taken figure by figure, an API missing from a run counting 0', () => {
  const base = stepCost({ orders: 10, seconds: 1, cpuMs: { orders: 10 }, before: new Map(), after: new Map(), pgBefore: null, pgAfter: null })!;
  const runs: StepCost[] = [
    { ...base, systemCpuMsPerOrder: 3, cpuMsPerOrder: { orders: 1 }, kafkaRequestsPerOrder: { Fetch: 4, Produce: 2 }, kafkaRequestsTotalPerOrder: 6 },
    { ...base, systemCpuMsPerOrder: 9, cpuMsPerOrder: { orders: 5 }, kafkaRequestsPerOrder: { Fetch: 8 }, kafkaRequestsTotalPerOrder: 8 },
    { ...base, systemCpuMsPerOrder: 5, cpuMsPerOrder: { orders: 2 }, kafkaRequestsPerOrder: { Fetch: 6, Produce: 3 }, kafkaRequestsTotalPerOrder: 9 },
  ];
  const m = medianCost([...runs, null])!;
  assert.equal(m.systemCpuMsPerOrder, 5);
  assert.deepEqual(m.cpuMsPerOrder, { orders: 2 });
  assert.deepEqual(m.kafkaRequestsPerOrder, { Fetch: 6, Produce: 2 });
  assert.equal(m.kafkaRequestsTotalPerOrder, 8);
  assert.equal(m.dbStatementsPerOrder.server, null);
  assert.equal(medianCost([null, undefined]), null);
});
