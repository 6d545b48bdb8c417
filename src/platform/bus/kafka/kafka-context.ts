/** What the Kafka adapter's parts share: connection settings, logger, topic naming. */
export interface KafkaLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface KafkaContext {
  brokers: string[];
  clientId: string;
  log: KafkaLogger;
  /** Name on the broker (namespace applied). */
  full(name: string): string;
  /** Name as callers know it (namespace removed). */
  short(name: string): string;
}
