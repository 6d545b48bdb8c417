/**
 * Opens the configured Bus adapter: the embedded log (one SQLite file under the data
 * folder, shared by every service process on the machine) or Apache Kafka.
 */
import { join } from 'node:path';
import type { Bus } from './bus.ts';
import { openEmbeddedLog } from './embedded/embedded-log.ts';
import { openKafkaBus } from './kafka/kafka-bus.ts';
import type { Logger } from '../log.ts';
import type { KafkaSecurity } from '../config.ts';

export interface BusConfig {
  bus: 'embedded' | 'kafka';
  dataDir: string;
  kafkaBrokers: string[];
  kafkaSecurity?: KafkaSecurity;
  /** Prefix of topic and group names on Kafka, so several deployments can share a cluster. */
  namespace: string;
  /** Unset: min(3, brokers up), see kafka/kafka-replication.ts. */
  replicationFactor?: number;
  /** Kafka's linger.ms for the producer (ORDERFLOW_KAFKA_LINGER_MS). */
  kafkaLingerMs: number;
  /** This process's instance name (embedded log: a restart of it takes its topics back at once). */
  instance?: string;
  /** Embedded log: a member silent this long is presumed dead and a standby takes over. */
  groupSessionMs?: number;
  /** The embedded log's trim (ORDERFLOW_LOG_RETENTION_MINUTES); without it records are kept forever. */
  embeddedLog?: { retentionMinutes: number; trimIntervalMs: number; groupExpiryHours: number };
}

/** Opens the bus named by `cfg.bus`; `clientId` names this process to Kafka. */
export async function openBus(cfg: BusConfig, clientId: string, log?: Logger): Promise<Bus> {
  if (cfg.bus === 'kafka') {
    return openKafkaBus({ brokers: cfg.kafkaBrokers, security: cfg.kafkaSecurity, clientId, instance: cfg.instance, namespace: cfg.namespace, replicationFactor: cfg.replicationFactor, lingerMs: cfg.kafkaLingerMs, log });
  }
  const e = cfg.embeddedLog;
  const retention = e && { retentionMs: e.retentionMinutes * 60_000, intervalMs: e.trimIntervalMs, groupExpiryMs: e.groupExpiryHours * 3_600_000 };
  return openEmbeddedLog({ file: join(cfg.dataDir, 'bus.sqlite'), log, retention, instance: cfg.instance, sessionMs: cfg.groupSessionMs });
}
