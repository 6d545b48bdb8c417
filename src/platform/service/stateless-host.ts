/**
 * The host of a service that keeps no database: its store is the log (ingestion appends
 * what clients report straight to a topic; there is nothing to write first, so nothing an
 * outbox would make atomic). It assembles what startServiceHost does minus the database,
 * the outbox and the consumers: the bus with its topics ensured, the HTTP app with
 * readiness on the bus, tracing, /metrics (with Kafka's request counts), and a shutdown that
 * stops taking requests before it closes the bus, so every request answered 202 was stored.
 */
import { randomUUID } from 'node:crypto';
import type { Bus, TopicSpec } from '../bus/bus.ts';
import { countKafkaRequests } from '../bus/kafka/kafka-requests.ts';
import { openBus } from '../bus/open.ts';
import type { PlatformConfig } from '../config.ts';
import { buildHttpApp, type HttpApp } from '../http/app.ts';
import { createMetricsRegistry } from '../http/metrics.ts';
import { createLogger, type Logger } from '../log.ts';
import { startTracing } from '../telemetry/tracing.ts';
import { installStatusRoute } from './status-route.ts';

export interface StatelessHostOptions {
  name: string;
  platform: Readonly<PlatformConfig>;
  /** Topics this process publishes to; created when missing. */
  topics: string[];
  /** The largest request body; the platform's default (256 KiB) when absent. */
  bodyLimit?: number;
  log?: Logger;
}

export interface StatelessHost {
  name: string;
  app: HttpApp;
  bus: Bus;
  log: Logger;
  ids: { newId(): string };
  clock: { now(): Date };
  listen(port: number, host?: string): Promise<number>;
  close(): Promise<void>;
}

export async function startStatelessHost(opts: StatelessHostOptions): Promise<StatelessHost> {
  const { platform } = opts;
  const log = opts.log ?? createLogger(opts.name, platform.logLevel);
  const tracing = await startTracing(platform.tracing, opts.name, log);
  const metrics = createMetricsRegistry(opts.name);
  if (platform.bus === 'kafka') countKafkaRequests(metrics);
  const bus = await openBus(platform, `${opts.name}-${randomUUID().slice(0, 8)}`, log);
  const specs: TopicSpec[] = opts.topics.map((name) => ({ name, partitions: platform.partitions, replicationFactor: platform.replicationFactor }));
  await bus.ensureTopics(specs);
  const app = buildHttpApp({
    name: opts.name,
    log,
    metrics,
    tracing,
    timeouts: platform.http,
    bodyLimit: opts.bodyLimit,
    checks: { bus: () => bus.reachable() },
    // No consumers: answered, so a supervisor waiting for every instance's groups does not wait on this one.
    consumerChecks: {},
  });
  // No consumers and no outbox: the status says only how it is deployed.
  installStatusRoute(app, { service: opts.name, platform });
  let closing: Promise<void> | undefined;
  return {
    name: opts.name,
    app,
    bus,
    log,
    ids: { newId: () => randomUUID() },
    clock: { now: () => new Date() },
    async listen(port, hostname = '127.0.0.1') {
      await app.listen({ port, host: hostname });
      const address = app.server.address();
      const bound = typeof address === 'object' && address ? address.port : port;
      log.info({ port: bound }, `${opts.name} listening`);
      return bound;
    },
    close() {
      closing ??= (async () => {
        await app.close().catch((err) => log.warn({ err }, 'http close failed'));
        await bus.close().catch((err) => log.warn({ err }, 'bus close failed'));
        await tracing.shutdown();
      })();
      return closing;
    },
  };
}
