/**
 * The gateway process: the public API on :8080, in front of the services, and its /metrics
 * on an internal port (:9080). No database; the bus only for the admin's live tail of every
 * topic (event-tail.ts), read without a consumer group.
 */
import { randomUUID } from 'node:crypto';
import { allTopics, deadLetterTopic } from '#contracts/topics.ts';
import { openBus } from '#platform/bus/open.ts';
import { createLogger } from '#platform/log.ts';
import { exitWithParent } from '#platform/service/parent-watch.ts';
import { startTracing } from '#platform/telemetry/tracing.ts';
import { buildGatewayApp } from './app.ts';
import { startEventTail } from './event-tail.ts';
import { loadConfig } from './config.ts';
import { startMetricsServer } from './metrics-server.ts';
import { closeUpstreams, createUpstreams, fetchJwks } from './upstreams.ts';
import { createTokenVerifier } from '#platform/http/access-tokens.ts';
import { createBalancedUpstream } from '#platform/resilience/balanced-upstream.ts';

exitWithParent();
const config = loadConfig();
const log = createLogger('gateway', config.logLevel);
const tracing = await startTracing(config.tracing, 'gateway', log);
const upstreams = createUpstreams(config);
const verifier = createTokenVerifier({ jwks: () => fetchJwks(upstreams.users), ...config.tokens });
// No instance and no trim: the gateway is no member of any group, and the services trim the log.
const eventTail = startEventTail({
  openBus: () => openBus({ ...config.eventTail.bus, instance: undefined, embeddedLog: undefined }, `gateway-${randomUUID().slice(0, 8)}`, log),
  topics: allTopics.flatMap((t) => [t, deadLetterTopic(t)]),
  records: config.eventTail.records,
  log,
});
const lab = config.labUrl === undefined ? undefined : createBalancedUpstream({ name: 'lab', urls: [config.labUrl], timeoutMs: config.timeoutMs, connections: 4 });
const app = await buildGatewayApp({ log, upstreams, verifier, tracing, timeouts: config.http, edge: config.edge, lab, zipkinUrl: config.zipkinUiUrl, eventTail });
const metrics = await startMetricsServer({ registry: app.metrics, host: config.host, port: config.edge.metricsPort, fd: config.listenFds?.metrics, log });

let stopping = false;
const stop = (signal: string) => {
  if (stopping) process.exit(1);
  stopping = true;
  log.info({ signal }, 'shutting down');
  setTimeout(() => process.exit(1), 20_000).unref();
  // Drained first (platform/http/drain.ts): the clients' requests on their open connections
  // are answered, and those connections end cleanly, before the close.
  // The tail's streams end first: a drain waits for every open connection to end.
  Promise.all([eventTail.close(), app.drain()])
    .then(() => app.close())
    .then(() => metrics.close())
    .then(() => closeUpstreams(upstreams))
    .then(() => lab?.close())
    .then(() => tracing.shutdown())
    .then(() => process.exit(0), (err) => {
      log.error({ err }, 'shutdown failed');
      process.exit(1);
    });
};
process.once('SIGTERM', () => stop('SIGTERM'));
process.once('SIGINT', () => stop('SIGINT'));

// Fastify's listen passes `fd` on to Node's (its types omit it).
await app.listen(config.listenFds ? ({ fd: config.listenFds.public, host: config.host } as { host: string }) : { port: config.port, host: config.host });
const address = app.server.address();
log.info({ port: typeof address === 'object' && address ? address.port : config.port, metricsPort: metrics.port, upstreams: config.upstreams }, 'gateway listening');
// On an inherited socket a health probe may be answered by the gateway this one replaces:
// the supervisor learns that this process listens from this message instead.
process.send?.({ orderflow: 'listening' });
