/**
 * Platform settings shared by every service process, read once from the environment,
 * validated and frozen. Only config.ts files read process.env.
 */
import { ConfigError } from './errors.ts';

/**
 * How the order saga runs (the lab compares them): events, orchestrated by orders over the
 * bus; choreography, each service reacting to the events of the one before; rest, orders
 * calling the others synchronously over HTTP inside the request.
 */
export const architectures = ['events', 'choreography', 'rest'] as const;
export type Architecture = (typeof architectures)[number];

export interface PlatformConfig {
  arch: Architecture;
  /** embedded: the SQLite log under dataDir; kafka: Apache Kafka at kafkaBrokers. */
  bus: 'embedded' | 'kafka';
  /** sqlite: one file per service under dataDir; postgres: one database per service at databaseUrl. */
  store: 'sqlite' | 'postgres';
  dataDir: string;
  kafkaBrokers: string[];
  /** How the Kafka clients connect: plaintext, TLS, SASL or both (KAFKA_SECURITY_PROTOCOL). */
  kafkaSecurity: KafkaSecurity;
  databaseUrl?: string;
  /** Prefix of Kafka topics, groups and PostgreSQL databases, so deployments and test runs never meet. */
  namespace: string;
  partitions: number;
  /** ORDERFLOW_REPLICATION_FACTOR; unset, Kafka topics get min(3, brokers up) copies (bus/kafka/kafka-replication.ts). */
  replicationFactor?: number;
  /** Kafka producer linger (ms): publishes within it share one produce request. */
  kafkaLingerMs: number;
  logLevel: string;
  /**
   * Who publishes the outbox: inprocess, each service's own relay; debezium, a Debezium
   * connector per service database on Kafka Connect at connectUrl, reading the WAL.
   */
  relay: 'inprocess' | 'debezium';
  connectUrl?: string;
  /** ORDERFLOW_FAULTS=1 opens the fault-injection endpoint (the lab's added latency); off by default. */
  faultInjection: boolean;
  tracing: TracingConfig;
  http: HttpTimeouts;
  postgres: PostgresTimeouts;
  /** HTTP write jobs (group commit) that may wait for a transaction; past it, new ones are refused with a 503. */
  writeQueueMax: number;
  inbox: InboxRetention;
  /**
   * This process's stable name among the instances of its service (ORDERFLOW_INSTANCE, e.g.
   * orders-2; set by `orderflow up`): the same name after a restart is the same member of
   * a consumer group coming back. Absent: the process is a member of its own.
   */
  instance?: string;
  /**
   * How many instances of each service run (ORDERFLOW_REPLICAS, default 1). Above 1 a
   * service keeps no cache another instance's commit could make stale (orders' state cache).
   */
  replicas: number;
  /**
   * Embedded log: a group member whose heartbeat is older than this is presumed dead, and a
   * standby member takes its place (ORDERFLOW_GROUP_SESSION_MS, default 6000).
   */
  groupSessionMs: number;
  embeddedLog: EmbeddedLogRetention;
  /**
   * retention.ms of the `<topic>.dlq` topics on Kafka, from ORDERFLOW_DLQ_RETENTION_DAYS;
   * -1 (the default, unset or "unlimited") keeps them forever: a dead letter waits for a human.
   */
  deadLetterRetentionMs: number;
  /**
   * How long a replayed or discarded row of the dead_letters table is kept, from
   * ORDERFLOW_DLQ_SETTLED_RETENTION_DAYS (default 30); pending rows are kept until someone acts.
   */
  settledDeadLetterRetentionMs: number;
}

/**
 * The embedded log's trim (bus/embedded/trim.ts): records older than the retention that every
 * group reading their topic has committed past are deleted; dead letters are kept.
 */
export interface EmbeddedLogRetention {
  retentionMinutes: number;
  trimIntervalMs: number;
  /** A group gone (no heartbeat, left) this long stops holding records back, as Kafka expires a group's offsets. */
  groupExpiryHours: number;
}

