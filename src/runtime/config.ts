/**
 * What `orderflow up` and the other CLI commands read from the environment. The only file
 * of the runtime (besides infra/config.ts) that reads process.env.
 */
import { infraDir, prometheusTargetsFile } from './infra/config.ts';

type Env = Record<string, string | undefined>;

export interface RuntimeConfig {
  /** Brokers for --kafka when KAFKA_BROKERS is not set. */
  kafkaBrokers: string;
  /** Server for --postgres when DATABASE_URL is not set. */
  databaseUrl: string;
  /** Kafka Connect's REST API when ORDERFLOW_RELAY=debezium (CONNECT_URL), else undefined. */
  debeziumConnectUrl?: string;
  /** Where `orderflow up` lists its services for the local Prometheus (file_sd); the infra command reads the same path. */
  prometheusTargetsFile: string;
  /** OTEL_TRACES_EXPORTER as the user set it: `up --tracing` then leaves the services' exporter alone. */
  tracesExporter?: string;
  /** Instances of each backend service for `up` when --replicas is not given (ORDERFLOW_REPLICAS, default 1). */
  replicas: string;
  /** Where the notifications service sends e-mail (SMTP_URL, passed on to it); unset, its e-mail channel is off. */
  smtpUrl?: string;
  /** Mailpit's web UI and API (MAILPIT_URL), to say where a developer reads the mail. */
  mailpitUrl?: string;
  /** The event archive of `up` and `archive status` (ORDERFLOW_ARCHIVE_DIR); `<data dir>/archive` when unset. */
  archiveDir?: string;
  /** PORT, for `orderflow service --ready` (the image's health check); a service's own config reads it too. */
  servicePort?: string;
}

export function loadRuntimeConfig(env: Env = process.env): Readonly<RuntimeConfig> {
  return Object.freeze({
    kafkaBrokers: env.KAFKA_BROKERS || '127.0.0.1:9092',
    databaseUrl: env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres',
    debeziumConnectUrl: env.ORDERFLOW_RELAY === 'debezium' ? env.CONNECT_URL || undefined : undefined,
    prometheusTargetsFile: prometheusTargetsFile(infraDir(env)),
    tracesExporter: env.OTEL_TRACES_EXPORTER || undefined,
    // Validated where it is used, with the flag's message (cli.ts).
    replicas: env.ORDERFLOW_REPLICAS || '1',
    smtpUrl: env.SMTP_URL || undefined,
    mailpitUrl: env.MAILPIT_URL || undefined,
    archiveDir: env.ORDERFLOW_ARCHIVE_DIR || undefined,
    servicePort: env.PORT || undefined,
  });
}

/** The environment every supervised process starts from, before its own settings are laid over. */
export function inheritedEnv(env: Env = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) if (value !== undefined) out[key] = value;
  return out;
}
