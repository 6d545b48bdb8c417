/** The cart service's composition root. */
import { closeOnSignals, startServiceHost } from '#platform/service/host.ts';
import { createBalancedUpstream } from '#platform/resilience/balanced-upstream.ts';
import { allTopics, Topics, checkMessage } from '#contracts/index.ts';
import { startAbandonedCarts } from './abandoned.ts';
import { startCatalogBootstrap } from './bootstrap.ts';
import { loadConfig } from './config.ts';
import { createHandlers } from './handlers.ts';
import { registerRoutes } from './http.ts';
import { migrations } from './store.ts';

const config = loadConfig();
const host = await startServiceHost({ name: 'cart', platform: config.platform, migrations, topics: allTopics, validate: checkMessage });
closeOnSignals(host);
// One pool and breaker per orders instance, shared by every checkout; a POST with an
// Idempotency-Key may go again to another instance (balanced-upstream.ts).
const orders = createBalancedUpstream({ name: 'orders', urls: config.ordersUrls, timeoutMs: config.ordersTimeoutMs });
host.onClose(() => orders.close());
// In rest, inventory reserves over HTTP and announces no stock moves: the cart then shows no stock count.
const stockCounted = config.platform.arch !== 'rest';
registerRoutes(host.app, { db: host.db, write: host.write, clock: host.clock, ids: host.ids, orders, stockCounted, idempotencyTtlMs: config.idempotencyTtlMs });
const abandoned = startAbandonedCarts({
  db: host.db, clock: host.clock, log: host.log, afterMs: config.abandonedAfterMs, intervalMs: config.abandonedCheckMs, idempotencyTtlMs: config.idempotencyTtlMs, stockCounted,
});
host.onClose(() => abandoned.stop());
await host.listen(config.port, config.host);
// The catalog copy, in every architecture: once from inventory if it is empty (products older
// than the log's retention), then from its events.
const inventory = createBalancedUpstream({ name: 'inventory', urls: config.inventoryUrls });
const bootstrap = startCatalogBootstrap({ db: host.db, inventory, clock: host.clock, log: host.log });
host.onClose(async () => {
  await bootstrap.stop();
  await inventory.close();
});
await host.consume({ groupId: 'cart', topics: [Topics.inventoryEvents], handlers: createHandlers({ clock: host.clock }) });
