/** The shipping service's composition root. */
import { closeOnSignals, startServiceHost } from '#platform/service/host.ts';
import { allTopics, Topics, checkMessage } from '#contracts/index.ts';
import { loadConfig } from './config.ts';
import { createChoreographyHandlers } from './choreography.ts';
import { createHandlers } from './handlers.ts';
import { registerRoutes } from './http.ts';
import { migrations } from './store.ts';

const config = loadConfig();
const host = await startServiceHost({ name: 'shipping', platform: config.platform, migrations, topics: allTopics, validate: checkMessage });
closeOnSignals(host);
registerRoutes(host.app, { db: host.db, write: host.write });
// Listening before consuming: a (re)started instance serves its routes while its consumers
// join their groups (seconds on Kafka); /health/consumers says when they have.
await host.listen(config.port, config.host);
// Per architecture: the commands (events); the events before us (choreography); nothing
// in rest, where orders calls the HTTP routes.
if (config.platform.arch === 'events') {
  await host.consume({ groupId: 'shipping', topics: [Topics.shippingCommands], handlers: createHandlers({ clock: host.clock }) });
} else if (config.platform.arch === 'choreography') {
  await host.consume({ groupId: 'shipping', topics: [Topics.paymentsEvents, Topics.ordersEvents], handlers: createChoreographyHandlers({ clock: host.clock, log: host.log }) });
}
