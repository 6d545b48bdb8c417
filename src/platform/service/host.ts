/**
 * The machinery every service process shares, assembled once: its database (migrated, with
 * the outbox and inbox tables), the bus with every topic ensured, the outbox relay, the
 * HTTP app, consumers, and a graceful shutdown that loses nothing: stop taking requests,
 * stop consuming (in-flight batches commit), flush the outbox, then close the stores.
 *
 * A service's main.ts calls startServiceHost, registers its routes and handlers, and listens.
 *
 * Consumers see the bus through a decorator that times each batch for /metrics and, with
 * fault injection on (ORDERFLOW_FAULTS=1), first waits the latency set on PUT /_faults.
 *
 * Readiness (/health/ready): the database answers, the bus is reachable, and the relay is not
 * failing to publish for longer than RELAY_FAILING_MS with rows waiting: the HTTP routes can
 * serve. Whether every consumer is a member of its group is /health/consumers, apart: a
 * (re)started instance listens and is routed to while its consumers join (main.ts listens
 * before it consumes), which on Kafka takes seconds its routes need not wait for.
 *
 * Every host serves its dead letters on /_admin/dead-letters (dead-letter-routes.ts), and its
 * consumers, lag and outbox backlog on /_admin/status (status-route.ts), for the gateway's
 * admin API.
 *
 * The inbox is purged in the background past ORDERFLOW_INBOX_RETENTION_HOURS (inbox-purge.ts),
 * and so are dead letters replayed or discarded past ORDERFLOW_DLQ_SETTLED_RETENTION_DAYS.
 */
import { randomUUID } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import type { Bus, TopicSpec } from '../bus/bus.ts';
import { startConsumer, inboxMigrations, type Consumer, type MessageHandler, type ValidateMessage } from '../bus/consumer.ts';
import { startInboxPurge } from '../bus/inbox-purge.ts';
import { startSettledPurge } from '../bus/dead-letter-store.ts';
import type { Envelope } from '../bus/envelope.ts';
import { countKafkaRequests } from '../bus/kafka/kafka-requests.ts';
import { openBus } from '../bus/open.ts';
import { outboxMigrations, publishOutboxFromWal } from '../bus/outbox.ts';
import { startOutboxRelay, type OutboxRelay } from '../bus/outbox-relay.ts';
import type { PlatformConfig } from '../config.ts';
import type { Db, Migration } from '../db/db.ts';
import { migrate } from '../db/migrate.ts';
import { createBatchWriter, type BatchWriter } from '../db/batch-writer.ts';
import { createDbStats } from '../db/db-stats.ts';
import { openServiceDb } from '../db/open.ts';
import { buildHttpApp, type HttpApp } from '../http/app.ts';
import { createMessageMetrics, createMetricsRegistry, type MessageMetrics } from '../http/metrics.ts';
import { createLogger, type Logger } from '../log.ts';
import { startTracing } from '../telemetry/tracing.ts';
import { createBusMetrics, type BusMetrics } from '../telemetry/bus-metrics.ts';
import { createOutboxMetrics, type OutboxMetrics } from '../telemetry/outbox-metrics.ts';
import { installDeadLetterRoutes } from './dead-letter-routes.ts';
import { installStatusRoute } from './status-route.ts';
import { createFaults, failingHandlers, faultDelay, installFaultRoutes, type Faults } from './faults.ts';

export interface ServiceHostOptions {
  name: string;
  platform: Readonly<PlatformConfig>;
  migrations: Migration[];
  /** Topics this process publishes to or consumes; created when missing. */
  topics: string[];
  /** Contract check for consumed messages (platform does not know the contracts). */
  validate: ValidateMessage;
  log?: Logger;
}

export interface ConsumeOptions {
  groupId: string;
  topics: string[];
  handlers: Record<string, MessageHandler>;
  onProcessed?: (message: Envelope) => void;
}