export const kafkaSecurityProtocols = ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'] as const;
export const kafkaSaslMechanisms = ['SCRAM-SHA-256', 'SCRAM-SHA-512', 'PLAIN'] as const;

/**
 * Kafka's own names (security.protocol, sasl.mechanism): SSL encrypts and checks the
 * broker's certificate (against caFile, or the system's CAs); SASL authenticates this client.
 */
export interface KafkaSecurity {
  protocol: (typeof kafkaSecurityProtocols)[number];
  /** PEM file of the CA that signed the brokers' certificates (KAFKA_SSL_CA_FILE). */
  caFile?: string;
  sasl?: { mechanism: (typeof kafkaSaslMechanisms)[number]; username: string; password: string };
}

/** KAFKA_SECURITY_PROTOCOL and its companions; PLAINTEXT unless told. */
export function loadKafkaSecurity(env: Env): Readonly<KafkaSecurity> {
  const protocol = oneOf('KAFKA_SECURITY_PROTOCOL', env.KAFKA_SECURITY_PROTOCOL ?? 'PLAINTEXT', kafkaSecurityProtocols);
  const tls = protocol === 'SSL' || protocol === 'SASL_SSL';
  if (!tls && env.KAFKA_SSL_CA_FILE) throw ConfigError(`KAFKA_SSL_CA_FILE is set but KAFKA_SECURITY_PROTOCOL is ${protocol}: set it to SSL or SASL_SSL`);
  if (!protocol.startsWith('SASL_')) return Object.freeze({ protocol, caFile: env.KAFKA_SSL_CA_FILE || undefined });
  const mechanism = oneOf('KAFKA_SASL_MECHANISM', env.KAFKA_SASL_MECHANISM ?? 'SCRAM-SHA-512', kafkaSaslMechanisms);
  if (!env.KAFKA_SASL_USERNAME || !env.KAFKA_SASL_PASSWORD) throw ConfigError(`KAFKA_SECURITY_PROTOCOL=${protocol} needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD`);
  // PLAIN sends the password as it is: only over TLS.
  if (mechanism === 'PLAIN' && !tls) throw ConfigError('KAFKA_SASL_MECHANISM=PLAIN sends the password in clear: use it with KAFKA_SECURITY_PROTOCOL=SASL_SSL only');
  return Object.freeze({ protocol, caFile: env.KAFKA_SSL_CA_FILE || undefined, sasl: Object.freeze({ mechanism, username: env.KAFKA_SASL_USERNAME, password: env.KAFKA_SASL_PASSWORD }) });
}

/**
 * The inbox purge (bus/inbox-purge.ts). The retention must exceed the bus's (Kafka: 7 days by
 * default): a redelivery older than it would no longer be recognised and be applied twice.
 */
export interface InboxRetention {
  /** Fractions allowed (0.1 = 6 minutes), for soak runs that must see the purge at work. */
  retentionHours: number;
  purgeIntervalMs: number;
}

/** Every HTTP server's waits (http/server-options.ts), from ORDERFLOW_HTTP_*_TIMEOUT_MS. */
export interface HttpTimeouts {
  /** Request line and headers must arrive within it. */
  headersTimeoutMs: number;
  /** The whole request, body included, must arrive within it: else a 408. */
  requestTimeoutMs: number;
  /** A socket silent this long during a request is closed. */
  idleTimeoutMs: number;
  /** An idle socket is kept this long between requests. */
  keepAliveTimeoutMs: number;
  /** On shutdown, how long the connections callers hold are still served before the close (http/drain.ts). */
  drainGraceMs: number;
}

