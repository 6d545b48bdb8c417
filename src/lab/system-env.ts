/**
 * What every lab run (lab, chaos, lab rollout) gives the system it starts: its architecture,
 * the bus and store it runs on (Kafka and PostgreSQL where the run was given them, else the
 * embedded default), a namespace of its own (topics, groups and databases a developer's
 * `orderflow up` never shares), tracing off unless the run traces, and the gateway's rate
 * limits off (the load comes from one address and one token).
 */
import type { Architecture } from '#platform/config.ts';
import { unlimitedGateway } from '#runtime/system.ts';

export type DeploymentName = 'embedded' | 'distributed' | 'kafka+sqlite' | 'embedded+postgres';

/** The deployment's name in reports and metrics labels, from what it runs on. */
export function deploymentName(kafka: boolean, postgres: boolean): DeploymentName {
  return kafka && postgres ? 'distributed' : !kafka && !postgres ? 'embedded' : kafka ? 'kafka+sqlite' : 'embedded+postgres';
}

export interface LabSystem {
  arch: Architecture;
  namespace: string;
  kafka?: { brokers: string };
  postgres?: { url: string };
  /** Zipkin to export spans to; tracing off without it. */
  zipkin?: { url: string };
}

export function labSystemEnv(o: LabSystem): Record<string, string> {
  return {
    ORDERFLOW_ARCH: o.arch,
    LOG_LEVEL: 'warn',
    ORDERFLOW_BUS: o.kafka ? 'kafka' : 'embedded',
    ORDERFLOW_STORE: o.postgres ? 'postgres' : 'sqlite',
    ORDERFLOW_NAMESPACE: o.namespace,
    ...(o.kafka ? { KAFKA_BROKERS: o.kafka.brokers } : {}),
    ...(o.postgres ? { DATABASE_URL: o.postgres.url } : {}),
    // Set either way: an OTEL_TRACES_EXPORTER in the lab's own environment must not trace an untraced run.
    ...tracingEnv(o.zipkin),
    ...unlimitedGateway,
    // The console's live tail off: nobody watches a lab's system, and the gateway reading
    // every record is not part of what an order costs.
    GATEWAY_EVENT_TAIL_RECORDS: '0',
  };
}

/** The standard OpenTelemetry variables that turn a service's tracing on (to Zipkin at `zipkin.url`) or off. */
export function tracingEnv(zipkin: { url: string } | undefined): Record<string, string> {
  if (!zipkin) return { OTEL_TRACES_EXPORTER: 'none' };
  return { OTEL_TRACES_EXPORTER: 'zipkin', OTEL_EXPORTER_ZIPKIN_ENDPOINT: `${zipkin.url.replace(/\/+$/, '')}/api/v2/spans` };
}
