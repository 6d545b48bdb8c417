/**
 * Availability with replicas: two instances of each service behind the gateway, a steady
 * load of orders and reads through it, and kill -9 of an instance of orders, inventory and
 * payments in turn (on the embedded log both instances, so that whichever owns a consumer
 * group's topics is hit). No request may fail at the gateway: every answer that is not 2xx counts, and the
 * load never retries. Then nothing is lost or made twice: every invariant holds, and each
 * order request, replayed with its Idempotency-Key, names its one order.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '#lab/client.ts';
import { serviceNames, type System } from '#runtime/system.ts';
import { acceptedStatus, architectures, deployments, startDeployment } from './deployments.ts';
import { settledInvariants, waitFor, type PlacedOrder } from './invariants.ts';
import { createCatalog, expectation, placeBurst, random, replayPlaced, waitAllTerminal } from './scenario.ts';

// users too: the gateway verifies tokens with keys fetched from whichever users instance answers.
const victims = ['orders', 'inventory', 'payments', 'users'] as const;

/** Workers that place an order and read it back, the catalog and the details now and then, until stopped; every non-2xx is a failure. */
function steadyLoad(client: Client, productIds: string[], workers: number) {
  const placed: PlacedOrder[] = [];
  const failures: string[] = [];
  let requests = 0;
  let stopped = false;
  const rnd = random(7);
  const check = (what: string, status: number, body: unknown) => {
    requests++;
    if (status < 200 || status > 299) failures.push(`${what}: ${status} ${JSON.stringify(body).slice(0, 300)}`);
  };
  const attempt = async (what: string, fn: () => Promise<{ status: number; body: any }>) => {
    try {
      const { status, body } = await fn();
      check(what, status, body);
      return { status, body };
    } catch (err) {
      check(what, 0, String(err));
      return undefined;
    }
  };
  const run = Promise.all(Array.from({ length: workers }, async (_, w) => {
    for (let i = 0; !stopped; i++) {
      const body = {
        items: [{ productId: productIds[Math.floor(rnd() * productIds.length)], quantity: 1 + Math.floor(rnd() * 2) }],
        paymentMethod: rnd() < 0.15 ? 'card-declined' : 'card',
        shippingAddress: { country: rnd() < 0.1 ? 'XX' : 'DE', city: 'Berlin' },
      };
      const key = randomUUID();
      const answer = await attempt('POST /api/orders', () => client.placeOrder(body, key));
      if (answer && (answer.status === 201 || answer.status === 202)) {
        placed.push({ id: answer.body.id, items: body.items, paymentMethod: body.paymentMethod, country: body.shippingAddress.country, request: { key, body } });
        await attempt('GET /api/orders/:id', () => client.order(answer.body.id));
        if (i % 4 === 0) await attempt('GET /api/orders/:id/details', () => client.details(answer.body.id));
      }
      if (i % 5 === 0) await attempt('GET /api/products', () => client.products());
      // About 40 orders/s with four workers: steady, and few enough to settle quickly after.
      await sleep(60);
    }
  }));
  return {
    placed,
    failures,
    requests: () => requests,
    async stop() {
      stopped = true;
      await run;
    },
  };
}

async function killAndWaitBack(system: System, name: string, t: { diagnostic(m: string): void }): Promise<void> {
  const pid = system.pid(name);
  assert.ok(pid, `${name} runs`);
  const restarts = system.restarts(name);
  system.kill(name, 'SIGKILL');
  const killedAt = Date.now();
  const url = system.instances().find((i) => i.name === name)!.url;
  await waitFor(`${name} to be restarted and its consumers to join`, async () => {
    if (system.restarts(name) <= restarts || system.pid(name) === undefined || system.pid(name) === pid) return undefined;
    const res = await fetch(`${url}/health/consumers`, { signal: AbortSignal.timeout(1_000) }).catch(() => undefined);
    return res?.status === 200 ? true : undefined;
  }, 30_000, 100);
  t.diagnostic(`killed ${name} (pid ${pid}); back with its consumers joined after ${Date.now() - killedAt} ms`);
}

for (const deployment of deployments) for (const arch of architectures) {
  describe(`replicas, ${arch} architecture, on the ${deployment.name} deployment`, { skip: deployment.skip() }, () => {
    test('with two instances of each service, kill -9 of any one under load fails no request and loses nothing', { timeout: 180_000 }, async (t) => {
      const { system, client } = await startDeployment(t, deployment, arch, {}, { replicas: 2 });
      assert.deepEqual(system.instances().map((i) => i.name), serviceNames.flatMap((n) => (n === 'gateway' ? [n] : [`${n}-1`, `${n}-2`])));

      const initialStock = await createCatalog(client, 4, 100_000);
      // The orders service learns the catalog from inventory's events: once one order of
      // each product is taken (retrying the 422 until then), the load needs no retry.
      const { placed: first } = await placeBurst(client, [...initialStock.keys()], { count: 4, concurrency: 4, declineRatio: 0, unservedRatio: 0, seed: 3 });

      const load = steadyLoad(client, [...initialStock.keys()], 4);
      await sleep(1_500);
      // The embedded log: one instance owns a group's topic, the other stands by; killing
      // both in turn kills the owner. Kafka shares the partitions: any one kill hits an owner.
      const which = deployment.name === 'embedded' ? ['1', '2'] : ['1'];
      for (const victim of victims) {
        for (const instance of which.map((n) => `${victim}-${n}`)) {
          await killAndWaitBack(system, instance, t);
          await sleep(500);
        }
      }
      await load.stop();
      t.diagnostic(`${load.requests()} requests through the gateway, ${load.placed.length} orders placed, ${load.failures.length} failed`);
      assert.deepEqual(load.failures, [], 'no request failed at the gateway');
      assert.ok(load.placed.length > 50, `the load ran (${load.placed.length} orders)`);
      for (const victim of victims) assert.ok(system.restarts(victim, { all: true }) >= which.length, `${victim} was restarted`);

      const placed = [...first, ...load.placed];
      const views = await waitAllTerminal(client, placed, 120_000);
      assert.equal(views.length, placed.length);
      assert.deepEqual(await settledInvariants(client, expectation(initialStock, placed)), []);
      assert.deepEqual(await replayPlaced(client, placed), [], 'each request, replayed, names its one order');
      assert.ok(placed.every((o) => o.id), `answers were ${acceptedStatus(arch)} with an id`);
    });
  });
}