export function loadHttpTimeouts(env: Env = process.env): Readonly<HttpTimeouts> {
  return Object.freeze({
    headersTimeoutMs: positiveInt('ORDERFLOW_HTTP_HEADERS_TIMEOUT_MS', env.ORDERFLOW_HTTP_HEADERS_TIMEOUT_MS ?? '10000'),
    requestTimeoutMs: positiveInt('ORDERFLOW_HTTP_REQUEST_TIMEOUT_MS', env.ORDERFLOW_HTTP_REQUEST_TIMEOUT_MS ?? '30000'),
    idleTimeoutMs: positiveInt('ORDERFLOW_HTTP_IDLE_TIMEOUT_MS', env.ORDERFLOW_HTTP_IDLE_TIMEOUT_MS ?? '60000'),
    // Longer than the idle timeout of most load balancers (60 s), so that they, not we,
    // close an idle socket and no request races our close.
    keepAliveTimeoutMs: positiveInt('ORDERFLOW_HTTP_KEEP_ALIVE_TIMEOUT_MS', env.ORDERFLOW_HTTP_KEEP_ALIVE_TIMEOUT_MS ?? '72000'),
    // Long enough for every caller's socket to carry one answer with `connection: close`; a
    // balancer stops choosing a draining instance at its first such answer.
    drainGraceMs: positiveInt('ORDERFLOW_HTTP_DRAIN_GRACE_MS', env.ORDERFLOW_HTTP_DRAIN_GRACE_MS ?? '2000'),
  });
}

/** Waits of the PostgreSQL adapter (db/postgres.ts), from ORDERFLOW_PG_*_TIMEOUT_MS; 0 turns a server-side one off. */
export interface PostgresTimeouts {
  /** Waiting for a pooled connection: past it, a coded 503. */
  acquireTimeoutMs: number;
  /** statement_timeout of every connection. */
  statementTimeoutMs: number;
  /** idle_in_transaction_session_timeout of every connection. */
  idleInTransactionTimeoutMs: number;
}

export function loadPostgresTimeouts(env: Env): Readonly<PostgresTimeouts> {
  return Object.freeze({
    acquireTimeoutMs: positiveInt('ORDERFLOW_PG_ACQUIRE_TIMEOUT_MS', env.ORDERFLOW_PG_ACQUIRE_TIMEOUT_MS ?? '5000'),
    statementTimeoutMs: nonNegativeInt('ORDERFLOW_PG_STATEMENT_TIMEOUT_MS', env.ORDERFLOW_PG_STATEMENT_TIMEOUT_MS ?? '10000'),
    idleInTransactionTimeoutMs: nonNegativeInt('ORDERFLOW_PG_IDLE_IN_TRANSACTION_TIMEOUT_MS', env.ORDERFLOW_PG_IDLE_IN_TRANSACTION_TIMEOUT_MS ?? '30000'),
  });
}

export const tracesSamplers = ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'] as const;

/**
 * OpenTelemetry tracing, from the standard variables: OTEL_TRACES_EXPORTER (none, the
 * default here, zipkin or otlp), OTEL_EXPORTER_ZIPKIN_ENDPOINT, OTEL_EXPORTER_OTLP_ENDPOINT
 * or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (HTTP/protobuf), OTEL_TRACES_SAMPLER[_ARG] and
 * OTEL_SERVICE_NAME (the service's own name when unset).
 */
export interface TracingConfig {
  exporter: 'none' | 'zipkin' | 'otlp';
  zipkinEndpoint: string;
  otlpEndpoint: string;
  sampler: (typeof tracesSamplers)[number];
  samplerArg: number;
  serviceName?: string;
}

export function loadTracingConfig(env: Env = process.env): Readonly<TracingConfig> {
  const exporter = oneOf('OTEL_TRACES_EXPORTER', env.OTEL_TRACES_EXPORTER || 'none', ['none', 'zipkin', 'otlp'] as const);
  const otlpBase = (env.OTEL_EXPORTER_OTLP_ENDPOINT || 'http://localhost:4318').replace(/\/+$/, '');
  const samplerArg = Number(env.OTEL_TRACES_SAMPLER_ARG ?? '1');
  if (!(samplerArg >= 0 && samplerArg <= 1)) throw ConfigError(`OTEL_TRACES_SAMPLER_ARG must be a ratio from 0 to 1; got "${env.OTEL_TRACES_SAMPLER_ARG}"`);
  return Object.freeze({
    exporter,
    zipkinEndpoint: env.OTEL_EXPORTER_ZIPKIN_ENDPOINT || 'http://localhost:9411/api/v2/spans',
    otlpEndpoint: env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || `${otlpBase}/v1/traces`,
    sampler: oneOf('OTEL_TRACES_SAMPLER', env.OTEL_TRACES_SAMPLER || 'parentbased_always_on', tracesSamplers),
    samplerArg,
    serviceName: env.OTEL_SERVICE_NAME || undefined,
  });
}

