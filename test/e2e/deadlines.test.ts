/**
 * Saga deadlines end to end: payments stopped for longer than the step deadline. The orders
 * waiting on it are cancelled as TIMEOUT while it is away and their stock is released; once
 * it is back, the charges it makes late are refunded (or refused in advance), and every
 * invariant holds. The rest architecture's timeout is tested in test/rest/rest-saga.test.ts
 * (there an order placed while payments is down is refused, not left waiting).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Architecture } from '#platform/config.ts';
import { architectures, deployments, startDeployment } from './deployments.ts';
import { settledInvariants } from './invariants.ts';
import { createCatalog, expectation, placeBurst, waitAllTerminal } from './scenario.ts';

const embedded = deployments.filter((d) => d.name === 'embedded');
const implemented: readonly Architecture[] = ['events', 'choreography'];
const deadlineMs = 5_000;

for (const deployment of embedded) for (const arch of architectures.filter((a) => implemented.includes(a))) {
  describe(`saga deadlines, ${arch} architecture, on the ${deployment.name} deployment`, () => {
    test('payments stopped longer than the deadline: orders end CANCELLED(TIMEOUT), stock released, late charges refunded', async (t) => {
      const { system, client } = await startDeployment(t, deployment, arch, {
        ORDERS_STEP_DEADLINE_MS: String(deadlineMs),
        ORDERS_DEADLINE_SWEEP_MS: '200',
      });
      const initialStock = await createCatalog(client, 2, 100);
      const productIds = [...initialStock.keys()];
      const good = { declineRatio: 0, unservedRatio: 0 };

      // Before the outage the saga runs as usual.
      const before = await placeBurst(client, productIds, { count: 5, concurrency: 5, ...good, seed: 3 });
      const settledBefore = await waitAllTerminal(client, before.placed, 30_000);
      assert.ok(settledBefore.every((v) => v.status === 'CONFIRMED'), JSON.stringify(settledBefore));

      // Payments goes away for three deadlines; the orders placed meanwhile reserve their
      // stock and then wait on a charge nobody makes.
      const outage = system.crash('payments', 3 * deadlineMs);
      outage.catch(() => undefined);
      const during = await placeBurst(client, productIds, { count: 12, concurrency: 4, ...good, seed: 5 });
      const started = Date.now();
      const timedOut = await waitAllTerminal(client, during.placed, 2 * deadlineMs + 1_000);
      t.diagnostic(`orders settled ${Date.now() - started} ms after the last was placed, payments still down`);
      for (const v of timedOut) assert.deepEqual([v.status, v.reason], ['CANCELLED', 'TIMEOUT'], v.id);

      // Their stock is back while payments is still away: inventory got ReleaseStock.
      const confirmedUnits = new Map<string, number>();
      for (const o of before.placed) for (const i of o.items) confirmedUnits.set(i.productId, (confirmedUnits.get(i.productId) ?? 0) + i.quantity);
      const products = await client.products();
      for (const id of productIds) {
        const p = products.body.find((x) => x.id === id);
        assert.equal(p?.available, 100 - (confirmedUnits.get(id) ?? 0), `stock of ${id} released`);
      }

      // Payments returns and works through its backlog: each ChargePayment is carried out late,
      // then refunded.
      await outage;
      const placed = [...before.placed, ...during.placed];
      assert.deepEqual(await settledInvariants(client, expectation(initialStock, placed), 30_000), []);
      const payments = await Promise.all(during.placed.map(async (o) => (await client.details(o.id)).body.payment?.status));
      t.diagnostic(`payments after its return: ${JSON.stringify(payments)}`);
      // Charged late and refunded, or (choreography: the cancellation heard before the
      // reservation, on another topic) refused in advance.
      for (const s of payments) assert.ok(s === 'REFUNDED' || s === 'CANCELLED', String(s));
      // events: ChargePayment and RefundPayment share a partition, so the charge comes first.
      if (arch === 'events') assert.ok(payments.every((s) => s === 'REFUNDED'), 'every charge made after the timeout was refunded');

      // New orders go through again.
      const after = await placeBurst(client, productIds, { count: 3, concurrency: 3, ...good, seed: 9 });
      const settledAfter = await waitAllTerminal(client, after.placed, 30_000);
      assert.ok(settledAfter.every((v) => v.status === 'CONFIRMED'), JSON.stringify(settledAfter));
    });
  });
}
