/**
 * The event archive on Kafka (archive.ts has the format): one Kafka Connect
 * FileStreamSinkConnector per archived topic (the `connect-file` jar of Kafka's own
 * distribution, in the worker of runtime/infra/connect.ts), writing each record's value,
 * a plain string (StringConverter), as a line of `<dir>/<topic>.jsonl`.
 *
 * Why one connector per topic: the file sink writes all its topics into one file, and the
 * archive is a file per topic. Why the file sink: the worker of `npm run infra:connect` runs
 * on this machine, so its files are the archive's, with nothing more to install. On a
 * cluster, whose workers run elsewhere, the archive would be tables instead: a JDBC sink
 * (Debezium's io.debezium.connector.jdbc.JdbcSinkConnector) into a PostgreSQL database for
 * reporting; the reader (readArchive) would then read those tables.
 *
 * Delivery: the worker's consumer group for a connector is `connect-<connector name>`; it
 * commits offsets after the task flushed (every offset.flush.interval.ms, and when the
 * connector is removed), so a restart of the worker appends again what it wrote since
 * (at least once). The sink flushes Java's buffer but does not fsync: a power loss can lose
 * lines whose offsets were committed, which the platform sink (archive-sink.ts) does not.
 * A connector removed and registered again under the same name resumes where its group was.
 */
import { mkdirSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { archiveFile } from './archive.ts';
import { ConnectFailed, connectCall } from './debezium.ts';

const FILE_SINK = 'org.apache.kafka.connect.file.FileStreamSinkConnector';
const STRING = 'org.apache.kafka.connect.storage.StringConverter';

export interface ArchiveConnectorTarget {
  connectUrl: string;
  /** The archive directory, an absolute path on the worker's machine. */
  dir: string;
  /** The topic as the services name it. */
  topic: string;
  /** Kafka topics are `<namespace>.<topic>` when set, as the Kafka bus names them. */
  namespace?: string;
}

/** `<namespace>-archive-<topic>`: one deployment's connectors do not meet another's on a shared worker. */
export function archiveConnectorName(t: Pick<ArchiveConnectorTarget, 'namespace' | 'topic'>): string {
  return `${t.namespace ? `${t.namespace}-` : ''}archive-${t.topic}`;
}

export function archiveConnectorConfig(t: ArchiveConnectorTarget): Record<string, string> {
  return {
    'connector.class': FILE_SINK,
    // The sink's tasks would all append to the one file.
    'tasks.max': '1',
    topics: t.namespace ? `${t.namespace}.${t.topic}` : t.topic,
    file: archiveFile(t.dir, t.topic),
    // The value as it is on the bus, whatever the worker's default converters.
    'key.converter': STRING,
    'value.converter': STRING,
  };
}

/**
 * Registers (or updates) the connector of each target and resolves once their tasks run. The
 * worker must have the file sink: one started before it was added to its jars does not.
 */
export async function registerArchiveConnectors(targets: ArchiveConnectorTarget[], timeoutMs = 60_000): Promise<void> {
  for (const t of targets) {
    if (!isAbsolute(t.dir)) throw ConnectFailed(`the archive directory must be an absolute path for the Connect worker; got "${t.dir}"`);
    mkdirSync(t.dir, { recursive: true });
  }
  await registerAndAwait(
    targets.map((t) => ({ connectUrl: t.connectUrl, name: archiveConnectorName(t), config: archiveConnectorConfig(t) })),
    FILE_SINK,
    'the connect-file jar: restart it (npm run infra:connect -- stop; npm run infra:connect) to fetch it',
    timeoutMs,
  );
}

async function registerAndAwait(connectors: Array<{ connectUrl: string; name: string; config: Record<string, string> }>, plugin: string, hint: string, timeoutMs: number): Promise<void> {
  if (connectors.length === 0) return;
  const connectUrl = connectors[0].connectUrl;
  const plugins = await connectCall('GET', `${connectUrl}/connector-plugins`);
  if (!Array.isArray(plugins.body) || !plugins.body.some((p: { class?: string }) => p.class === plugin)) {
    throw ConnectFailed(`the Kafka Connect worker at ${connectUrl} has no ${plugin} (${hint})`);
  }
  for (const c of connectors) {
    const put = await connectCall('PUT', `${c.connectUrl}/connectors/${c.name}/config`, c.config);
    if (put.status !== 200 && put.status !== 201) throw ConnectFailed(`registering connector ${c.name} answered ${put.status}: ${JSON.stringify(put.body)}`);
  }
  const deadline = Date.now() + timeoutMs;
  for (const c of connectors) {
    for (;;) {
      const st = await connectCall('GET', `${c.connectUrl}/connectors/${c.name}/status`);
      const task = st.body?.tasks?.[0];
      if (task?.state === 'FAILED') throw ConnectFailed(`connector ${c.name} failed: ${String(task.trace).split('\n').slice(0, 3).join(' ')}`);
      if (task?.state === 'RUNNING') break;
      if (Date.now() > deadline) throw ConnectFailed(`connector ${c.name} is not running after ${timeoutMs} ms (task ${task?.state ?? 'not started'})`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/** Removes the connector (its task commits what it wrote first); idempotent. Its group's offsets stay with Kafka. */
export async function removeArchiveConnector(t: ArchiveConnectorTarget): Promise<void> {
  await removeConnector(t.connectUrl, archiveConnectorName(t));
}

async function removeConnector(connectUrl: string, name: string): Promise<void> {
  const del = await connectCall('DELETE', `${connectUrl}/connectors/${name}`);
  if (del.status !== 204 && del.status !== 404) throw ConnectFailed(`removing connector ${name} answered ${del.status}: ${JSON.stringify(del.body)}`);
}

/**
 * The archive as PostgreSQL tables, for a cluster whose Connect workers do not share a disk
 * with anyone: Debezium's JDBC sink (`npm run infra:connect -- --jdbc-sink` adds its plugin)
 * writes each record of the topic as a row of `<namespace>_<topic with _ for .>` in
 * `database`: the envelope JSON as text in `envelope` (HoistField wraps the plain string
 * value into a one-field struct, which the sink needs), keyed by the record's topic,
 * partition and offset (`primary.key.mode=kafka`) with upserts, so a redelivery rewrites its
 * own row: exactly one row per record. The database must exist; the table is created.
 * Reporting reads `envelope::jsonb`. Not started by the system: the files are this machine's
 * archive; this is the shape it takes on a cluster.
 */
export interface ArchiveTableTarget {
  connectUrl: string;
  /** postgres://user:password@host:port/... of the server (its database part is ignored). */
  databaseUrl: string;
  /** The archive database, e.g. `<namespace>_archive`. */
  database: string;
  topic: string;
  namespace?: string;
}

const JDBC_SINK = 'io.debezium.connector.jdbc.JdbcSinkConnector';

export function archiveTableConnectorName(t: Pick<ArchiveTableTarget, 'namespace' | 'topic'>): string {
  return `${archiveConnectorName(t)}-table`;
}

export function archiveTableConnectorConfig(t: ArchiveTableTarget): Record<string, string> {
  const url = new URL(t.databaseUrl);
  return {
    'connector.class': JDBC_SINK,
    'tasks.max': '1',
    topics: t.namespace ? `${t.namespace}.${t.topic}` : t.topic,
    'connection.url': `jdbc:postgresql://${url.hostname}:${url.port || '5432'}/${t.database}`,
    'connection.username': decodeURIComponent(url.username || 'postgres'),
    'connection.password': decodeURIComponent(url.password),
    'insert.mode': 'upsert',
    'primary.key.mode': 'kafka',
    'schema.evolution': 'basic',
    'key.converter': STRING,
    'value.converter': STRING,
    transforms: 'envelope',
    'transforms.envelope.type': 'org.apache.kafka.connect.transforms.HoistField$Value',
    'transforms.envelope.field': 'envelope',
  };
}

/** The table the JDBC sink writes a topic into: the Kafka topic name with `_` for `.`, Debezium's default naming. */
export function archiveTableName(t: Pick<ArchiveTableTarget, 'namespace' | 'topic'>): string {
  return (t.namespace ? `${t.namespace}.${t.topic}` : t.topic).replace(/\./g, '_');
}

export async function registerArchiveTableConnector(t: ArchiveTableTarget, timeoutMs = 90_000): Promise<void> {
  await registerAndAwait(
    [{ connectUrl: t.connectUrl, name: archiveTableConnectorName(t), config: archiveTableConnectorConfig(t) }],
    JDBC_SINK,
    'Debezium\'s JDBC sink plugin: npm run infra:connect -- stop; npm run infra:connect -- --jdbc-sink',
    timeoutMs,
  );
}

export async function removeArchiveTableConnector(t: ArchiveTableTarget): Promise<void> {
  await removeConnector(t.connectUrl, archiveTableConnectorName(t));
}
