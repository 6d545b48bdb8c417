/**
 * The event archive end to end, on both deployments: orders placed and client events sent
 * through the gateway, and the archive holds exactly the orders.events and client.events
 * messages the bus holds, as the bus holds them; analytics' read model rebuilt from the
 * archive (services/analytics/rebuild.ts) is the live one.
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
import { openServiceDb } from '#platform/db/open.ts';
import { rebuildReadModel, type RebuildReport } from '#services/analytics/rebuild.ts';
import { allWindows } from '#services/analytics/store.ts';
import { loadConfig as loadAnalyticsConfig } from '#services/analytics/config.ts';
import { connectSkip } from '../infra.ts';
import { deployments, startDeployment } from './deployments.ts';

const withoutHeaders = ({ headers: _, ...rest }: Envelope) => rest;

for (const deployment of deployments) {
  const via = deployment.name === 'distributed' ? 'connect' : 'sink';
  const skip = deployment.skip() ?? (via === 'connect' ? connectSkip() : undefined);
  describe(`the event archive on the ${deployment.name} deployment (${via === 'connect' ? 'Kafka Connect' : 'the platform sink'})`, { skip, timeout: 240_000 }, () => {
    test('the archive holds exactly the orders.events and client.events messages of the bus, and rebuilds analytics as it is live', async (t) => {
      const { system, client, dataDir, env } = await startDeployment(t, deployment, 'events', {}, { archive: { via } });
      assert.equal(system.archive?.via, via);
      assert.deepEqual(system.archive?.topics, [Topics.ordersEvents, Topics.clientEvents]);

      const products = [...(await createCatalog(client, 2, 100)).keys()];
      const { placed } = await placeBurst(client, products, { count: 8, concurrency: 4, declineRatio: 0.25, unservedRatio: 0.15, seed: 5 });
      const at = new Date().toISOString();
      const sent = await client.call('POST', '/api/events', { events: products.map((productId, i) => ({ type: 'product.viewed', sessionId: `visit-archive-${i}`, productId, at })) }, {}, 'anonymous');
      assert.deepEqual([sent.status, sent.body.accepted], [202, products.length], JSON.stringify(sent.body));
      const views = await waitAllTerminal(client, placed, 60_000);

      const platform = loadPlatformConfig({ ...env, ORDERFLOW_DATA_DIR: dataDir });
      const bus = await openBus({ ...platform, embeddedLog: undefined }, 'archive-e2e');
      t.after(() => bus.close());
      const onBus = async (topic: string) => new Map((await bus.read(topic, { limit: 100_000 })).map((r) => withoutHeaders(decode(r))).map((e) => [e.id, e]));
      const archivedOf = async (topic: string, want: number) => {
        const deadline = Date.now() + 60_000;
        for (;;) {
          const reader = readArchive(system.archive!.dir, topic);
          const archived: ReturnType<typeof withoutHeaders>[] = [];
          for await (const e of reader) archived.push(withoutHeaders(e));
          if (archived.length >= want || Date.now() > deadline) return { archived, stats: reader.stats };
          await new Promise((r) => setTimeout(r, 200));
        }
      };
      const inBus = await onBus(Topics.ordersEvents);
      // Every order's last event is on the bus: what the archive must catch up with.
      for (const v of views) assert.ok([...inBus.values()].some((e) => e.key === v.id && /^Order(Confirmed|Cancelled)$/.test(e.type)), `${v.id}'s outcome on the bus`);
      const { archived, stats } = await archivedOf(Topics.ordersEvents, inBus.size);
      assert.deepEqual(new Set(archived.map((e) => e.id)), new Set(inBus.keys()), 'the archive\'s ids are the bus\'s');
      for (const e of archived) assert.deepEqual(e, inBus.get(e.id), `${e.type} ${e.id} archived as the bus holds it`);
      assert.equal(stats.torn, 0);
      const clientInBus = await onBus(Topics.clientEvents);
      assert.equal(clientInBus.size, products.length);
      const clientArchived = await archivedOf(Topics.clientEvents, clientInBus.size);
      assert.deepEqual(clientArchived.archived.map((e) => [e.id, e]).sort(), [...clientInBus].sort(), 'client.events archived as the bus holds it');
      // Each order's own events are in the archive in the order they happened (one key, one partition).
      for (const v of views) {
        const types = archived.filter((e) => e.key === v.id).map((e) => e.type);
        assert.equal(types[0], 'OrderPlaced', `${v.id}: ${types.join(', ')}`);
        assert.equal(types.at(-1), v.status === 'CONFIRMED' ? 'OrderConfirmed' : 'OrderCancelled', `${v.id}: ${types.join(', ')}`);
      }

      // What the archive is for: analytics' read model derived again from it is the live one
      // (the live pipeline may still be catching up with the last events: asked again until equal).
      const db = await openServiceDb({ ...platform, poolSize: 1 }, 'analytics');
      t.after(() => db.close());
      const sources = () => ({ [Topics.ordersEvents]: readArchive(system.archive!.dir, Topics.ordersEvents), [Topics.clientEvents]: readArchive(system.archive!.dir, Topics.clientEvents) });
      let report: RebuildReport | undefined;
      for (const until = Date.now() + 30_000; !report || (report.differences.length > 0 && Date.now() < until); ) {
        if (report) await new Promise((r) => setTimeout(r, 500));
        report = await rebuildReadModel(db, { sources: sources(), partitions: platform.partitions, graceMs: loadAnalyticsConfig(env).graceMs }, { check: true });
      }
      assert.ok((await allWindows(db)).length > 0, 'analytics has windows');
      assert.deepEqual(report.differences, [], 'rebuilt from the archive: the live read model');
    });
  });
}
