// The orders database: the Order event streams (the truth), the orders_view read model
// (serves GET, written in the same transaction as the events), idempotency keys and the
// local catalog copy. Every function takes a Sql (a transaction or the Db) first.
import type { Dialect, Migration, Sql } from '#platform/db/db.ts';
import { ConcurrencyConflict } from '#platform/errors.ts';
import { activeTraceId } from '#platform/telemetry/tracing.ts';
import { statusOf, Step, type OrderEvent, type OrderLine, type OrderState, type OrderStatus } from './domain/order.ts';

// SQLite: WITHOUT ROWID clusters rows by their text primary key, so a stream's events sit
// together and a lookup is one B-tree walk instead of index + table.
const tables = (withoutRowid: string) => `
  CREATE TABLE order_events (
    order_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    type TEXT NOT NULL,
    data TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    PRIMARY KEY (order_id, version)
  )${withoutRowid};
  CREATE TABLE orders_view (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    items TEXT NOT NULL,
    total_cents BIGINT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );
  CREATE TABLE idempotency (
    key TEXT PRIMARY KEY,
    order_id TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    created_at TEXT NOT NULL
  )${withoutRowid};
  CREATE TABLE catalog (
    product_id TEXT PRIMARY KEY,
    sku TEXT NOT NULL,
    name TEXT NOT NULL,
    price_cents BIGINT NOT NULL,
    updated_at TEXT NOT NULL
  )${withoutRowid};`;

function idempotencyPerCustomer(withoutRowid: string): string {
  return `
  CREATE TABLE idempotency_by_customer (
    customer_id TEXT NOT NULL,
    key TEXT NOT NULL,
    order_id TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (customer_id, key)
  )${withoutRowid};
  INSERT INTO idempotency_by_customer (customer_id, key, order_id, request_hash, created_at)
    SELECT v.customer_id, i.key, i.order_id, i.request_hash, i.created_at FROM idempotency i JOIN orders_view v ON v.id = i.order_id;
  DROP TABLE idempotency;
  ALTER TABLE idempotency_by_customer RENAME TO idempotency;
  CREATE INDEX idempotency_created_at ON idempotency (created_at);`;
}

export const migrations: Migration[] = [
  { id: 'orders-001-events-view-idempotency-catalog', sql: { sqlite: tables(' WITHOUT ROWID'), postgres: tables('') } },
  // The rest architecture's unfinished sagas: a row from acceptance until every call the
  // order needs (compensations included) is done. Recovery drives the old ones.
  {
    id: 'orders-002-rest-sagas',
    sql: `
      CREATE TABLE rest_sagas (order_id TEXT PRIMARY KEY, since TEXT NOT NULL);
      CREATE INDEX rest_sagas_since ON rest_sagas (since);`,
  },
  // For the oldest PENDING order (metrics.ts): only pending rows are in it, so it stays as
  // small as the sagas in flight, and the MIN is one probe whatever the table's size.
  {
    id: 'orders-003-pending-index',
    sql: "CREATE INDEX orders_view_pending ON orders_view (created_at) WHERE status = 'PENDING';",
  },
  // For the deadline sweeper (deadlines.ts): a pending order's updated_at is when its current
  // saga step started, so the orders past their step's deadline are a range scan of this
  // index, as small as the sagas in flight.
  {
    id: 'orders-004-pending-step-index',
    sql: "CREATE INDEX orders_view_pending_step ON orders_view (updated_at) WHERE status = 'PENDING';",
  },
  // Idempotency keys are scoped per customer: the same key from two customers names two
  // orders. A key already recorded keeps working: its customer is that of the order it made.
  // created_at is indexed for the expiry purge (idempotency-expiry.ts).
  { id: 'orders-005-idempotency-per-customer', sql: { sqlite: idempotencyPerCustomer(' WITHOUT ROWID'), postgres: idempotencyPerCustomer('') } },
  // A customer's orders, newest first (GET /orders?customerId=): ids are UUIDv7, in the order
  // they were made, so the page after an id is a range scan of this index.
  { id: 'orders-006-customer-orders-index', sql: 'CREATE INDEX orders_view_customer ON orders_view (customer_id, id);' },
  // The revision of the catalog facts a row holds (inventory's count of a product's changes;
  // ProductCreated is 0): an older fact arriving late does not overwrite a newer one.
  { id: 'orders-007-catalog-revision', sql: 'ALTER TABLE catalog ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;' },
  // The trace of the work that appended each event (the request that placed the order, the
  // message whose handling moved the saga on), when it was traced: the history links each
  // step to its trace. Kept with the event because nothing else keeps it: the outbox row that
  // carried the traceparent on is deleted once published, the inbox keeps only message ids.
  // Null for events appended untraced, and for those before this migration.
  { id: 'orders-008-event-trace-id', sql: 'ALTER TABLE order_events ADD COLUMN trace_id TEXT;' },
];

