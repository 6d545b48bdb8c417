/**
 * The event archive of a running system (platform/bus/archive.ts has the format), started by
 * startSystem when asked (`orderflow up` asks by default) and stopped with it:
 * - on Kafka with a Connect worker (CONNECT_URL): a FileStreamSinkConnector per topic
 *   (platform/bus/archive-connector.ts), registered once the services run, removed on stop;
 * - otherwise (the embedded log, or Kafka without Connect): the platform sink
 *   (platform/bus/archive-sink.ts) in this, the supervisor's, process: it already opens what
 *   belongs to the whole system, and a sink of its own process would be one more thing to
 *   supervise. When analytics exists it may take the sink over.
 * Both write the same files, so whatever reads the archive does not know which wrote it.
 */
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { Topics } from '#contracts/topics.ts';
import { loadPlatformConfig } from '#platform/config.ts';
import { ConfigError, isOrderflowError } from '#platform/errors.ts';
import { createLogger } from '#platform/log.ts';
import type { Bus } from '#platform/bus/bus.ts';
import { openBus } from '#platform/bus/open.ts';
import { startArchiveSink } from '#platform/bus/archive-sink.ts';
import { registerArchiveConnectors, removeArchiveConnector, type ArchiveConnectorTarget } from '#platform/bus/archive-connector.ts';

/**
 * What is archived unless told otherwise: the orders' events and the shoppers' client events
 * (the ingestion service's log), the inputs analytics derives its read model from and a
 * rebuild reads back (services/analytics/rebuild.ts). A topic the bus does not have is left
 * out with a log line.
 */
export const defaultArchivedTopics: readonly string[] = [Topics.ordersEvents, Topics.clientEvents];

export interface ArchiveOptions {
  /** The archive directory (made absolute: the Connect worker needs a full path). */
  dir: string;
  /** Default: defaultArchivedTopics. */
  topics?: readonly string[];
  /** Who writes it: by default Connect on Kafka when CONNECT_URL is set, the platform sink otherwise. */
  via?: 'connect' | 'sink';
}

export interface RunningArchive {
  dir: string;
  via: 'connect' | 'sink';
  /** The topics being archived: those asked for that the bus has. */
  topics: string[];
  /** Stops the sink, or removes the connectors (their tasks commit first). Idempotent. */
  stop(): Promise<void>;
}

/** Starts the archive of the system whose services run with `env`. */
export async function startArchive(env: Record<string, string>, opts: ArchiveOptions, say: (line: string) => void = () => {}): Promise<RunningArchive> {
  const platform = loadPlatformConfig(env);
  const dir = resolve(opts.dir);
  const via = opts.via ?? (platform.bus === 'kafka' && platform.connectUrl ? 'connect' : 'sink');
  if (via === 'connect' && (platform.bus !== 'kafka' || !platform.connectUrl)) throw ConfigError('an archive written by Kafka Connect needs ORDERFLOW_BUS=kafka and CONNECT_URL (npm run infra:connect)');
  const log = createLogger('archive', platform.logLevel);
  // Not this process's instance of any service: the embedded log's group member `archive`,
  // which a restarted supervisor takes back at once; no trim from here, the services trim.
  const bus = await openBus({ ...platform, instance: 'archive', embeddedLog: undefined }, `archive-${randomUUID().slice(0, 8)}`, log);
  let topics: string[];
  try {
    topics = await existingTopics(bus, opts.topics ?? defaultArchivedTopics);
  } catch (err) {
    await bus.close();
    throw err;
  }
  const absent = (opts.topics ?? defaultArchivedTopics).filter((t) => !topics.includes(t));
  if (absent.length > 0) say(`archive: not archiving ${absent.join(', ')}: no such topic on the bus`);

  if (via === 'connect' || topics.length === 0) await bus.close();
  if (topics.length === 0) return { dir, via, topics, stop: async () => {} };
  if (via === 'connect') {
    const targets: ArchiveConnectorTarget[] = topics.map((topic) => ({ connectUrl: platform.connectUrl!, dir, topic, namespace: platform.namespace }));
    const remove = async () => {
      for (const t of targets) await removeArchiveConnector(t).catch((err) => say(`archive: removing the connector of ${t.topic} failed: ${(err as Error).message}`));
    };
    try {
      await registerArchiveConnectors(targets);
    } catch (err) {
      await remove();
      throw err;
    }
    say(`archive: ${topics.join(', ')} into ${dir} by Kafka Connect at ${platform.connectUrl}`);
    let stopping: Promise<void> | undefined;
    return { dir, via, topics, stop: () => (stopping ??= remove()) };
  }

  let sink;
  try {
    sink = await startArchiveSink({ bus, topics, dir, log });
  } catch (err) {
    await bus.close();
    throw err;
  }
  say(`archive: ${topics.join(', ')} into ${dir} by the platform sink`);
  let stopping: Promise<void> | undefined;
  return { dir, via, topics, stop: () => (stopping ??= sink.close().finally(() => bus.close())) };
}

/** The topics of `wanted` the bus has, in that order. */
async function existingTopics(bus: Bus, wanted: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const topic of wanted) {
    try {
      await bus.positions([topic]);
      out.push(topic);
    } catch (err) {
      if (!isOrderflowError(err, 'PLT_ERR_UNKNOWN_TOPIC') && !isOrderflowError(err, 'PLT_ERR_KAFKA_UNKNOWN_TOPIC')) throw err;
    }
  }
  return out;
}
