/**
 * The analytics service's composition root: the stream pipeline (pipeline.ts) over the
 * order and client topics, the read model it feeds (read-model.ts, store.ts), and the
 * routes that serve it (http.ts). Its database holds only the read model; the pipeline's
 * state lives in its changelogs.
 */
import { closeOnSignals, startServiceHost } from '#platform/service/host.ts';
import { allTopics, checkMessage } from '#contracts/index.ts';
import { loadConfig } from './config.ts';
import { registerRoutes } from './http.ts';
import { AnalyticsTopics, pipelineGroups, startPipeline } from './pipeline.ts';
import { startReadModel } from './read-model.ts';
import { migrations } from './store.ts';

const config = loadConfig();
const host = await startServiceHost({ name: 'analytics', platform: config.platform, migrations, topics: allTopics, validate: checkMessage });
closeOnSignals(host);
registerRoutes(host.app, { db: host.db, clock: host.clock });
await host.listen(config.port, config.host);
const processors = await startPipeline({ bus: host.bus, partitions: config.platform.partitions, graceMs: config.graceMs, log: host.log });
const readModel = await startReadModel({ bus: host.bus, db: host.db });
// Not the platform's consumers, but consumer groups all the same: their lag is worth seeing.
for (const [groupId, topics] of pipelineGroups()) host.watchGroup(groupId, topics);
host.watchGroup('analytics-read-model', [AnalyticsTopics.windows]);
host.onClose(async () => {
  await readModel.close();
  for (const p of processors) await p.close();
});
