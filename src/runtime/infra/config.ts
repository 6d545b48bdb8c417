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

export function loadInfraConfig(env: NodeJS.ProcessEnv = process.env): InfraConfig {
  return Object.freeze({
    dir: resolve(env.ORDERFLOW_INFRA_DIR || resolve(repoRoot, '.infra')),
    kafkaPort: port(env, 'ORDERFLOW_KAFKA_PORT', 9092),
    pgPort: port(env, 'ORDERFLOW_PG_PORT', 5432),
  });
}