export interface ServiceHost {
  name: string;
  app: HttpApp;
  db: Db;
  bus: Bus;
  log: Logger;
  relay: OutboxRelay;
  /** Group commit of the service's HTTP writes, its queue bounded by ORDERFLOW_WRITE_QUEUE_MAX. */
  write: BatchWriter;
  ids: { newId(): string };
  clock: { now(): Date };
  consume(opts: ConsumeOptions): Promise<void>;
  /**
   * A group the service runs by other means than `consume` (a stream processor's), reported as
   * the consumers' are: its lag on /metrics, its lag and handled total on /_admin/status.
   */
  watchGroup(groupId: string, topics: string[]): void;
  listen(port: number, host?: string): Promise<number>;
  /** Work to stop on close, after HTTP and the consumers stopped and before the stores close (e.g. a background loop). */
  onClose(fn: () => Promise<void>): void;
  close(): Promise<void>;
}

export async function startServiceHost(opts: ServiceHostOptions): Promise<ServiceHost> {
  const { platform } = opts;
  const log = opts.log ?? createLogger(opts.name, platform.logLevel);
  const tracing = await startTracing(platform.tracing, opts.name, log);
  // The per-order cost the lab reports: statements, transactions and Kafka requests on /metrics.
  const metrics = createMetricsRegistry(opts.name);
  const db = await openServiceDb(platform, opts.name, undefined, createDbStats(metrics));
  if (platform.bus === 'kafka') countKafkaRequests(metrics);
  await migrate(db, [...outboxMigrations, ...inboxMigrations, ...opts.migrations]);
  const bus = await openBus(platform, `${opts.name}-${randomUUID().slice(0, 8)}`, log);
  const specs: TopicSpec[] = opts.topics.map((name) => ({ name, partitions: platform.partitions, replicationFactor: platform.replicationFactor }));
  await bus.ensureTopics(specs);
  // With Debezium the outbox is published from the WAL by a connector the system registered.
  publishOutboxFromWal(platform.relay === 'debezium');
  const outbox = createOutboxMetrics(metrics, db);
  const relay = platform.relay === 'debezium' ? walRelay : startOutboxRelay({ db, bus: outbox.relayBus(bus), log, onDeadLettered: outbox.deadLettered });
  const busMetrics = createBusMetrics(metrics, bus, { log, db });
  const consumers: Consumer[] = [];
  const groups: string[] = [];
  const closers: Array<() => Promise<void>> = [];
  const inboxPurge = startInboxPurge({ db, log, retentionMs: platform.inbox.retentionHours * 3_600_000, intervalMs: platform.inbox.purgeIntervalMs });
  closers.push(() => inboxPurge.stop());
  const settledPurge = startSettledPurge({ db, log, retentionMs: platform.settledDeadLetterRetentionMs, intervalMs: platform.inbox.purgeIntervalMs });
  closers.push(() => settledPurge.stop());
  let closing: Promise<void> | undefined;

  const app = buildHttpApp({
    name: opts.name,
    log,
    metrics,
    tracing,
    timeouts: platform.http,
    checks: {
      database: async () => void (await db.query('SELECT 1 AS one')),
      bus: () => bus.reachable(),
      relay: () => relayPublishing(outbox),
    },
    consumerChecks: {
      consumers: async () => {
        const out = groups.filter((_, i) => !consumers[i].joined());
        if (out.length > 0) throw new Error(`not a member of group ${out.join(', ')} (yet)`);
      },
    },
  });
  const faults = platform.faultInjection ? createFaults() : undefined;
  if (faults) installFaultRoutes(app, faults);
  installDeadLetterRoutes(app, { service: opts.name, db });
  installStatusRoute(app, { service: opts.name, platform, consumers: () => busMetrics.consumers(), outboxBacklog: async () => (await outbox.backlog()).pending });
  const consumerBus = measuredBus(bus, createMessageMetrics(app.metrics), busMetrics, faults);

  const host: ServiceHost = {
    name: opts.name,
    app,
    db,
    bus,
    log,
    relay,
    write: createBatchWriter(db, { maxQueued: platform.writeQueueMax }),
    ids: { newId: () => uuidv7() },
    clock: { now: () => new Date() },
    async consume(c) {
      const outcomes = busMetrics.outcomes(c.groupId);
      consumers.push(await startConsumer({
        db, bus: consumerBus, groupId: c.groupId, topics: c.topics, handlers: faults ? failingHandlers(faults, c.handlers) : c.handlers,
        validate: opts.validate, log, onProcessed: c.onProcessed, outcomes, deadLetterRetentionMs: platform.deadLetterRetentionMs,
      }));
      groups.push(c.groupId);
      busMetrics.watch(c.groupId, c.topics);
    },
    watchGroup(groupId, topics) {
      busMetrics.watch(groupId, topics);
    },
    async listen(port, hostname = '127.0.0.1') {
      await app.listen({ port, host: hostname });
      const address = app.server.address();
      const bound = typeof address === 'object' && address ? address.port : port;
      log.info({ port: bound }, `${opts.name} listening`);
      return bound;
    },
    onClose(fn) {
      closers.push(fn);
    },
    close() {
      closing ??= (async () => {
        // Drained first (http/drain.ts): the callers' requests end on this instance or go to another.
        await app.drain().catch((err) => log.warn({ err }, 'http drain failed'));
        await app.close().catch((err) => log.warn({ err }, 'http close failed'));
        for (const c of consumers) await c.close().catch((err) => log.warn({ err }, 'consumer close failed'));
        for (const fn of closers) await fn().catch((err) => log.warn({ err }, 'close hook failed'));
        await relay.close().catch((err) => log.warn({ err }, 'relay close failed'));
        await bus.close().catch((err) => log.warn({ err }, 'bus close failed'));
        await db.close().catch((err) => log.warn({ err }, 'db close failed'));
        await tracing.shutdown();
      })();
      return closing;
    },
  };
  return host;
}

