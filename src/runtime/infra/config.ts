/**
 * Settings of the local infrastructure commands. The only file here that reads process.env.
 */
import { fileURLToPath } from 'node:url';
import { join, resolve } from 'node:path';
import { ConfigError } from '#platform/errors.ts';

export type InfraConfig = Readonly<{
  /** Cache root: Kafka under `<dir>/kafka`, PostgreSQL under `<dir>/postgres`, Zipkin, Prometheus, Mailpit, Schemathesis... */
  dir: string;
  kafkaPort: number;
  pgPort: number;
  /** ORDERFLOW_PG_WAL_LEVEL: logical for Debezium's relay; replica by default. */
  pgWalLevel: 'replica' | 'logical';
  /** ORDERFLOW_CONNECT_PORT: Kafka Connect's REST API. */
  connectPort: number;
  /** Where the Connect worker finds Kafka. */
  kafkaBrokers: string;
  /** ORDERFLOW_ZIPKIN_PORT: Zipkin's API and UI (/zipkin/). */
  zipkinPort: number;
  /** ORDERFLOW_PROMETHEUS_PORT: Prometheus's API, UI and console templates. */
  prometheusPort: number;
  prometheus: PrometheusFiles;
  /** ORDERFLOW_MAILPIT_SMTP_PORT: where Mailpit takes e-mail (SMTP_URL). */
  mailpitSmtpPort: number;
  /** ORDERFLOW_MAILPIT_HTTP_PORT: Mailpit's REST API and web UI (MAILPIT_URL). */
  mailpitHttpPort: number;
  /** ORDERFLOW_PYTHON: the interpreter that makes Schemathesis's venv (3.11 or newer); python3 by default. */
  python: string;
}>;

/** What the local Prometheus reads: the services to scrape (from `orderflow up`) and the repository's rules and consoles. */
export type PrometheusFiles = Readonly<{
  /** The file_sd target file `orderflow up` writes. */
  targetsFile: string;
  /** A glob: `deploy/prometheus/rules/*.yml`. */
  rules: string;
  consoles: string;
  consoleLibraries: string;
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

/** The infra cache root: ORDERFLOW_INFRA_DIR, else `.infra` in the repository. */
export function infraDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.ORDERFLOW_INFRA_DIR || resolve(repoRoot, '.infra'));
}

/**
 * Where `orderflow up` lists its services for Prometheus (file_sd) and where the Prometheus
 * of `orderflow infra prometheus` looks for them: decided here, once, for both sides.
 */
export function prometheusTargetsFile(dir: string): string {
  return join(dir, 'prometheus', 'targets', 'orderflow.json');
}

export function loadInfraConfig(env: NodeJS.ProcessEnv = process.env): InfraConfig {
  const dir = infraDir(env);
  const assets = join(repoRoot, 'deploy', 'prometheus');
  return Object.freeze({
    dir,
    kafkaPort: port(env, 'ORDERFLOW_KAFKA_PORT', 9092),
    pgPort: port(env, 'ORDERFLOW_PG_PORT', 5432),
    pgWalLevel: walLevel(env.ORDERFLOW_PG_WAL_LEVEL),
    connectPort: port(env, 'ORDERFLOW_CONNECT_PORT', 18083),
    kafkaBrokers: env.KAFKA_BROKERS || `127.0.0.1:${port(env, 'ORDERFLOW_KAFKA_PORT', 9092)}`,
    zipkinPort: port(env, 'ORDERFLOW_ZIPKIN_PORT', 9411),
    prometheusPort: port(env, 'ORDERFLOW_PROMETHEUS_PORT', 9090),
    prometheus: Object.freeze({
      targetsFile: prometheusTargetsFile(dir),
      rules: join(assets, 'rules', '*.yml'),
      consoles: join(assets, 'consoles'),
      consoleLibraries: join(assets, 'console_libraries'),
    }),
    python: env.ORDERFLOW_PYTHON || 'python3',
    mailpitSmtpPort: port(env, 'ORDERFLOW_MAILPIT_SMTP_PORT', 1025),
    mailpitHttpPort: port(env, 'ORDERFLOW_MAILPIT_HTTP_PORT', 8025),
  });
}
