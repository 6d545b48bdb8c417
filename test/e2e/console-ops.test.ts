/**
 * The console's admin API over a whole running system, on both deployments: the overview
 * (every service up with its consumer groups, then one crashed and shown down while the
 * overview still answers), the search over every customer's orders, and a dead letter
 * discarded (then never replayed); and, in the other two architectures (embedded only), the
 * overview's groups being that architecture's. Every answer is also checked against the
 * OpenAPI document (deployments.ts).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { waitFor } from '#lab/invariants.ts';
import { createCatalog, placeBurst, waitAllTerminal } from '#lab/scenario.ts';
import { deployments, startDeployment } from './deployments.ts';

interface Overview {
  architecture: string;
  deployment: { bus: string; store: string };
  tracing: { zipkinUrl: string } | null;
  services: Array<{ name: string; status: 'up' | 'down'; instances: number; consumers: Array<{ groupId: string; topic: string; lag: number; handled: number }>; outboxBacklog: number | null }>;
  topics: Array<{ name: string; owner: string; consumers: string[] }>;
  circuits: Array<{ from: string; to: string; state: string }>;
}

for (const deployment of deployments) {
  describe(`the console's admin API on the ${deployment.name} deployment`, { skip: deployment.skip() }, () => {
    test('overview, order search and dead-letter discard, with a service crashed on the way', async (t) => {
      const { system, client } = await startDeployment(t, deployment, 'events', { ORDERFLOW_FAULTS: '1' });
      const productIds = [...(await createCatalog(client, 2, 100)).keys()];
      const { placed } = await placeBurst(client, productIds, { count: 6, concurrency: 3, declineRatio: 0.5, unservedRatio: 0, seed: 13 });
      const views = await waitAllTerminal(client, placed, 60_000);
      const overview = async (): Promise<Overview> => {
        const res = await client.call('GET', '/api/admin/overview', undefined, {}, 'admin');
        assert.equal(res.status, 200, JSON.stringify(res.body));
        return res.body;
      };

      // The overview: every service up, the saga's groups caught up with what they handled.
      const settled = await waitFor('every group caught up in the overview', async () => {
        const o = await overview();
        const orders = o.services.find((s) => s.name === 'orders');
        const caughtUp = o.services.every((s) => s.status === 'up' && s.consumers.every((c) => c.lag === 0));
        return caughtUp && orders!.consumers.some((c) => c.topic === 'inventory.events' && c.handled > 0) ? o : undefined;
      }, 30_000, 500);
      assert.deepEqual([settled.architecture, settled.deployment, settled.tracing], [
        'events',
        deployment.name === 'embedded' ? { bus: 'embedded', store: 'sqlite' } : { bus: 'kafka', store: 'postgres' },
        null,
      ]);
      const topic = (name: string) => settled.topics.find((x) => x.name === name);
      assert.deepEqual(topic('inventory.commands'), { name: 'inventory.commands', owner: 'inventory', consumers: ['inventory'] });
      assert.ok(topic('payments.events')?.consumers.includes('orders'), JSON.stringify(topic('payments.events')));
      assert.deepEqual(settled.circuits.map((c) => c.state), settled.circuits.map(() => 'closed'));
      const payments = settled.services.find((s) => s.name === 'payments')!;
      const charged = payments.consumers.find((c) => c.topic === 'payments.commands');
      assert.ok(charged && charged.handled >= placed.length, `payments handled a charge per order: ${JSON.stringify(payments)}`);
      assert.equal(typeof payments.outboxBacklog, 'number');

      // Every customer's orders, for an admin; filtered; paged; not for a customer.
      const search = async (query: string) => {
        const res = await client.call('GET', `/api/admin/orders?${query}`, undefined, {}, 'admin');
        assert.equal(res.status, 200, JSON.stringify(res.body));
        return res.body as { orders: Array<{ id: string; status: string; customerId: string }>; nextCursor: string | null };
      };
      const newestFirst = [...placed.map((p) => p.id)].sort().reverse();
      const cancelled = views.filter((v) => v.status === 'CANCELLED').map((v) => v.id).sort().reverse();
      assert.ok(cancelled.length > 0 && cancelled.length < placed.length, `declined and charged orders both: ${views.map((v) => v.status)}`);
      assert.deepEqual((await search('status=CANCELLED')).orders.map((o) => o.id), cancelled);
      const first = await search(`customerId=${encodeURIComponent(views[0].customerId)}&limit=4`);
      assert.ok(first.nextCursor !== null);
      const second = await search(`customerId=${encodeURIComponent(views[0].customerId)}&limit=4&cursor=${first.nextCursor}`);
      assert.deepEqual([...first.orders, ...second.orders].map((o) => o.id), newestFirst);
      assert.equal(second.nextCursor, null);
      const refused = await client.call('GET', '/api/admin/orders', undefined, {}, 'customer');
      assert.deepEqual([refused.status, refused.body.error.code], [403, 'PLT_ERR_FORBIDDEN']);

      // A dead letter discarded: listed as discarded, and a replay takes nothing.
      await system.failMessages('payments', ['ChargePayment']);
      const [doomed] = (await placeBurst(client, productIds, { count: 1, concurrency: 1, declineRatio: 0, unservedRatio: 0, seed: 14 })).placed;
      const letter = await waitFor('the charge dead-lettered', async () => {
        const res = await client.call('GET', '/api/admin/dead-letters?topic=payments.commands', undefined, {}, 'admin');
        return (res.body.deadLetters as Array<{ id: string; payload: { orderId: string } }>).find((l) => l.payload.orderId === doomed.id);
      }, 60_000, 250);
      await system.failMessages('payments', []);
      const discarded = await client.call('POST', '/api/admin/dead-letters/discard', { topic: 'payments.commands', ids: [letter.id] }, {}, 'admin');
      assert.deepEqual([discarded.status, discarded.body], [200, { discarded: [letter.id] }]);
      const again = await client.call('POST', '/api/admin/dead-letters/discard', { ids: [letter.id] }, {}, 'admin');
      assert.deepEqual(again.body, { discarded: [] }, 'a dead letter is discarded once');
      const listed = await client.call('GET', '/api/admin/dead-letters?topic=payments.commands&state=discarded', undefined, {}, 'admin');
      assert.deepEqual(listed.body.deadLetters.map((l: { id: string; state: string }) => [l.id, l.state]), [[letter.id, 'discarded']]);
      const replayed = await client.call('POST', '/api/admin/dead-letters/replay', { topic: 'payments.commands' }, {}, 'admin');
      assert.deepEqual(replayed.body, { replayed: [] }, 'nothing discarded is replayed');

      // A service crashed: down in the overview, which still answers; up again once it is back.
      const outage = system.crash('payments', 8_000);
      outage.catch(() => undefined);
      const during = await waitFor('payments down in the overview', async () => {
        const o = await overview();
        return o.services.find((s) => s.name === 'payments')?.status === 'down' ? o : undefined;
      }, 15_000, 200);
      assert.deepEqual(during.services.find((s) => s.name === 'payments'), { name: 'payments', status: 'down', instances: 1, consumers: [], outboxBacklog: null });
      assert.ok(during.services.filter((s) => s.name !== 'payments').every((s) => s.status === 'up'));
      assert.ok(topic('payments.commands')?.consumers.includes('payments') && during.topics.find((x) => x.name === 'payments.commands')?.consumers.includes('payments'), 'a group stays on the diagram while its service is away');
      await outage;
      await waitFor('payments up again', async () => ((await overview()).services.every((s) => s.status === 'up') ? true : undefined), 15_000, 200);
    });
  });
}

// The overview follows the architecture: who consumes what is what the services report.
for (const arch of ['choreography', 'rest'] as const) {
  describe(`the admin overview, ${arch} architecture, on the embedded deployment`, () => {
    test('says the architecture, every service up, and the groups this architecture runs', async (t) => {
      const { client } = await startDeployment(t, deployments[0], arch);
      const o = await waitFor('every service up in the overview', async () => {
        const res = await client.call('GET', '/api/admin/overview', undefined, {}, 'admin');
        return res.status === 200 && (res.body as Overview).services.every((s) => s.status === 'up') ? (res.body as Overview) : undefined;
      }, 30_000, 250);
      assert.equal(o.architecture, arch);
      const readers = (topic: string) => o.topics.find((x) => x.name === topic)?.consumers ?? [];
      if (arch === 'choreography') {
        // Each service reacts to the events of the one before: inventory reads the orders' events.
        assert.ok(readers('orders.events').includes('inventory'), JSON.stringify(o.topics));
        assert.deepEqual(readers('inventory.commands'), []);
      } else {
        // Calls, not messages, drive the saga: nobody reads the commands.
        assert.deepEqual([readers('inventory.commands'), readers('payments.commands')], [[], []]);
      }
    });
  });
}