/** This process publishes nothing itself: flush cannot know when Debezium has published. */
const walRelay: OutboxRelay = { wake() {}, flush: async () => {}, close: async () => {} };

/** A publish may fail now and then (a leader moving); failing this long with rows waiting is not ready. */
export const RELAY_FAILING_MS = 5_000;

async function relayPublishing(outbox: OutboxMetrics): Promise<void> {
  const since = outbox.failingSince();
  if (since === undefined || Date.now() - since < RELAY_FAILING_MS) return;
  const { pending } = await outbox.backlog();
  if (pending > 0) throw new Error(`publishing has failed for ${Math.round((Date.now() - since) / 1000)} s with ${pending} rows waiting`);
}

/**
 * The bus as the consumers see it: each delivered batch is timed (the injected latency
 * included, as a client of a slow service would see it) and counted once handled.
 */
function measuredBus(bus: Bus, metrics: MessageMetrics, busMetrics: BusMetrics, faults: Faults | undefined): Bus {
  return {
    kind: bus.kind,
    positions: (topics, groupId) => bus.positions(topics, groupId),
    reachable: () => bus.reachable(),
    ensureTopics: (topics) => bus.ensureTopics(topics),
    publish: (records) => bus.publish(records),
    lag: (groupId, topics) => bus.lag(groupId, topics),
    read: (topic, readOpts) => bus.read(topic, readOpts),
    readPartition: (topic, partition, readOpts) => bus.readPartition(topic, partition, readOpts),
    tail: (topics, onRecords) => bus.tail(topics, onRecords),
    close: () => bus.close(),
    subscribe(sub) {
      const duration = metrics.batchDuration.labels(sub.groupId);
      const handled = metrics.handled.labels(sub.groupId);
      const size = busMetrics.batchSize(sub.groupId);
      return bus.subscribe({
        ...sub,
        async handle(batch) {
          size.observe(batch.length);
          const end = duration.startTimer();
          try {
            const wait = faults && faultDelay(faults);
            if (wait) await wait;
            await sub.handle(batch);
            handled.inc(batch.length);
          } finally {
            end();
          }
        },
      });
    },
  };
}

/** Closes the host on SIGTERM/SIGINT and exits; a second signal exits at once. */
export function closeOnSignals(host: Pick<ServiceHost, 'log' | 'close'>): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) process.exit(1);
    stopping = true;
    host.log.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 20_000);
    force.unref();
    host.close().then(
      () => process.exit(0),
      (err) => {
        host.log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}
