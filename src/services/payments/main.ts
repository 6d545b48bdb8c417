/** The payments service's composition root. */
import { closeOnSignals, startServiceHost } from '#platform/service/host.ts';
import { allTopics, Topics, checkMessage } from '#contracts/index.ts';
import { loadConfig } from './config.ts';
import { createChoreographyHandlers } from './choreography.ts';
import { createHandlers } from './handlers.ts';
import { registerRoutes } from './http.ts';
import { migrations } from './store.ts';

const config = loadConfig();
const host = await startServiceHost({ name: 'payments', platform: config.platform, migrations, topics: allTopics, validate: checkMessage });
closeOnSignals(host);
registerRoutes(host.app, { db: host.db, write: host.write });
// Listening before consuming: a (re)started instance serves its routes while its consumers
// join their groups (seconds on Kafka); /health/consumers says when they have.
await host.listen(config.port, config.host);
// Per architecture: the commands (events); the events before us (choreography); nothing
// in rest, where orders calls the HTTP routes.
const handlerDeps = { ids: host.ids, clock: host.clock, log: host.log };
if (config.platform.arch === 'events') {
  await host.consume({ groupId: 'payments', topics: [Topics.paymentsCommands], handlers: createHandlers(handlerDeps) });
} else if (config.platform.arch === 'choreography') {
  // orders.events for OrderCancelled(TIMEOUT) (issue 9); its other types are skipped.
  await host.consume({ groupId: 'payments', topics: [Topics.inventoryEvents, Topics.shippingEvents, Topics.ordersEvents], handlers: createChoreographyHandlers(handlerDeps) });
}