// --- the event streams -------------------------------------------------------------------

export async function loadEvents(sql: Sql, orderId: string): Promise<OrderEvent[]> {
  const rows = await sql.query<{ type: string; data: string; occurred_at: string }>(
    'SELECT type, data, occurred_at FROM order_events WHERE order_id = $1 ORDER BY version',
    [orderId],
  );
  return rows.map((r) => ({ type: r.type, data: JSON.parse(r.data), at: r.occurred_at }) as OrderEvent);
}

/** An event as the audit trail shows it: with its place in the stream (1 for the first). */
export type RecordedEvent = OrderEvent & { version: number; traceId?: string };

export async function loadHistory(sql: Sql, orderId: string): Promise<RecordedEvent[]> {
  const rows = await sql.query<{ version: number; type: string; data: string; occurred_at: string; trace_id: string | null }>(
    'SELECT version, type, data, occurred_at, trace_id FROM order_events WHERE order_id = $1 ORDER BY version',
    [orderId],
  );
  return rows.map((r) => ({ type: r.type, at: r.occurred_at, version: Number(r.version), data: JSON.parse(r.data), ...(r.trace_id === null ? {} : { traceId: r.trace_id }) }) as RecordedEvent);
}

/** At most `limit` order ids that have events, after `after` (ids sort as text), in order. */
export async function streamIdsAfter(sql: Sql, after: string, limit: number): Promise<string[]> {
  const rows = await sql.query<{ order_id: string }>('SELECT DISTINCT order_id FROM order_events WHERE order_id > $1 ORDER BY order_id LIMIT $2', [after, limit]);
  return rows.map((r) => r.order_id);
}

/** The streams of the orders with ids in (after, upTo], each in version order. */
export async function streamsBetween(sql: Sql, after: string, upTo: string): Promise<Map<string, OrderEvent[]>> {
  const rows = await sql.query<{ order_id: string; type: string; data: string; occurred_at: string }>(
    'SELECT order_id, type, data, occurred_at FROM order_events WHERE order_id > $1 AND order_id <= $2 ORDER BY order_id, version',
    [after, upTo],
  );
  const streams = new Map<string, OrderEvent[]>();
  for (const r of rows) {
    let events = streams.get(r.order_id);
    if (events === undefined) streams.set(r.order_id, (events = []));
    events.push({ type: r.type, data: JSON.parse(r.data), at: r.occurred_at } as OrderEvent);
  }
  return streams;
}

const APPEND = 'INSERT INTO order_events (order_id, version, type, data, occurred_at, trace_id) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (order_id, version) DO NOTHING';

/**
 * Appends `events` after `expectedVersion` (the number of events the caller folded).
 * When another writer got there first the version is taken: the insert does nothing (no
 * constraint error, so a PostgreSQL transaction is not poisoned) and this throws
 * PLT_ERR_CONCURRENCY_CONFLICT; the caller's transaction rolls back and is retried.
 */
