/**
 * The notifications service's tables and their SQL. Functions take the Sql to run on
 * (transaction or Db).
 *
 * - customers: user id → e-mail, from UserRegistered; order_customers: order id → customer,
 *   from OrderPlaced (the later events of an order name only the order).
 * - parked_events: an order's event that came before its OrderPlaced (another topic, so no
 *   order between them), kept until the OrderPlaced says whose it is.
 * - notifications: the in-app channel, one row per event (event_id UNIQUE: a redelivery
 *   inserts nothing). `seq` orders a customer's list and is the cursor and the SSE event id.
 * - email_deliveries: the e-mail channel, one row per event, and the delivery queue: pending
 *   until sent, retried at next_attempt_at, dead when it never will be sent.
 * - preferences: a row per switch a customer set; none means on.
 */
import type { Dialect, Migration, Sql } from '#platform/db/db.ts';
import type { Channel, Kind, Preferences } from './domain/kinds.ts';
import type { TemplateData } from './domain/templates.ts';

const tables = (seq: string) => `
  CREATE TABLE customers (
    customer_id TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );
  CREATE TABLE order_customers (
    order_id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    created_at TEXT NOT NULL
  );
  CREATE INDEX order_customers_created ON order_customers (created_at);
  CREATE TABLE parked_events (
    event_id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    data TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    created_at TEXT NOT NULL
  );
  CREATE INDEX parked_events_order ON parked_events (order_id);
  CREATE TABLE notifications (
    seq ${seq},
    id TEXT NOT NULL UNIQUE,
    event_id TEXT NOT NULL UNIQUE,
    customer_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    data TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    created_at TEXT NOT NULL
  );
  CREATE INDEX notifications_customer ON notifications (customer_id, seq);
  CREATE INDEX notifications_created ON notifications (created_at);
  CREATE TABLE email_deliveries (
    id TEXT PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    customer_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    text_body TEXT NOT NULL,
    html_body TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'dead')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    claim_id TEXT,
    last_error TEXT,
    created_at TEXT NOT NULL,
    settled_at TEXT
  );
  CREATE INDEX email_deliveries_due ON email_deliveries (status, next_attempt_at);
  CREATE INDEX email_deliveries_created ON email_deliveries (created_at);
  CREATE TABLE preferences (
    customer_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    channel TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (customer_id, kind, channel)
  );`;

export const migrations: Migration[] = [
  {
    id: 'notifications-001-tables',
    sql: { sqlite: tables('INTEGER PRIMARY KEY AUTOINCREMENT'), postgres: tables('BIGSERIAL PRIMARY KEY') },
  },
];

export async function upsertCustomer(sql: Sql, customerId: string, email: string, at: string): Promise<void> {
  await sql.execute(
    'INSERT INTO customers (customer_id, email, updated_at) VALUES ($1, $2, $3) ON CONFLICT (customer_id) DO UPDATE SET email = excluded.email, updated_at = excluded.updated_at',
    [customerId, email, at],
  );
}

export async function recordOrderCustomer(sql: Sql, orderId: string, customerId: string, at: string): Promise<void> {
  await sql.execute('INSERT INTO order_customers (order_id, customer_id, created_at) VALUES ($1, $2, $3) ON CONFLICT (order_id) DO NOTHING', [orderId, customerId, at]);
}

export async function customerOfOrder(sql: Sql, orderId: string): Promise<string | undefined> {
  const rows = await sql.query<{ customer_id: string }>('SELECT customer_id FROM order_customers WHERE order_id = $1', [orderId]);
  return rows[0]?.customer_id;
}

export interface OrderEvent {
  eventId: string;
  orderId: string;
  kind: Kind;
  data: TemplateData;
  occurredAt: string;
}

export async function parkEvent(sql: Sql, e: OrderEvent, at: string): Promise<void> {
  await sql.execute(
    'INSERT INTO parked_events (event_id, order_id, kind, data, occurred_at, created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (event_id) DO NOTHING',
    [e.eventId, e.orderId, e.kind, JSON.stringify(e.data), e.occurredAt, at],
  );
}

/** Removes and returns the order's parked events, oldest first. */
export async function takeParked(sql: Sql, orderId: string): Promise<OrderEvent[]> {
  const rows = await sql.query<{ event_id: string; order_id: string; kind: Kind; data: string; occurred_at: string }>(
    'DELETE FROM parked_events WHERE order_id = $1 RETURNING event_id, order_id, kind, data, occurred_at',
    [orderId],
  );
  return rows
    .map((r) => ({ eventId: r.event_id, orderId: r.order_id, kind: r.kind, data: JSON.parse(r.data) as TemplateData, occurredAt: r.occurred_at }))
    .sort((a, b) => (a.occurredAt < b.occurredAt ? -1 : a.occurredAt > b.occurredAt ? 1 : 0));
}

export async function getPreferences(sql: Sql, customerId: string): Promise<Preferences> {
  const rows = await sql.query<{ kind: Kind; channel: Channel; enabled: number }>('SELECT kind, channel, enabled FROM preferences WHERE customer_id = $1', [customerId]);
  const prefs: Preferences = {};
  for (const r of rows) (prefs[r.kind] ??= {})[r.channel] = Number(r.enabled) === 1;
  return prefs;
}

