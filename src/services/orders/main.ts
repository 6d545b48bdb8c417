/** The orders service's composition root: the saga orchestrator of the events architecture. */
import { closeOnSignals, startServiceHost } from '#platform/service/host.ts';
import { allTopics, Topics, validateMessage } from '#contracts/index.ts';
import { loadConfig } from './config.ts';
import { createHandlers } from './handlers.ts';
import { registerRoutes } from './http.ts';
import { createStateCache } from './state-cache.ts';
import { migrations } from './store.ts';

const config = loadConfig();
const host = await startServiceHost({ name: 'orders', platform: config.platform, migrations, topics: allTopics, validate: validateMessage });
closeOnSignals(host);
// One cache for both writers of the streams: POST /orders and the saga's replies.
const cache = createStateCache();
registerRoutes(host.app, { db: host.db, ids: host.ids, clock: host.clock, cache });
await host.consume({
  groupId: 'orders',
  topics: [Topics.inventoryEvents, Topics.paymentsEvents, Topics.shippingEvents],
  handlers: createHandlers({ clock: host.clock, log: host.log, dialect: host.db.dialect, cache }),
});
await host.listen(config.port, config.host);
