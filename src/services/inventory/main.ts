/** The inventory service's composition root. */
import { closeOnSignals, startServiceHost } from '#platform/service/host.ts';
import { allTopics, Topics, checkMessage } from '#contracts/index.ts';
import { loadConfig } from './config.ts';
import { createChoreographyHandlers } from './choreography.ts';
import { createHandlers } from './handlers.ts';
import { registerRoutes } from './http.ts';
import { seedDemoCatalog } from './seed.ts';
import { migrations } from './store.ts';

const config = loadConfig();
const host = await startServiceHost({ name: 'inventory', platform: config.platform, migrations, topics: allTopics, validate: checkMessage });
closeOnSignals(host);
const deps = { db: host.db, ids: host.ids, clock: host.clock };
// With replicas another process commits to this database too: no catalog page kept between commits.
registerRoutes(host.app, { ...deps, write: host.write, soleWriter: config.platform.replicas === 1 });
if (config.seed) await seedDemoCatalog({ ...deps, log: host.log });
// Listening before consuming: a (re)started instance serves its routes while its consumers
// join their groups (seconds on Kafka); /health/consumers says when they have.
await host.listen(config.port, config.host);
// Per architecture: the commands (events); the events before us (choreography); nothing
// in rest, where orders calls the HTTP routes.
const handlerDeps = { dialect: host.db.dialect, clock: host.clock };
if (config.platform.arch === 'events') {
  await host.consume({ groupId: 'inventory', topics: [Topics.inventoryCommands], handlers: createHandlers(handlerDeps) });
} else if (config.platform.arch === 'choreography') {
  const topics = [Topics.ordersEvents, Topics.paymentsEvents, Topics.shippingEvents];
  await host.consume({ groupId: 'inventory', topics, handlers: createChoreographyHandlers(handlerDeps) });
}
