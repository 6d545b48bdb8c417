/** What the bench and the lab take from the environment: where Kafka and PostgreSQL are. */
export interface LabEnv {
  kafkaBrokers?: string;
  databaseUrl?: string;
}

export function loadLabEnv(env: Record<string, string | undefined> = process.env): Readonly<LabEnv> {
  return Object.freeze({ kafkaBrokers: env.KAFKA_BROKERS || undefined, databaseUrl: env.DATABASE_URL || undefined });
}
