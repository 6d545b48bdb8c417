/**
 * The inventory's tables and the SQL that serves its domain. Every function takes the Sql
 * to run on (a transaction or the Db), so callers choose the transaction boundaries.
 */
import type { Dialect, Migration, Sql } from '#platform/db/db.ts';
import type { Product, RevisedProduct } from './domain/product.ts';
import type { Reservation, ReservationStatus, StockLine } from './domain/reservation.ts';

// CHECK (available >= 0) is the last line against overselling: even a bug in the locked
// path cannot commit negative stock.
export const migrations: Migration[] = [
  {
    id: 'inventory-001-products',
    sql: `
      CREATE TABLE products (
        id TEXT PRIMARY KEY,
        sku TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        price_cents INTEGER NOT NULL CHECK (price_cents >= 0),
        initial_stock INTEGER NOT NULL CHECK (initial_stock >= 0),
        available INTEGER NOT NULL CHECK (available >= 0),
        created_at TEXT NOT NULL
      );`,
  },
  {
    id: 'inventory-002-reservations',
    sql: `
      CREATE TABLE reservations (
        order_id TEXT PRIMARY KEY,
        items TEXT NOT NULL,
        missing TEXT,
        status TEXT NOT NULL CHECK (status IN ('RESERVED', 'RELEASED', 'REJECTED')),
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );`,
  },
  // The revision of a product's catalog facts (sku, name, price), carried by its events so
  // that a consumer never lets an older fact overwrite a newer one. Existing rows are 0,
  // the revision of their ProductCreated.
  { id: 'inventory-003-product-revision', sql: 'ALTER TABLE products ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;' },
];

interface ProductRow {
  id: string;
  sku: string;
  name: string;
  price_cents: number;
  available: number;
}

const toProduct = (r: ProductRow): Product => ({ id: r.id, sku: r.sku, name: r.name, priceCents: r.price_cents, available: r.available });

/** Inserts a product; false when its sku is taken. */
export async function insertProduct(sql: Sql, p: Product & { createdAt: string }): Promise<boolean> {
  const changed = await sql.execute(
    `INSERT INTO products (id, sku, name, price_cents, initial_stock, available, created_at)
     VALUES ($1, $2, $3, $4, $5, $5, $6) ON CONFLICT (sku) DO NOTHING`,
    [p.id, p.sku, p.name, p.priceCents, p.available, p.createdAt],
  );
  return changed === 1;
}

export async function listProducts(sql: Sql): Promise<Product[]> {
  const rows = await sql.query<ProductRow>('SELECT id, sku, name, price_cents, available FROM products ORDER BY sku');
  return rows.map(toProduct);
}

export async function getProduct(sql: Sql, id: string): Promise<Product | undefined> {
  const rows = await sql.query<ProductRow>('SELECT id, sku, name, price_cents, available FROM products WHERE id = $1', [id]);
  return rows.length === 0 ? undefined : toProduct(rows[0]);
}

export async function hasProducts(sql: Sql): Promise<boolean> {
  return (await sql.query('SELECT 1 AS one FROM products LIMIT 1')).length > 0;
}

// Locked like lockStock's read (same row lock), so that the change decided on it holds.
const PRODUCT_SQL = 'SELECT id, sku, name, price_cents, available, revision FROM products WHERE id = $1';
const productSql: Record<Dialect, string> = { sqlite: PRODUCT_SQL, postgres: `${PRODUCT_SQL} FOR UPDATE` };

/** Reads a product with its revision and, on PostgreSQL, locks its row until the transaction ends. */
export async function lockProduct(sql: Sql, dialect: Dialect, id: string): Promise<RevisedProduct | undefined> {
  const rows = await sql.query<ProductRow & { revision: number }>(productSql[dialect], [id]);
  return rows.length === 0 ? undefined : { ...toProduct(rows[0]), revision: Number(rows[0].revision) };
}

/** Writes a product's price, stock and revision, as decided on its locked row. */
export async function updateProduct(sql: Sql, p: RevisedProduct): Promise<void> {
  await sql.execute('UPDATE products SET price_cents = $2, available = $3, revision = $4 WHERE id = $1', [p.id, p.priceCents, p.available, p.revision]);
}

