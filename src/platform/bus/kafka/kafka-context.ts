import type { CommitPolicy } from './lazy-commits.ts';
import type { KafkaConnection } from './kafka-connection.ts';

export interface FetchSettings {
  /** How long the broker holds a fetch that has fewer than minBytes (default 500 ms). */
  maxWaitTime?: number;
  /** Bytes a fetch waits for, up to maxWaitTime (default 1: answer at the first record, lowest latency). */
  minBytes?: number;
}

/** What the Kafka adapter's parts share: connection settings, logger, topic naming. */
export interface KafkaLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface KafkaContext {
  brokers: string[];
  /** TLS and SASL options every client is made with (kafka-connection.ts). */
  connection: KafkaConnection;
  /** The process's instance name, for static group membership (kafka-bus.ts). */
  instance?: string;
  clientId: string;
  log: KafkaLogger;
  /** When subscriptions commit offsets (lazy-commits.ts); defaults where unset. */
  commitPolicy?: Partial<CommitPolicy>;
  /** Fetch settings of subscriptions, over kafka-subscription.ts's consumerSettings. */
  fetch?: FetchSettings;
  /** Name on the broker (namespace applied). */
  full(name: string): string;
  /** Name as callers know it (namespace removed). */
  short(name: string): string;
}