/** The customer's switches become exactly `prefs`: what it leaves out is back to on. */
export async function replacePreferences(sql: Sql, customerId: string, prefs: Preferences, at: string): Promise<void> {
  await sql.execute('DELETE FROM preferences WHERE customer_id = $1', [customerId]);
  for (const [kind, byChannel] of Object.entries(prefs)) {
    for (const [channel, enabled] of Object.entries(byChannel ?? {})) {
      if (enabled === undefined) continue;
      await sql.execute('INSERT INTO preferences (customer_id, kind, channel, enabled, updated_at) VALUES ($1, $2, $3, $4, $5)', [customerId, kind, channel, enabled ? 1 : 0, at]);
    }
  }
}

/**
 * On PostgreSQL, the writers of notifications take turns (one transaction-scoped lock),
 * so that `seq` values commit in their order: a reader that has seen seq n has seen every
 * row below it, which the cursor and the live streams rely on. (A sequence alone hands out
 * values that may commit out of order.) SQLite writes one transaction at a time anyway.
 */
export async function lockNotificationWriters(tx: Sql, dialect: Dialect): Promise<void> {
  if (dialect === 'postgres') await tx.query("SELECT pg_advisory_xact_lock(hashtext('orderflow.notifications'))");
}

export interface NewNotification {
  id: string;
  eventId: string;
  customerId: string;
  kind: Kind;
  subject: string;
  text: string;
  data: TemplateData;
  occurredAt: string;
}

/** True when inserted; false when this event's notification exists (a redelivery). */
export async function insertInApp(sql: Sql, n: NewNotification, at: string): Promise<boolean> {
  const rows = await sql.query<{ seq: number }>(
    `INSERT INTO notifications (id, event_id, customer_id, kind, subject, body, data, occurred_at, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (event_id) DO NOTHING RETURNING seq`,
    [n.id, n.eventId, n.customerId, n.kind, n.subject, n.text, JSON.stringify(n.data), n.occurredAt, at],
  );
  return rows.length === 1;
}

/** A notification as the API shows it. `cursor` is its seq: the list's cursor and the stream's event id. */
export interface Notification {
  id: string;
  cursor: string;
  kind: Kind;
  subject: string;
  text: string;
  data: TemplateData;
  occurredAt: string;
}

export interface FeedRow extends Notification {
  seq: number;
  customerId: string;
}

interface NotificationRow {
  seq: number | string;
  id: string;
  customer_id: string;
  kind: Kind;
  subject: string;
  body: string;
  data: string;
  occurred_at: string;
}

const COLUMNS = 'seq, id, customer_id, kind, subject, body, data, occurred_at';

const toFeedRow = (r: NotificationRow): FeedRow => ({
  seq: Number(r.seq),
  customerId: r.customer_id,
  id: r.id,
  cursor: String(r.seq),
  kind: r.kind,
  subject: r.subject,
  text: r.body,
  data: JSON.parse(r.data) as TemplateData,
  occurredAt: r.occurred_at,
});

export const toNotification = ({ seq: _, customerId: __, ...n }: FeedRow): Notification => n;

/** A customer's notifications newest first, those below `before` (a seq) when given. */
export async function listNotifications(sql: Sql, customerId: string, opts: { before?: number; limit: number }): Promise<FeedRow[]> {
  const rows = opts.before === undefined
    ? await sql.query<NotificationRow>(`SELECT ${COLUMNS} FROM notifications WHERE customer_id = $1 ORDER BY seq DESC LIMIT $2`, [customerId, opts.limit])
    : await sql.query<NotificationRow>(`SELECT ${COLUMNS} FROM notifications WHERE customer_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3`, [customerId, opts.before, opts.limit]);
  return rows.map(toFeedRow);
}

/** Notifications past `after` (a seq), oldest first; of one customer when given. */
export async function notificationsAfter(sql: Sql, after: number, limit: number, customerId?: string): Promise<FeedRow[]> {
  const rows = customerId === undefined
    ? await sql.query<NotificationRow>(`SELECT ${COLUMNS} FROM notifications WHERE seq > $1 ORDER BY seq LIMIT $2`, [after, limit])
    : await sql.query<NotificationRow>(`SELECT ${COLUMNS} FROM notifications WHERE customer_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`, [customerId, after, limit]);
  return rows.map(toFeedRow);
}

export async function lastSeq(sql: Sql): Promise<number> {
  const rows = await sql.query<{ seq: number | string | null }>('SELECT MAX(seq) AS seq FROM notifications');
  return Number(rows[0]?.seq ?? 0);
}

/**
 * For the retention loop: deletes at most `limit` rows older than `before`: in-app
 * notifications, settled e-mails (a pending one is kept whatever its age), parked events
 * whose order never came, and order → customer rows.
 */
export async function deleteOlder(sql: Sql, before: string, limit: number): Promise<number> {
  let n = 0;
  n += await sql.execute('DELETE FROM notifications WHERE seq IN (SELECT seq FROM notifications WHERE created_at < $1 LIMIT $2)', [before, limit]);
  n += await sql.execute("DELETE FROM email_deliveries WHERE id IN (SELECT id FROM email_deliveries WHERE created_at < $1 AND status <> 'pending' LIMIT $2)", [before, limit]);
  n += await sql.execute('DELETE FROM parked_events WHERE event_id IN (SELECT event_id FROM parked_events WHERE created_at < $1 LIMIT $2)', [before, limit]);
  n += await sql.execute('DELETE FROM order_customers WHERE order_id IN (SELECT order_id FROM order_customers WHERE created_at < $1 LIMIT $2)', [before, limit]);
  return n;
}
