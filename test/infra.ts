/**
 * How tests find real infrastructure. Tests that need Kafka or PostgreSQL read
 * KAFKA_BROKERS / DATABASE_URL. Without them they skip with a clear message; with
 * ORDERFLOW_REQUIRE_INFRA=1 (CI) their absence is a failure instead.
 */
import type { TestContext } from 'node:test';

const required = process.env.ORDERFLOW_REQUIRE_INFRA === '1';

function need(name: string, what: string): { value?: string; skip?: string } {
  const value = process.env[name];
  if (value) return { value };
  if (required) throw new Error(`${name} is not set but ORDERFLOW_REQUIRE_INFRA=1: start ${what} (npm run infra:${what === 'Kafka' ? 'kafka' : 'postgres'}) and export ${name}`);
  return { skip: `${name} not set: start ${what} with npm run infra:${what === 'Kafka' ? 'kafka' : 'postgres'} and export ${name} to run this test` };
}

/** For `describe`/`test` options: `{ skip: kafkaSkip() }` skips when Kafka is absent (fails under CI). */
export const kafkaSkip = (): string | undefined => need('KAFKA_BROKERS', 'Kafka').skip;
export const postgresSkip = (): string | undefined => need('DATABASE_URL', 'PostgreSQL').skip;

/**
 * Kafka Connect with Debezium (npm run infra:connect) is optional even under CI: the
 * Debezium relay tests skip without CONNECT_URL.
 */
export const connectSkip = (): string | undefined =>
  process.env.CONNECT_URL ? undefined : 'CONNECT_URL not set: start Kafka Connect with npm run infra:connect and export CONNECT_URL to run this test';

/** Inside a test: returns the brokers, or skips the test (fails under CI). */
export function kafkaBrokers(t: TestContext): string[] | undefined {
  const r = need('KAFKA_BROKERS', 'Kafka');
  if (r.skip) t.skip(r.skip);
  return r.value?.split(',').map((s) => s.trim());
}

export function databaseUrl(t: TestContext): string | undefined {
  const r = need('DATABASE_URL', 'PostgreSQL');
  if (r.skip) t.skip(r.skip);
  return r.value;
}

/** A name unique to this test run, for databases, topics and groups. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
}
