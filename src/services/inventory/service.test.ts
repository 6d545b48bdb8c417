/**
 * The inventory as it runs: its handlers behind the real consumer (contract validation,
 * inbox, outbox relay) on the embedded bus.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decode, encode, type Envelope } from '#platform/bus/envelope.ts';
import { message, ReleaseStock, ReserveStock, Topics } from '#contracts/index.ts';
import { openTestHost } from '#test/support/host.ts';
import { createProduct } from './catalog.ts';
import { createHandlers } from './handlers.ts';
import { getProduct, migrations } from './store.ts';

test('a ReserveStock published on the bus is answered once on inventory.events, even when delivered twice', async (t) => {
  const host = await openTestHost(t, { name: 'inventory', migrations });

  const seen: Envelope[] = [];
  const waiters: Array<() => void> = [];
  const processedCount = (n: number) => new Promise<void>((resolve) => {
    const check = () => (seen.length >= n ? resolve() : void waiters.push(check));
    check();
  });
  await host.consume({
    groupId: 'inventory',
    topics: [Topics.inventoryCommands],
    handlers: createHandlers({ dialect: host.db.dialect, clock: host.clock }),
    onProcessed: (m) => {
      seen.push(m);
      for (const w of waiters.splice(0)) w();
    },
  });

  const product = await createProduct(host, { sku: 'KB', name: 'Keyboard', priceCents: 100, stock: 10 });
  const orderId = host.ids.newId();
  const reserve = message(ReserveStock, { key: orderId, payload: { orderId, items: [{ productId: product.id, quantity: 4 }] } });
  const release = message(ReleaseStock, { key: orderId, payload: { orderId } });
  // The same ReserveStock twice (redelivery), then its release.
  await host.bus.publish([encode(reserve.topic, reserve.message), encode(reserve.topic, reserve.message), encode(release.topic, release.message)]);
  await processedCount(2);
  await host.relay.flush();

  const replies = (await host.bus.read(Topics.inventoryEvents)).map(decode).filter((e) => e.key === orderId);
  assert.deepEqual(replies.map((e) => e.type), ['StockReserved', 'StockReleased']);
  assert.equal(replies[0].headers.correlationId, reserve.message.headers.correlationId);
  assert.equal((await getProduct(host.db, product.id))?.available, 10);
});