type Env = Record<string, string | undefined>;

function oneOf<T extends string>(name: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) throw ConfigError(`${name} must be one of ${allowed.join(', ')}; got "${value}"`);
  return value as T;
}

function positiveInt(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw ConfigError(`${name} must be a positive integer; got "${value}"`);
  return n;
}

function positiveNumber(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw ConfigError(`${name} must be a positive number; got "${value}"`);
  return n;
}

function nonNegativeInt(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw ConfigError(`${name} must be a whole number of 0 or more; got "${value}"`);
  return n;
}

function dlqRetentionMs(value: string | undefined): number {
  if (value === undefined || value === '' || value === 'unlimited') return -1;
  return positiveInt('ORDERFLOW_DLQ_RETENTION_DAYS', value) * 86_400_000;
}

export function loadPlatformConfig(env: Env = process.env): Readonly<PlatformConfig> {
  const arch = oneOf('ORDERFLOW_ARCH', env.ORDERFLOW_ARCH ?? 'events', architectures);
  const bus = oneOf('ORDERFLOW_BUS', env.ORDERFLOW_BUS ?? 'embedded', ['embedded', 'kafka'] as const);
  const store = oneOf('ORDERFLOW_STORE', env.ORDERFLOW_STORE ?? 'sqlite', ['sqlite', 'postgres'] as const);
  const kafkaBrokers = (env.KAFKA_BROKERS ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (bus === 'kafka' && kafkaBrokers.length === 0) throw ConfigError('ORDERFLOW_BUS=kafka needs KAFKA_BROKERS (e.g. 127.0.0.1:9092)');
  if (store === 'postgres' && !env.DATABASE_URL) throw ConfigError('ORDERFLOW_STORE=postgres needs DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/postgres)');
  const relay = oneOf('ORDERFLOW_RELAY', env.ORDERFLOW_RELAY ?? 'inprocess', ['inprocess', 'debezium'] as const);
  if (relay === 'debezium' && (bus !== 'kafka' || store !== 'postgres' || !env.CONNECT_URL)) {
    throw ConfigError('ORDERFLOW_RELAY=debezium needs ORDERFLOW_BUS=kafka, ORDERFLOW_STORE=postgres and CONNECT_URL (npm run infra:connect)');
  }
  const namespace = env.ORDERFLOW_NAMESPACE ?? 'orderflow';
  if (!/^[a-z][a-z0-9_]{0,40}$/.test(namespace)) throw ConfigError(`ORDERFLOW_NAMESPACE must match [a-z][a-z0-9_]*; got "${namespace}"`);
  return Object.freeze({
    arch,
    bus,
    store,
    dataDir: env.ORDERFLOW_DATA_DIR ?? 'data',
    kafkaBrokers,
    kafkaSecurity: loadKafkaSecurity(env),
    databaseUrl: env.DATABASE_URL,
    namespace,
    partitions: positiveInt('ORDERFLOW_PARTITIONS', env.ORDERFLOW_PARTITIONS ?? '8'),
    replicationFactor: env.ORDERFLOW_REPLICATION_FACTOR ? positiveInt('ORDERFLOW_REPLICATION_FACTOR', env.ORDERFLOW_REPLICATION_FACTOR) : undefined,
    kafkaLingerMs: nonNegativeInt('ORDERFLOW_KAFKA_LINGER_MS', env.ORDERFLOW_KAFKA_LINGER_MS ?? '0'),
    logLevel: env.LOG_LEVEL ?? 'info',
    faultInjection: env.ORDERFLOW_FAULTS === '1',
    relay,
    connectUrl: env.CONNECT_URL || undefined,
    tracing: loadTracingConfig(env),
    http: loadHttpTimeouts(env),
    postgres: loadPostgresTimeouts(env),
    writeQueueMax: positiveInt('ORDERFLOW_WRITE_QUEUE_MAX', env.ORDERFLOW_WRITE_QUEUE_MAX ?? '2048'),
    inbox: Object.freeze({
      // 8 days: Kafka's default retention (7 days) and one day of margin.
      retentionHours: positiveNumber('ORDERFLOW_INBOX_RETENTION_HOURS', env.ORDERFLOW_INBOX_RETENTION_HOURS ?? '192'),
      purgeIntervalMs: positiveInt('ORDERFLOW_INBOX_PURGE_INTERVAL_MS', env.ORDERFLOW_INBOX_PURGE_INTERVAL_MS ?? '600000'),
    }),
    embeddedLog: Object.freeze({
      // An hour: every group has committed what is trimmed, so the retention is only how far
      // back an operator, a tool or a newly added group can still read. An hour of a laptop's
      // traffic is small, and the inbox (8 days) outlives it by far, so nothing redelivered
      // from the log can be applied twice. At lab rates, shorten it: a record takes some 600
      // bytes of the file and an order makes 8 to 9 of them, so 50 orders/s keep about 1 GB.
      retentionMinutes: positiveInt('ORDERFLOW_LOG_RETENTION_MINUTES', env.ORDERFLOW_LOG_RETENTION_MINUTES ?? '60'),
      trimIntervalMs: positiveInt('ORDERFLOW_LOG_TRIM_INTERVAL_MS', env.ORDERFLOW_LOG_TRIM_INTERVAL_MS ?? '60000'),
      // 7 days, Kafka's offsets.retention.minutes: a service stopped for a long weekend still
      // finds its records; a group gone for good (a removed consumer, the groups of another
      // architecture after ORDERFLOW_ARCH changed) does not keep its topics for ever.
      groupExpiryHours: positiveInt('ORDERFLOW_LOG_GROUP_EXPIRY_HOURS', env.ORDERFLOW_LOG_GROUP_EXPIRY_HOURS ?? '168'),
    }),
    deadLetterRetentionMs: dlqRetentionMs(env.ORDERFLOW_DLQ_RETENTION_DAYS),
    settledDeadLetterRetentionMs: positiveInt('ORDERFLOW_DLQ_SETTLED_RETENTION_DAYS', env.ORDERFLOW_DLQ_SETTLED_RETENTION_DAYS ?? '30') * 86_400_000,
    instance: env.ORDERFLOW_INSTANCE || undefined,
    replicas: positiveInt('ORDERFLOW_REPLICAS', env.ORDERFLOW_REPLICAS ?? '1'),
    groupSessionMs: positiveInt('ORDERFLOW_GROUP_SESSION_MS', env.ORDERFLOW_GROUP_SESSION_MS ?? '6000'),
  });
}

/**
 * A service's address setting: one origin, or several instances' separated by commas
 * (ORDERS_URL=http://127.0.0.1:8081,http://127.0.0.1:8181), each reduced to its origin.
 */
export function originList(name: string, value: string): string[] {
  const parts = value.split(',').map((s) => s.trim()).filter(Boolean);
  if (parts.length === 0) throw ConfigError(`${name} must name at least one URL like http://127.0.0.1:8081; got "${value}"`);
  return parts.map((part) => {
    try {
      return new URL(part).origin;
    } catch (cause) {
      throw ConfigError(`${name} must be URLs like http://127.0.0.1:8081, separated by commas; got "${part}"`, { cause });
    }
  });
}

export interface ServiceConfig {
  port: number;
  host: string;
  platform: Readonly<PlatformConfig>;
}

/** What every bus-and-database service reads: where it listens (PORT, HOST) and the platform. */
export function loadServiceConfig(env: Env, defaultPort: number): ServiceConfig {
  const port = Number(env.PORT ?? defaultPort);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw ConfigError(`PORT must be a port number; got "${env.PORT}"`);
  return { port, host: env.HOST ?? '127.0.0.1', platform: loadPlatformConfig(env) };
}
