import { ConfigError } from '#platform/errors.ts';

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

/**
 * The environment of a bench's system on `deployment`: the embedded default, or Kafka and
 * PostgreSQL from `lab` with a namespace of its own. Undefined when distributed cannot run
 * here (no KAFKA_BROKERS or DATABASE_URL); a coded error for an unknown name.
 */
export function benchDeploymentEnv(deployment: string, lab: Readonly<LabEnv>, base: Record<string, string>, namespace: string): Record<string, string> | undefined {
  if (deployment === 'embedded') return { ...base };
  if (deployment !== 'distributed') throw ConfigError(`unknown deployment ${deployment}: use embedded or distributed`);
  if (!lab.kafkaBrokers || !lab.databaseUrl) return undefined;
  return { ...base, ORDERFLOW_BUS: 'kafka', ORDERFLOW_STORE: 'postgres', KAFKA_BROKERS: lab.kafkaBrokers, DATABASE_URL: lab.databaseUrl, ORDERFLOW_NAMESPACE: namespace };
}