// An arbitrary constant: the advisory lock key of inventory's stock writers.
const STOCK_LOCK_KEY = 0x696e76_73746b;

/**
 * On PostgreSQL, takes the stock-writers' transaction lock (released at commit or rollback;
 * re-taking it in the same transaction is free). The consumer runs a partition's batch of
 * messages in one transaction, so row locks taken in id order per message still meet in
 * opposite orders across batches of different partitions and deadlock (measured: most
 * batches did, on five hot products). Taking this lock before any product row serialises
 * stock writers, as SQLite does anyway. Per message the work is a handful of statements,
 * and contended batches serialised on the hot rows regardless.
 */
export async function lockStockWriters(sql: Sql, dialect: Dialect): Promise<void> {
  if (dialect !== 'postgres' || lockedTransactions.has(sql)) return;
  await sql.query('SELECT pg_advisory_xact_lock($1)', [STOCK_LOCK_KEY]);
  lockedTransactions.add(sql);
}
// A transaction's Sql object lives as long as the transaction: once per batch is enough.
const lockedTransactions = new WeakSet<Sql>();

// SQLite serialises writing transactions (BEGIN IMMEDIATE), so a plain read is already
// stable. On PostgreSQL the row lock is redundant under lockStockWriters, but keeps the
// read stable against any writer that does not take it.
const STOCK_SQL = 'SELECT available FROM products WHERE id = $1';
const stockSql: Record<Dialect, string> = { sqlite: STOCK_SQL, postgres: `${STOCK_SQL} FOR UPDATE` };

/**
 * Reads a product's available stock and, on PostgreSQL, locks its row until the
 * transaction ends. Undefined for an unknown product. Lock rows in product id order.
 */
export async function lockStock(sql: Sql, dialect: Dialect, productId: string): Promise<number | undefined> {
  const rows = await sql.query<{ available: number }>(stockSql[dialect], [productId]);
  return rows.length === 0 ? undefined : rows[0].available;
}

/** Takes `quantity` units if that many are available; false (nothing changed) otherwise. */
export async function decrementStock(sql: Sql, productId: string, quantity: number): Promise<boolean> {
  const changed = await sql.execute('UPDATE products SET available = available - $1 WHERE id = $2 AND available >= $1', [quantity, productId]);
  return changed === 1;
}

export async function restoreStock(sql: Sql, productId: string, quantity: number): Promise<void> {
  await sql.execute('UPDATE products SET available = available + $1 WHERE id = $2', [quantity, productId]);
}

interface ReservationRow {
  order_id: string;
  items: string;
  missing: string | null;
  status: ReservationStatus;
}

export async function getReservation(sql: Sql, orderId: string): Promise<Reservation | undefined> {
  const rows = await sql.query<ReservationRow>('SELECT order_id, items, missing, status FROM reservations WHERE order_id = $1', [orderId]);
  if (rows.length === 0) return undefined;
  const r = rows[0];
  return { orderId: r.order_id, status: r.status, lines: JSON.parse(r.items) as StockLine[], missing: r.missing ? (JSON.parse(r.missing) as string[]) : [] };
}

/**
 * Records a reservation. A second one for the same order violates the primary key, which
 * rolls back the caller's transaction (its stock decrements included).
 */
export async function insertReservation(sql: Sql, r: Reservation, at: string): Promise<void> {
  await sql.execute(
    'INSERT INTO reservations (order_id, items, missing, status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)',
    [r.orderId, JSON.stringify(r.lines), r.missing.length > 0 ? JSON.stringify(r.missing) : null, r.status, at],
  );
}

/** Marks a held reservation RELEASED; false when it was not held. */
export async function markReleased(sql: Sql, orderId: string, at: string): Promise<boolean> {
  const changed = await sql.execute("UPDATE reservations SET status = 'RELEASED', updated_at = $2 WHERE order_id = $1 AND status = 'RESERVED'", [orderId, at]);
  return changed === 1;
}
