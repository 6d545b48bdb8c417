/**
 * Settings of the local infrastructure commands. The only file here that reads process.env.
 */
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import { ConfigError } from '#platform/errors.ts';

export type InfraConfig = Readonly<{
  /** Cache root: Kafka under `<dir>/kafka`, PostgreSQL under `<dir>/postgres`. */
  dir: string;
  kafkaPort: number;
  pgPort: number;
  /** ORDERFLOW_PG_WAL_LEVEL: logical for Debezium's relay; replica by default. */
  pgWalLevel: 'replica' | 'logical';
  /** ORDERFLOW_CONNECT_PORT: Kafka Connect's REST API. */
  connectPort: number;
  /** Where the Connect worker finds Kafka. */
  kafkaBrokers: string;
}>;

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

function port(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  // Kafka also takes port+1 for its controller listener.
  if (!Number.isInteger(n) || n < 1 || n > 65534) throw ConfigError(`${name} must be a port number (1..65534), got "${raw}"`);
  return n;
}

function walLevel(raw: string | undefined): 'replica' | 'logical' {
  if (raw === undefined || raw === '' || raw === 'replica') return 'replica';
  if (raw === 'logical') return 'logical';
  throw ConfigError(`ORDERFLOW_PG_WAL_LEVEL must be replica or logical, got "${raw}"`);
}

export function loadInfraConfig(env: NodeJS.ProcessEnv = process.env): InfraConfig {
  return Object.freeze({
    dir: resolve(env.ORDERFLOW_INFRA_DIR || resolve(repoRoot, '.infra')),
    kafkaPort: port(env, 'ORDERFLOW_KAFKA_PORT', 9092),
    pgPort: port(env, 'ORDERFLOW_PG_PORT', 5432),
    pgWalLevel: walLevel(env.ORDERFLOW_PG_WAL_LEVEL),
    connectPort: port(env, 'ORDERFLOW_CONNECT_PORT', 18083),
    kafkaBrokers: env.KAFKA_BROKERS || `127.0.0.1:${port(env, 'ORDERFLOW_KAFKA_PORT', 9092)}`,
  });
}
