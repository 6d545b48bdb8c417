/** The inventory service's composition root. */
import { closeOnSignals, startServiceHost } from '#platform/service/host.ts';
import { allTopics, Topics, validateMessage } from '#contracts/index.ts';
import { loadConfig } from './config.ts';
import { createHandlers } from './handlers.ts';
import { registerRoutes } from './http.ts';
import { seedDemoCatalog } from './seed.ts';
import { migrations } from './store.ts';

const config = loadConfig();
const host = await startServiceHost({ name: 'inventory', platform: config.platform, migrations, topics: allTopics, validate: validateMessage });
closeOnSignals(host);
const deps = { db: host.db, ids: host.ids, clock: host.clock };
registerRoutes(host.app, deps);
if (config.seed) await seedDemoCatalog({ ...deps, log: host.log });
await host.consume({ groupId: 'inventory', topics: [Topics.inventoryCommands], handlers: createHandlers({ dialect: host.db.dialect, clock: host.clock }) });
await host.listen(config.port, config.host);
