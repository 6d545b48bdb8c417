/**
 * The cart's database: carts and their lines, the checkouts made of them (one per cart
 * version), the answers kept for clients' Idempotency-Keys, and a local copy of the catalog
 * (names, prices, a stock count) kept from inventory's events. Every function takes the Sql
 * to run on (a transaction or the Db) first.
 */
import type { Migration, Sql } from '#platform/db/db.ts';
import type { CartHead, LineFacts } from './domain/cart.ts';
import { available } from './domain/cart.ts';

export const migrations: Migration[] = [
  {
    id: 'cart-001-carts-checkouts-catalog',
    sql: `
      CREATE TABLE carts (
        cart_id TEXT PRIMARY KEY,
        customer_id TEXT NOT NULL UNIQUE,
        version INTEGER NOT NULL,
        updated_at TEXT NOT NULL,
        -- The last version announced as abandoned: once per version.
        abandoned_version INTEGER NOT NULL DEFAULT 0,
        last_order_id TEXT
      );
      -- The abandoned-cart loop's candidates only: an announced or emptied cart leaves the index.
      CREATE INDEX carts_not_announced ON carts (updated_at) WHERE abandoned_version < version;
      -- set_in_version: the cart version that last set the line, so that a checkout of
      -- version v removes the lines as of v and keeps those changed while it ran.
      CREATE TABLE cart_lines (
        cart_id TEXT NOT NULL,
        product_id TEXT NOT NULL,
        quantity INTEGER NOT NULL CHECK (quantity > 0),
        added_in_version INTEGER NOT NULL,
        set_in_version INTEGER NOT NULL,
        PRIMARY KEY (cart_id, product_id)
      );
      CREATE TABLE checkouts (
        cart_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        order_id TEXT NOT NULL,
        status TEXT NOT NULL,
        reason TEXT,
        checked_out_at TEXT NOT NULL,
        PRIMARY KEY (cart_id, version)
      );
      CREATE TABLE checkout_keys (
        customer_id TEXT NOT NULL,
        idempotency_key TEXT NOT NULL,
        request_hash TEXT NOT NULL,
        order_id TEXT NOT NULL,
        status TEXT NOT NULL,
        reason TEXT,
        created_at TEXT NOT NULL,
        PRIMARY KEY (customer_id, idempotency_key)
      );
      CREATE INDEX checkout_keys_created_at ON checkout_keys (created_at);
      -- revision: of the name and price (ProductCreated is 0; -1 while only stock moves are
      -- known). stock: what the product was created with (null: not known); stock_moved:
      -- restocks and releases minus reservations since.
      CREATE TABLE catalog (
        product_id TEXT PRIMARY KEY,
        name TEXT,
        price_cents INTEGER,
        revision INTEGER NOT NULL,
        stock INTEGER,
        stock_moved INTEGER NOT NULL DEFAULT 0,
        updated_at TEXT NOT NULL
      );
      -- What a reservation took, until it is released or forgotten (StockReleased names only the order).
      CREATE TABLE stock_holds (
        order_id TEXT PRIMARY KEY,
        lines TEXT NOT NULL,
        held_at TEXT NOT NULL
      );
      CREATE INDEX stock_holds_held_at ON stock_holds (held_at);`,
  },
];

// --- carts -------------------------------------------------------------------------------

interface HeadRow { cart_id: string; customer_id: string; version: number; updated_at: string; last_order_id: string | null }
const head = (r: HeadRow): CartHead & { lastOrderId: string | null } =>
  ({ cartId: r.cart_id, customerId: r.customer_id, version: Number(r.version), updatedAt: r.updated_at, lastOrderId: r.last_order_id });

export async function getCart(sql: Sql, customerId: string): Promise<(CartHead & { lastOrderId: string | null }) | undefined> {
  const rows = await sql.query<HeadRow>('SELECT cart_id, customer_id, version, updated_at, last_order_id FROM carts WHERE customer_id = $1', [customerId]);
  return rows[0] && head(rows[0]);
}

interface LineRow { product_id: string; quantity: number; name: string | null; price_cents: number | null; stock: number | null; stock_moved: number | null }

/** The cart's lines with the catalog copy's facts, in the order they were added. */
export async function getLines(sql: Sql, cartId: string, stockCounted: boolean): Promise<LineFacts[]> {
  const rows = await sql.query<LineRow>(
    `SELECT l.product_id, l.quantity, c.name, c.price_cents, c.stock, c.stock_moved
       FROM cart_lines l LEFT JOIN catalog c ON c.product_id = l.product_id
      WHERE l.cart_id = $1 ORDER BY l.added_in_version, l.product_id`,
    [cartId],
  );
  return rows.map((r) => ({
    productId: r.product_id,
    quantity: Number(r.quantity),
    name: r.name,
    priceCents: r.price_cents === null ? null : Number(r.price_cents),
    available: available(r.stock === null ? null : Number(r.stock), Number(r.stock_moved ?? 0), stockCounted),
  }));
}