export async function appendEvents(sql: Sql, orderId: string, expectedVersion: number, events: readonly OrderEvent[]): Promise<void> {
  let version = expectedVersion;
  // The trace of whatever is appending them (see orders-008): the caller's context, not an argument, so no writer can forget it.
  const traceId = activeTraceId() ?? null;
  for (const e of events) {
    version++;
    const inserted = await sql.execute(APPEND, [orderId, version, e.type, JSON.stringify(e.data), e.at, traceId]);
    if (inserted === 0) {
      throw ConcurrencyConflict(`order ${orderId} already has an event at version ${version}`, { details: { orderId, version } });
    }
  }
}

// On PostgreSQL a saga step is one statement: the events (one multi-row insert) and, only
// when they all went in, the view row. A round trip costs far more there than the work.
const APPEND_AND_UPDATE_VIEW = `WITH ev AS (
    INSERT INTO order_events (order_id, version, type, data, occurred_at, trace_id)
    SELECT $1, e.v, e.type, e.data, e.at, $7 FROM jsonb_to_recordset($2::jsonb) AS e(v int, type text, data text, at text)
    ON CONFLICT (order_id, version) DO NOTHING RETURNING 1
  ), vw AS (
    UPDATE orders_view SET status = $3, reason = $4, updated_at = $5 WHERE id = $1 AND (SELECT count(*) FROM ev) = $6 RETURNING 1
  )
  SELECT (SELECT count(*) FROM ev)::int AS appended`;

/**
 * Appends a saga step's `events` after `expectedVersion` and brings the view row to
 * `state`, in the caller's transaction. Throws PLT_ERR_CONCURRENCY_CONFLICT when another
 * writer took one of the versions; some of the events may then be written, so the caller's
 * transaction must roll back (it is retried).
 */
export async function appendStep(sql: Sql, dialect: Dialect, expectedVersion: number, events: readonly OrderEvent[], state: OrderState): Promise<void> {
  if (dialect === 'sqlite') {
    await appendEvents(sql, state.id, expectedVersion, events);
    await updateView(sql, state);
    return;
  }
  const rows = events.map((e, i) => ({ v: expectedVersion + i + 1, type: e.type, data: JSON.stringify(e.data), at: e.at }));
  const [r] = await sql.query<{ appended: number }>(APPEND_AND_UPDATE_VIEW, [state.id, JSON.stringify(rows), statusOf(state), state.reason ?? null, state.updatedAt, events.length, activeTraceId() ?? null]);
  if (Number(r.appended) !== events.length) {
    throw ConcurrencyConflict(`order ${state.id} already has an event after version ${expectedVersion}`, { details: { orderId: state.id, version: expectedVersion + 1 } });
  }
}

// --- the read model ----------------------------------------------------------------------

export interface OrderView {
  id: string;
  customerId: string;
  items: OrderLine[];
  totalCents: number;
  status: OrderStatus;
  reason?: string;
  createdAt: string;
  updatedAt: string;
}

/**
 * The view row of a state: what insertView and updateView write, and what a rebuild from the
 * events (rebuild-view.ts) and a read as of a time (history.ts) derive. Undefined before the
 * order exists.
 */
export function viewOf(s: OrderState): OrderView | undefined {
  if (s.step === Step.NONE) return undefined;
  const view: OrderView = { id: s.id, customerId: s.customerId, items: s.items, totalCents: s.totalCents, status: statusOf(s), createdAt: s.createdAt, updatedAt: s.updatedAt };
  if (s.reason !== undefined) view.reason = s.reason;
  return view;
}

const INSERT_VIEW = 'INSERT INTO orders_view (id, customer_id, items, total_cents, status, reason, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)';
const viewParams = (v: OrderView) => [v.id, v.customerId, JSON.stringify(v.items), v.totalCents, v.status, v.reason ?? null, v.createdAt, v.updatedAt];

export async function insertView(sql: Sql, s: OrderState): Promise<void> {
  await sql.execute(INSERT_VIEW, [s.id, s.customerId, JSON.stringify(s.items), s.totalCents, statusOf(s), s.reason ?? null, s.createdAt, s.updatedAt]);
}

