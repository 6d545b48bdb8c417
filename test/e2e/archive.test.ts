/**
 * The event archive end to end, on both deployments: orders placed through the gateway, and
 * the archive holds exactly the orders.events messages the bus holds, as the bus holds them.
 * Embedded: the platform sink in the supervisor. Distributed: Kafka Connect's file sink on
 * the worker at CONNECT_URL (skips without it, fails under ORDERFLOW_REQUIRE_INFRA=1).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createCatalog, placeBurst, waitAllTerminal } from '#lab/scenario.ts';
import { loadPlatformConfig } from '#platform/config.ts';
import { openBus } from '#platform/bus/open.ts';
import { decode, type Envelope } from '#platform/bus/envelope.ts';
import { readArchive } from '#platform/bus/archive.ts';
import { Topics } from '#contracts/topics.ts';
import { connectSkip } from '../infra.ts';
import { deployments, startDeployment } from './deployments.ts';

const withoutHeaders = ({ headers: _, ...rest }: Envelope) => rest;

for (const deployment of deployments) {
  const via = deployment.name === 'distributed' ? 'connect' : 'sink';
  const skip = deployment.skip() ?? (via === 'connect' ? connectSkip() : undefined);
  describe(`the event archive on the ${deployment.name} deployment (${via === 'connect' ? 'Kafka Connect' : 'the platform sink'})`, { skip, timeout: 240_000 }, () => {
    test('the archive holds exactly the orders.events messages of the bus', async (t) => {
      const { system, client, dataDir, env } = await startDeployment(t, deployment, 'events', {}, { archive: { via } });
      assert.equal(system.archive?.via, via);
      assert.ok(system.archive?.topics.includes(Topics.ordersEvents), `archived: ${system.archive?.topics.join(', ')}`);

      const products = [...(await createCatalog(client, 2, 100)).keys()];
      const { placed } = await placeBurst(client, products, { count: 8, concurrency: 4, declineRatio: 0.25, unservedRatio: 0.15, seed: 5 });
      const views = await waitAllTerminal(client, placed, 60_000);

      const platform = loadPlatformConfig({ ...env, ORDERFLOW_DATA_DIR: dataDir });
      const bus = await openBus({ ...platform, embeddedLog: undefined }, 'archive-e2e');
      t.after(() => bus.close());
      const inBus = (await bus.read(Topics.ordersEvents, { limit: 100_000 })).map((r) => withoutHeaders(decode(r)));
      const byId = new Map(inBus.map((e) => [e.id, e]));
      // Every order's last event is on the bus: what the archive must catch up with.
      for (const v of views) assert.ok(inBus.some((e) => e.key === v.id && /^Order(Confirmed|Cancelled)$/.test(e.type)), `${v.id}'s outcome on the bus`);

      const deadline = Date.now() + 60_000;
      let archived: ReturnType<typeof withoutHeaders>[] = [];
      let reader = readArchive(system.archive!.dir, Topics.ordersEvents);
      for (;;) {
        reader = readArchive(system.archive!.dir, Topics.ordersEvents);
        archived = [];
        for await (const e of reader) archived.push(withoutHeaders(e));
        if (archived.length >= byId.size || Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.deepEqual(new Set(archived.map((e) => e.id)), new Set(byId.keys()), 'the archive\'s ids are the bus\'s');
      for (const e of archived) assert.deepEqual(e, byId.get(e.id), `${e.type} ${e.id} archived as the bus holds it`);
      assert.equal(reader.stats.torn, 0);
      // Each order's own events are in the archive in the order they happened (one key, one partition).
      for (const v of views) {
        const types = archived.filter((e) => e.key === v.id).map((e) => e.type);
        assert.equal(types[0], 'OrderPlaced', `${v.id}: ${types.join(', ')}`);
        assert.equal(types.at(-1), v.status === 'CONFIRMED' ? 'OrderConfirmed' : 'OrderCancelled', `${v.id}: ${types.join(', ')}`);
      }
    });
  });
}
