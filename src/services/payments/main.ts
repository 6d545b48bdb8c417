/** The payments service's composition root. */
import { closeOnSignals, startServiceHost } from '#platform/service/host.ts';
import { allTopics, Topics, validateMessage } from '#contracts/index.ts';
import { loadConfig } from './config.ts';
import { createHandlers } from './handlers.ts';
import { registerRoutes } from './http.ts';
import { migrations } from './store.ts';

const config = loadConfig();
const host = await startServiceHost({ name: 'payments', platform: config.platform, migrations, topics: allTopics, validate: validateMessage });
closeOnSignals(host);
registerRoutes(host.app, { db: host.db });
await host.consume({ groupId: 'payments', topics: [Topics.paymentsCommands], handlers: createHandlers({ ids: host.ids, clock: host.clock, log: host.log }) });
await host.listen(config.port, config.host);
