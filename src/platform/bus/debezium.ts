/**
 * The Debezium outbox relay (ORDERFLOW_RELAY=debezium): one Debezium PostgreSQL connector
 * per service database on Kafka Connect reads the outbox inserts from the WAL, and
 * Debezium's outbox event router turns each into the record the in-process relay would
 * have sent: topic from the row (namespaced), the row's key, the envelope JSON as a plain
 * string value, and `type`, `traceparent`, `correlationId`, `causationId` as headers.
 *
 * Each connector holds a logical replication slot, which keeps WAL on the server until the
 * connector confirms it: whoever registers connectors removes them and drops their slots
 * (removeOutboxConnector), or the server keeps WAL forever.
 */
import pg from 'pg';
import { request } from 'undici';
import { defineError } from '../errors.ts';

export const ConnectFailed = defineError('PLT_ERR_CONNECT', 500);

const PUBLICATION = 'orderflow_outbox';
// Measured with 4 idle connectors: 5 ms costs 51 % of a core and 13 ms a hop (p50), 20 ms 17.5 %, 50 ms 11 % and 57 ms, 100 ms 6 % and 106 ms.
const POLL_INTERVAL_MS = 20;

export interface OutboxConnectorTarget {
  connectUrl: string;
  databaseUrl: string;
  /** The service database, e.g. lab_events_1a2b_orders; also the slot's and the connector's name. */
  database: string;
  /** Kafka topics are `<namespace>.<topic>` when set, as the Kafka bus names them. */
  namespace?: string;
  /** Debezium's poll.interval.ms; see outboxConnectorConfig. */
  pollIntervalMs?: number;
}

/** The connector's config: capture public.outbox only, from now on, routed by the outbox event router. */
export function outboxConnectorConfig(t: OutboxConnectorTarget): Record<string, string> {
  const url = new URL(t.databaseUrl);
  const prefix = t.namespace ? `${t.namespace}.` : '';
  return {
    'connector.class': 'io.debezium.connector.postgresql.PostgresConnector',
    'tasks.max': '1',
    'database.hostname': url.hostname,
    'database.port': url.port || '5432',
    'database.user': decodeURIComponent(url.username || 'postgres'),
    'database.password': decodeURIComponent(url.password),
    'database.dbname': t.database,
    'topic.prefix': t.database,
    'plugin.name': 'pgoutput',
    'slot.name': t.database,
    'publication.name': PUBLICATION,
    'publication.autocreate.mode': 'filtered',
    'table.include.list': 'public.outbox',
    // The slot is created before the first message is appended (the system waits for it), so nothing is older.
    'snapshot.mode': 'no_data',
    // Rows are deleted right after their insert: no tombstone for those deletes.
    'tombstones.on.delete': 'false',
    // Debezium sleeps this long whenever its queue is empty: the default 500 ms would be the relay's latency per hop.
    'poll.interval.ms': String(t.pollIntervalMs ?? POLL_INTERVAL_MS),
    'max.batch.size': '2048',
    transforms: 'outbox',
    'transforms.outbox.type': 'io.debezium.transforms.outbox.EventRouter',
    'transforms.outbox.table.field.event.id': 'id',
    'transforms.outbox.table.field.event.key': 'key',
    'transforms.outbox.table.field.event.payload': 'value',
    'transforms.outbox.table.expand.json.payload': 'false',
    'transforms.outbox.route.by.field': 'topic',
    'transforms.outbox.route.topic.replacement': `${prefix}\${routedByValue}`,
    'transforms.outbox.table.fields.additional.placement':
      'type:header:type,traceparent:header:traceparent,correlation_id:header:correlationId,causation_id:header:causationId',
  };
}

/** One request to Kafka Connect's REST API; the body parsed. Also used by the archive's connectors (archive-connector.ts). */
export async function connectCall(method: 'GET' | 'PUT' | 'DELETE', url: string, body?: unknown): Promise<{ status: number; body: any }> {
  try {
    const res = await request(url, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      headersTimeout: 30_000,
      bodyTimeout: 30_000,
    });
    const text = await res.body.text();
    return { status: res.statusCode, body: text ? JSON.parse(text) : undefined };
  } catch (err) {
    throw ConnectFailed(`${method} ${url} failed: ${(err as Error).message}`, { cause: err });
  }
}

async function withClient<T>(databaseUrl: string, database: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const url = new URL(databaseUrl);
  url.pathname = `/${database}`;
  const client = new pg.Client({ connectionString: url.toString() });
  client.on('error', () => {});
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Registers (or updates) the connector of one service database and resolves once its slot
 * is streaming, so every outbox row committed afterwards is published.
 */
export async function registerOutboxConnector(t: OutboxConnectorTarget, timeoutMs = 60_000): Promise<void> {
  const name = t.database;
  const put = await connectCall('PUT', `${t.connectUrl}/connectors/${name}/config`, outboxConnectorConfig(t));
  if (put.status !== 200 && put.status !== 201) throw ConnectFailed(`registering connector ${name} answered ${put.status}: ${JSON.stringify(put.body)}`);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const st = await connectCall('GET', `${t.connectUrl}/connectors/${name}/status`);
    const task = st.body?.tasks?.[0];
    if (task?.state === 'FAILED') throw ConnectFailed(`connector ${name} failed: ${String(task.trace).split('\n').slice(0, 3).join(' ')}`);
    if (task?.state === 'RUNNING') {
      const active = await withClient(t.databaseUrl, t.database, (c) =>
        c.query('SELECT active FROM pg_replication_slots WHERE slot_name = $1', [name]));
      if (active.rows[0]?.active === true) return;
    }
    if (Date.now() > deadline) throw ConnectFailed(`connector ${name} is not streaming after ${timeoutMs} ms (task ${task?.state ?? 'not started'})`);
    await sleep(200);
  }
}

/**
 * Removes the connector and, unless `keepSlot`, drops its replication slot (once its
 * walsender let go of it). Idempotent. A kept slot holds the WAL of everything committed
 * until a connector of the same name streams it again, so nothing written meanwhile is lost
 * (and the WAL grows until then).
 */
export async function removeOutboxConnector(t: OutboxConnectorTarget, opts: { keepSlot?: boolean; timeoutMs?: number } = {}): Promise<void> {
  const name = t.database;
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const del = await connectCall('DELETE', `${t.connectUrl}/connectors/${name}`);
  if (del.status !== 204 && del.status !== 404) throw ConnectFailed(`removing connector ${name} answered ${del.status}: ${JSON.stringify(del.body)}`);
  if (opts.keepSlot) return;
  const deadline = Date.now() + timeoutMs;
  await withClient(t.databaseUrl, 'postgres', async (c) => {
    for (;;) {
      const slot = await c.query('SELECT active, active_pid FROM pg_replication_slots WHERE slot_name = $1', [name]);
      if (slot.rows.length === 0) return;
      if (!slot.rows[0].active) {
        try {
          await c.query('SELECT pg_drop_replication_slot($1)', [name]);
          return;
        } catch (err) {
          // 55006: it became active again between the two statements.
          if ((err as { code?: string }).code !== '55006' && (err as { code?: string }).code !== '42704') throw err;
        }
      } else if (Date.now() > deadline) {
        // The task did not stop in time: end its walsender, then the slot is free.
        await c.query('SELECT pg_terminate_backend($1)', [slot.rows[0].active_pid]);
      }
      if (Date.now() > deadline + 10_000) throw ConnectFailed(`replication slot ${name} is still in use after ${timeoutMs} ms`);
      await sleep(200);
    }
  });
}
