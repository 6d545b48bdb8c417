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
  if (targets.length === 0) return;
  const connectUrl = targets[0].connectUrl;
  const plugins = await connectCall('GET', `${connectUrl}/connector-plugins`);
  if (!Array.isArray(plugins.body) || !plugins.body.some((p: { class?: string }) => p.class === FILE_SINK)) {
    throw ConnectFailed(`the Kafka Connect worker at ${connectUrl} has no ${FILE_SINK} (the connect-file jar): restart it (npm run infra:connect -- stop; npm run infra:connect) to fetch it`);
  }
  for (const t of targets) {
    if (!isAbsolute(t.dir)) throw ConnectFailed(`the archive directory must be an absolute path for the Connect worker; got "${t.dir}"`);
    mkdirSync(t.dir, { recursive: true });
    const name = archiveConnectorName(t);
    const put = await connectCall('PUT', `${t.connectUrl}/connectors/${name}/config`, archiveConnectorConfig(t));
    if (put.status !== 200 && put.status !== 201) throw ConnectFailed(`registering connector ${name} answered ${put.status}: ${JSON.stringify(put.body)}`);
  }
  const deadline = Date.now() + timeoutMs;
  for (const t of targets) {
    const name = archiveConnectorName(t);
    for (;;) {
      const st = await connectCall('GET', `${t.connectUrl}/connectors/${name}/status`);
      const task = st.body?.tasks?.[0];
      if (task?.state === 'FAILED') throw ConnectFailed(`connector ${name} failed: ${String(task.trace).split('\n').slice(0, 3).join(' ')}`);
      if (task?.state === 'RUNNING') break;
      if (Date.now() > deadline) throw ConnectFailed(`connector ${name} is not running after ${timeoutMs} ms (task ${task?.state ?? 'not started'})`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/** Removes the connector (its task commits what it wrote first); idempotent. Its group's offsets stay with Kafka. */
export async function removeArchiveConnector(t: ArchiveConnectorTarget): Promise<void> {
  const name = archiveConnectorName(t);
  const del = await connectCall('DELETE', `${t.connectUrl}/connectors/${name}`);
  if (del.status !== 204 && del.status !== 404) throw ConnectFailed(`removing connector ${name} answered ${del.status}: ${JSON.stringify(del.body)}`);
}