/** Writes the whole row, whatever it held (the rebuild's repair). */
export async function putView(sql: Sql, v: OrderView): Promise<void> {
  await sql.execute(
    `${INSERT_VIEW} ON CONFLICT (id) DO UPDATE SET customer_id = excluded.customer_id, items = excluded.items, total_cents = excluded.total_cents,
       status = excluded.status, reason = excluded.reason, created_at = excluded.created_at, updated_at = excluded.updated_at`,
    viewParams(v),
  );
}

export async function deleteView(sql: Sql, id: string): Promise<void> {
  await sql.execute('DELETE FROM orders_view WHERE id = $1', [id]);
}

/** Only what a saga step can change: status, reason, updatedAt. */
export async function updateView(sql: Sql, s: OrderState): Promise<void> {
  await sql.execute('UPDATE orders_view SET status = $2, reason = $3, updated_at = $4 WHERE id = $1', [s.id, statusOf(s), s.reason ?? null, s.updatedAt]);
}

type ViewRow = { id: string; customer_id: string; items: string; total_cents: number; status: OrderStatus; reason: string | null; created_at: string; updated_at: string };

export async function getOrderView(sql: Sql, id: string): Promise<OrderView | undefined> {
  const [r] = await sql.query<ViewRow>('SELECT id, customer_id, items, total_cents, status, reason, created_at, updated_at FROM orders_view WHERE id = $1', [id]);
  return r && toView(r);
}

const LOCK: Record<'share' | 'update', string> = { share: ' FOR SHARE', update: ' FOR UPDATE' };

/**
 * The view rows with ids in (after, upTo], or all after `after` when `upTo` is undefined (at
 * most `limit`), in id order. On PostgreSQL `lock` takes the rows' lock, so no saga step
 * changes them until the caller's transaction ends (SQLite's transactions are exclusive).
 */
export async function viewsBetween(sql: Sql, dialect: Dialect, after: string, upTo: string | undefined, opts: { limit: number; lock?: 'share' | 'update' }): Promise<OrderView[]> {
  const lock = dialect === 'postgres' && opts.lock ? LOCK[opts.lock] : '';
  const cols = 'SELECT id, customer_id, items, total_cents, status, reason, created_at, updated_at FROM orders_view';
  const rows = upTo === undefined
    ? await sql.query<ViewRow>(`${cols} WHERE id > $1 ORDER BY id LIMIT $2${lock}`, [after, opts.limit])
    : await sql.query<ViewRow>(`${cols} WHERE id > $1 AND id <= $2 ORDER BY id LIMIT $3${lock}`, [after, upTo, opts.limit]);
  return rows.map(toView);
}

