/**
 * The orders service's composition root: the saga orchestrator of the events architecture,
 * the follower of the facts in the choreography.
 */
import { closeOnSignals, startServiceHost } from '#platform/service/host.ts';
import { allTopics, Topics, validateMessage } from '#contracts/index.ts';
import { loadConfig } from './config.ts';
import { follow } from './domain/choreography.ts';
import { createHandlers } from './handlers.ts';
import { registerRoutes } from './http.ts';
import { createStateCache } from './state-cache.ts';
import { migrations } from './store.ts';

const config = loadConfig();
const host = await startServiceHost({ name: 'orders', platform: config.platform, migrations, topics: allTopics, validate: validateMessage });
closeOnSignals(host);
// One cache for both writers of the streams: POST /orders and the saga's replies.
const cache = createStateCache();
// choreography: POST sends OrderPlaced alone, and the replies are followed, not reacted to.
const choreography = config.platform.arch === 'choreography';
registerRoutes(host.app, { db: host.db, ids: host.ids, clock: host.clock, cache, choreography });
const handlers = createHandlers({ clock: host.clock, log: host.log, dialect: host.db.dialect, cache, ...(choreography ? { react: follow } : {}) });
// rest: no saga on the bus, only the catalog copy from inventory's product events.
const rest = config.platform.arch === 'rest';
await host.consume({
  groupId: 'orders',
  topics: rest ? [Topics.inventoryEvents] : [Topics.inventoryEvents, Topics.paymentsEvents, Topics.shippingEvents],
  handlers: rest ? { ProductCreated: handlers.ProductCreated } : handlers,
});
await host.listen(config.port, config.host);