/**
 * The customer's cart, made at version 0 if it is not there, moved to its next version (the
 * UPDATE holds its row until the transaction ends: changes of one cart queue up).
 */
export async function nextVersion(sql: Sql, customerId: string, newCartId: string, at: string): Promise<{ cartId: string; version: number }> {
  await sql.execute('INSERT INTO carts (cart_id, customer_id, version, updated_at) VALUES ($1, $2, 0, $3) ON CONFLICT (customer_id) DO NOTHING', [newCartId, customerId, at]);
  const [row] = await sql.query<{ cart_id: string; version: number }>(
    'UPDATE carts SET version = version + 1, updated_at = $2 WHERE customer_id = $1 RETURNING cart_id, version',
    [customerId, at],
  );
  return { cartId: row.cart_id, version: Number(row.version) };
}

export async function putLine(sql: Sql, cartId: string, productId: string, quantity: number, version: number): Promise<void> {
  await sql.execute(
    `INSERT INTO cart_lines (cart_id, product_id, quantity, added_in_version, set_in_version) VALUES ($1, $2, $3, $4, $4)
     ON CONFLICT (cart_id, product_id) DO UPDATE SET quantity = excluded.quantity, set_in_version = excluded.set_in_version`,
    [cartId, productId, quantity, version],
  );
}

export async function countLines(sql: Sql, cartId: string): Promise<number> {
  const [row] = await sql.query<{ n: number }>('SELECT COUNT(*) AS n FROM cart_lines WHERE cart_id = $1', [cartId]);
  return Number(row.n);
}

/** Removes a line; false when the cart had none for the product (nothing changed). */
export async function removeLine(sql: Sql, customerId: string, productId: string): Promise<boolean> {
  const n = await sql.execute('DELETE FROM cart_lines WHERE cart_id = (SELECT cart_id FROM carts WHERE customer_id = $1) AND product_id = $2', [customerId, productId]);
  return n > 0;
}

/** An emptied cart has nothing to announce: it leaves the abandoned-cart loop's index. */
export async function markEmptyAnnounced(sql: Sql, cartId: string): Promise<void> {
  await sql.execute('UPDATE carts SET abandoned_version = version WHERE cart_id = $1 AND NOT EXISTS (SELECT 1 FROM cart_lines WHERE cart_id = $1)', [cartId]);
}

// --- checkouts ---------------------------------------------------------------------------

export interface CheckoutAnswer { orderId: string; status: string; reason?: string }

/**
 * Records that `version` of the cart became `orderId`, removes the lines as they were at that
 * version and moves the cart on; false when this version was recorded before (a retry, or
 * another instance): then nothing changes.
 */
export async function recordCheckout(sql: Sql, cartId: string, version: number, answer: CheckoutAnswer, at: string): Promise<boolean> {
  const n = await sql.execute(
    'INSERT INTO checkouts (cart_id, version, order_id, status, reason, checked_out_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (cart_id, version) DO NOTHING',
    [cartId, version, answer.orderId, answer.status, answer.reason ?? null, at],
  );
  if (n === 0) return false;
  await sql.execute('DELETE FROM cart_lines WHERE cart_id = $1 AND set_in_version <= $2', [cartId, version]);
  // The emptied version has nothing to announce; a line put in later makes a newer one.
  await sql.execute('UPDATE carts SET version = version + 1, abandoned_version = version + 1, updated_at = $2, last_order_id = $3 WHERE cart_id = $1', [cartId, at, answer.orderId]);
  return true;
}

export async function getCheckout(sql: Sql, cartId: string, version: number): Promise<CheckoutAnswer | undefined> {
  const rows = await sql.query<{ order_id: string; status: string; reason: string | null }>('SELECT order_id, status, reason FROM checkouts WHERE cart_id = $1 AND version = $2', [cartId, version]);
  return rows[0] && answerOf(rows[0]);
}

const answerOf = (r: { order_id: string; status: string; reason: string | null }): CheckoutAnswer =>
  (r.reason ? { orderId: r.order_id, status: r.status, reason: r.reason } : { orderId: r.order_id, status: r.status });

export interface KeptAnswer extends CheckoutAnswer { requestHash: string }

export async function findCheckoutKey(sql: Sql, customerId: string, key: string, notBefore: string): Promise<KeptAnswer | undefined> {
  const rows = await sql.query<{ order_id: string; status: string; reason: string | null; request_hash: string }>(
    'SELECT order_id, status, reason, request_hash FROM checkout_keys WHERE customer_id = $1 AND idempotency_key = $2 AND created_at >= $3',
    [customerId, key, notBefore],
  );
  return rows[0] && { ...answerOf(rows[0]), requestHash: rows[0].request_hash };
}

