/**
 * The ingestion service's composition root. No database: the log is its store
 * (platform/service/stateless-host.ts).
 */
import { closeOnSignals } from '#platform/service/host.ts';
import { startStatelessHost } from '#platform/service/stateless-host.ts';
import { Topics } from '#contracts/index.ts';
import { loadConfig } from './config.ts';
import { registerRoutes } from './http.ts';

const config = loadConfig();
// 500 events of a few hundred bytes each, with room to spare.
const host = await startStatelessHost({ name: 'ingestion', platform: config.platform, topics: [Topics.clientEvents], bodyLimit: 1024 * 1024 });
closeOnSignals(host);
registerRoutes(host.app, { bus: host.bus, clock: host.clock, timeBounds: config.timeBounds });
await host.listen(config.port, config.host);