function toView(r: ViewRow): OrderView {
  const view: OrderView = {
    id: r.id,
    customerId: r.customer_id,
    items: JSON.parse(r.items),
    totalCents: Number(r.total_cents),
    status: r.status,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
  if (r.reason !== null) view.reason = r.reason;
  return view;
}

/**
 * A page of a customer's orders, newest first: at most `limit`, those made before the order
 * `before` when given (the last of the previous page).
 */
export async function listCustomerOrders(sql: Sql, customerId: string, opts: { limit: number; before?: string }): Promise<OrderView[]> {
  const rows = opts.before === undefined
    ? await sql.query<ViewRow>('SELECT id, customer_id, items, total_cents, status, reason, created_at, updated_at FROM orders_view WHERE customer_id = $1 ORDER BY id DESC LIMIT $2', [customerId, opts.limit])
    : await sql.query<ViewRow>('SELECT id, customer_id, items, total_cents, status, reason, created_at, updated_at FROM orders_view WHERE customer_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3', [customerId, opts.before, opts.limit]);
  return rows.map(toView);
}

/**
 * A page of every customer's orders, newest first, for an admin: filtered by status and
 * customer when given, at most `limit`, those made before the order `before` when given.
 * With a customer it is a range of orders_view_customer, as listCustomerOrders; without, a
 * walk down the primary key (ids are UUIDv7, in the order orders were made) that skips the
 * other statuses. No index on status: it would cost every order a second index write when
 * its status changes, on the saga's path, for an admin's search that reads a page.
 */
export async function listOrders(sql: Sql, opts: { limit: number; before?: string; status?: OrderStatus; customerId?: string }): Promise<OrderView[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (condition: (p: string) => string, value: unknown) => {
    params.push(value);
    where.push(condition(`$${params.length}`));
  };
  if (opts.customerId !== undefined) add((p) => `customer_id = ${p}`, opts.customerId);
  if (opts.status !== undefined) add((p) => `status = ${p}`, opts.status);
  if (opts.before !== undefined) add((p) => `id < ${p}`, opts.before);
  params.push(opts.limit);
  const rows = await sql.query<ViewRow>(
    `SELECT id, customer_id, items, total_cents, status, reason, created_at, updated_at FROM orders_view${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT $${params.length}`,
    params,
  );
  return rows.map(toView);
}

/** When the oldest order still PENDING was placed (ISO time), if any. */
export async function oldestPendingOrder(sql: Sql): Promise<string | undefined> {
  // The literal matches the partial index's predicate, so both planners use it.
  const [r] = await sql.query<{ oldest: string | null }>("SELECT MIN(created_at) AS oldest FROM orders_view WHERE status = 'PENDING'");
  return r?.oldest ?? undefined;
}

/** PENDING orders whose current step started at or before `before` (ISO time), oldest first. */
export async function pendingSince(sql: Sql, before: string, limit: number): Promise<Array<{ id: string; stepStartedAt: string; createdAt: string }>> {
  // The literal matches the partial index's predicate, so both planners use it.
  const rows = await sql.query<{ id: string; updated_at: string; created_at: string }>(
    "SELECT id, updated_at, created_at FROM orders_view WHERE status = 'PENDING' AND updated_at <= $1 ORDER BY updated_at LIMIT $2",
    [before, limit],
  );
  return rows.map((r) => ({ id: r.id, stepStartedAt: r.updated_at, createdAt: r.created_at }));
}

/** Orders still PENDING (admission.ts); through the partial index, so it costs the pending rows only. */
export async function countPendingOrders(sql: Sql): Promise<number> {
  const [r] = await sql.query<{ n: number }>("SELECT COUNT(*) AS n FROM orders_view WHERE status = 'PENDING'");
  return Number(r?.n ?? 0);
}

// --- idempotency keys --------------------------------------------------------------------
// A key is (customer, key), and it expires: a key recorded before `notBefore` (now − the TTL,
// 24 h by default) is as good as absent, until the purge deletes it.

/**
 * Records that the customer's `key` made `orderId`. Returns false when the key is already
 * taken and not expired: the unique key decides between concurrent requests (on PostgreSQL
 * the insert waits for a concurrent holder of the key to commit or roll back, then sees its
 * fresh row). An expired row is taken over in the same statement.
 */
export async function claimIdempotencyKey(
  sql: Sql,
  customerId: string,
  key: string,
  orderId: string,
  requestHash: string,
  at: string,
  notBefore: string,
): Promise<boolean> {
  const n = await sql.execute(
    `INSERT INTO idempotency (customer_id, key, order_id, request_hash, created_at) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (customer_id, key) DO UPDATE SET order_id = excluded.order_id, request_hash = excluded.request_hash, created_at = excluded.created_at
     WHERE idempotency.created_at < $6`,
    [customerId, key, orderId, requestHash, at, notBefore],
  );
  return n === 1;
}

export interface IdempotentAnswer {
  orderId: string;
  requestHash: string;
  status: OrderStatus;
}

/** The customer's order made with `key` at or after `notBefore` (ISO time), if any. */
export async function findIdempotencyKey(sql: Sql, customerId: string, key: string, notBefore: string): Promise<IdempotentAnswer | undefined> {
  const [r] = await sql.query<{ order_id: string; request_hash: string; status: OrderStatus }>(
    'SELECT i.order_id, i.request_hash, v.status FROM idempotency i JOIN orders_view v ON v.id = i.order_id WHERE i.customer_id = $1 AND i.key = $2 AND i.created_at >= $3',
    [customerId, key, notBefore],
  );
  return r && { orderId: r.order_id, requestHash: r.request_hash, status: r.status };
}

// By primary key through a bounded subquery, one statement on both engines.
const PURGE_IDEMPOTENCY = `DELETE FROM idempotency WHERE (customer_id, key) IN (
  SELECT customer_id, key FROM idempotency WHERE created_at < $1 LIMIT $2)`;

/** Deletes at most `limit` keys recorded before `before` (ISO time); returns how many. */
export function purgeIdempotencyKeys(sql: Sql, before: string, limit: number): Promise<number> {
  return sql.execute(PURGE_IDEMPOTENCY, [before, limit]);
}

// --- the local catalog copy --------------------------------------------------------------

export interface CatalogProduct {
  productId: string;
  sku: string;
  name: string;
  priceCents: number;
}

/**
 * Keeps the product's facts of `revision` (0, ProductCreated's, unless told) unless the row
 * holds a newer revision: a redelivered or replayed event writes the same row again, and a
 * late older one (a ProductCreated after a ProductPriceChanged) does not bring the old
 * price back. True when the row was written.
 */
export async function upsertProduct(sql: Sql, p: CatalogProduct & { revision?: number }, at: string): Promise<boolean> {
  const changed = await sql.execute(
    `INSERT INTO catalog (product_id, sku, name, price_cents, revision, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (product_id) DO UPDATE SET sku = excluded.sku, name = excluded.name, price_cents = excluded.price_cents,
       revision = excluded.revision, updated_at = excluded.updated_at
     WHERE catalog.revision <= excluded.revision`,
    [p.productId.toLowerCase(), p.sku, p.name, p.priceCents, p.revision ?? 0, at],
  );
  return changed === 1;
}

export async function getProduct(sql: Sql, productId: string): Promise<CatalogProduct | undefined> {
  const [r] = await sql.query<{ product_id: string; sku: string; name: string; price_cents: number }>(
    'SELECT product_id, sku, name, price_cents FROM catalog WHERE product_id = $1',
    [productId.toLowerCase()],
  );
  return r && { productId: r.product_id, sku: r.sku, name: r.name, priceCents: Number(r.price_cents) };
}

// One statement for any number of ids, with one SQL text (the ids travel as a JSON array),
// so the statement stays prepared whatever the size of the order.
const PRICES: Record<Dialect, string> = {
  sqlite: 'SELECT product_id, price_cents FROM catalog WHERE product_id IN (SELECT value FROM json_each($1))',
  postgres: 'SELECT product_id, price_cents FROM catalog WHERE product_id IN (SELECT jsonb_array_elements_text($1::jsonb))',
};

/** Prices of the known products among `productIds` (lower-cased ids). */
export async function pricesOf(sql: Sql, dialect: Dialect, productIds: readonly string[]): Promise<Map<string, number>> {
  const rows = await sql.query<{ product_id: string; price_cents: number }>(PRICES[dialect], [JSON.stringify(productIds.map((id) => id.toLowerCase()))]);
  return new Map(rows.map((r) => [r.product_id, Number(r.price_cents)]));
}

// --- the rest architecture's unfinished sagas ----------------------------------------------

export async function insertRestSaga(sql: Sql, orderId: string, at: string): Promise<void> {
  await sql.execute('INSERT INTO rest_sagas (order_id, since) VALUES ($1, $2)', [orderId, at]);
}

export async function deleteRestSaga(sql: Sql, orderId: string): Promise<void> {
  await sql.execute('DELETE FROM rest_sagas WHERE order_id = $1', [orderId]);
}

/** Unfinished sagas accepted before `before` (ISO time), oldest first. */
export async function staleRestSagas(sql: Sql, before: string, limit: number): Promise<string[]> {
  const rows = await sql.query<{ order_id: string }>('SELECT order_id FROM rest_sagas WHERE since < $1 ORDER BY since LIMIT $2', [before, limit]);
  return rows.map((r) => r.order_id);
}