/** Keeps the answer for a client's key; false when the key was taken (by a request that raced this one). */
export async function keepCheckoutKey(sql: Sql, customerId: string, key: string, requestHash: string, answer: CheckoutAnswer, at: string, notBefore: string): Promise<boolean> {
  // An expired key is as good as absent: it is taken over.
  await sql.execute('DELETE FROM checkout_keys WHERE customer_id = $1 AND idempotency_key = $2 AND created_at < $3', [customerId, key, notBefore]);
  const n = await sql.execute(
    `INSERT INTO checkout_keys (customer_id, idempotency_key, request_hash, order_id, status, reason, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (customer_id, idempotency_key) DO NOTHING`,
    [customerId, key, requestHash, answer.orderId, answer.status, answer.reason ?? null, at],
  );
  return n === 1;
}

// --- abandoned carts ---------------------------------------------------------------------

/**
 * Claims up to `limit` carts with lines, untouched since before `cutoff` and not announced at
 * their version: marks them announced and returns them. The condition is checked again on
 * the locked row (PostgreSQL re-evaluates it after waiting), so of two instances claiming at
 * once each cart goes to one.
 */
export async function claimAbandoned(sql: Sql, cutoff: string, limit: number): Promise<CartHead[]> {
  const rows = await sql.query<HeadRow>(
    `UPDATE carts SET abandoned_version = version
      WHERE cart_id IN (
        SELECT cart_id FROM carts c
         WHERE c.updated_at < $1 AND c.abandoned_version < c.version
           AND EXISTS (SELECT 1 FROM cart_lines l WHERE l.cart_id = c.cart_id)
         ORDER BY c.updated_at LIMIT $2)
        AND updated_at < $1 AND abandoned_version < version
      RETURNING cart_id, customer_id, version, updated_at, last_order_id`,
    [cutoff, limit],
  );
  return rows.map(head);
}

/** Forgets the answers of clients' keys older than `before`; returns how many. */
export async function purgeCheckoutKeys(sql: Sql, before: string): Promise<number> {
  return sql.execute('DELETE FROM checkout_keys WHERE created_at < $1', [before]);
}

// --- the catalog copy --------------------------------------------------------------------

/** Keeps a product's name and price of `revision` unless the row holds a newer one. */
export async function upsertProductFacts(sql: Sql, p: { productId: string; name: string; priceCents: number; revision: number }, at: string): Promise<void> {
  await sql.execute(
    `INSERT INTO catalog (product_id, name, price_cents, revision, updated_at) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (product_id) DO UPDATE SET name = excluded.name, price_cents = excluded.price_cents, revision = excluded.revision, updated_at = excluded.updated_at
     WHERE catalog.revision <= excluded.revision`,
    [p.productId.toLowerCase(), p.name, p.priceCents, p.revision, at],
  );
}

/** The stock a product was created with (once: a creation is announced once). */
export async function setInitialStock(sql: Sql, productId: string, stock: number): Promise<void> {
  await sql.execute('UPDATE catalog SET stock = $2 WHERE product_id = $1 AND stock IS NULL', [productId.toLowerCase(), stock]);
}

/** Adds `delta` units to a product's stock count (negative for a reservation); makes its row if need be. */
export async function moveStock(sql: Sql, productId: string, delta: number, at: string): Promise<void> {
  await sql.execute(
    `INSERT INTO catalog (product_id, revision, stock_moved, updated_at) VALUES ($1, -1, $2, $3)
     ON CONFLICT (product_id) DO UPDATE SET stock_moved = catalog.stock_moved + excluded.stock_moved, updated_at = excluded.updated_at`,
    [productId.toLowerCase(), delta, at],
  );
}

export async function getProductPrice(sql: Sql, productId: string): Promise<number | undefined> {
  const rows = await sql.query<{ price_cents: number | null }>('SELECT price_cents FROM catalog WHERE product_id = $1', [productId.toLowerCase()]);
  return rows[0]?.price_cents == null ? undefined : Number(rows[0].price_cents);
}

export interface HeldLine { productId: string; quantity: number }

export async function holdStock(sql: Sql, orderId: string, lines: readonly HeldLine[], at: string): Promise<boolean> {
  const n = await sql.execute('INSERT INTO stock_holds (order_id, lines, held_at) VALUES ($1, $2, $3) ON CONFLICT (order_id) DO NOTHING', [orderId.toLowerCase(), JSON.stringify(lines), at]);
  return n === 1;
}

/** Takes a reservation's lines off the holds; undefined when none is held (never seen, or forgotten). */
export async function takeHold(sql: Sql, orderId: string): Promise<HeldLine[] | undefined> {
  const rows = await sql.query<{ lines: string }>('DELETE FROM stock_holds WHERE order_id = $1 RETURNING lines', [orderId.toLowerCase()]);
  return rows[0] && (JSON.parse(rows[0].lines) as HeldLine[]);
}

/** Forgets up to `limit` holds older than `before` (their orders were long settled); returns how many. */
export async function purgeHolds(sql: Sql, before: string, limit: number): Promise<number> {
  return sql.execute('DELETE FROM stock_holds WHERE order_id IN (SELECT order_id FROM stock_holds WHERE held_at < $1 LIMIT $2)', [before, limit]);
}
