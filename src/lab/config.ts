/** What the bench and the lab take from the environment: where Kafka, PostgreSQL and Zipkin are. */
export interface LabEnv {
  kafkaBrokers?: string;
  databaseUrl?: string;
  /** Zipkin's base URL (ZIPKIN_URL, e.g. http://127.0.0.1:9411), for lab --tracing on|both. */
  zipkinUrl?: string;
}

export function loadLabEnv(env: Record<string, string | undefined> = process.env): Readonly<LabEnv> {
  return Object.freeze({
    kafkaBrokers: env.KAFKA_BROKERS || undefined,
    databaseUrl: env.DATABASE_URL || undefined,
    zipkinUrl: env.ZIPKIN_URL?.replace(/\/+$/, '') || undefined,
  });
}
