/** The shipments table and its SQL. Functions take the Sql to run on (transaction or Db). */
import type { Migration, Sql } from '#platform/db/db.ts';
import type { RejectReason, ShipmentStatus } from './domain/carrier.ts';

export const migrations: Migration[] = [
  {
    id: 'shipping-001-shipments',
    sql: `
      CREATE TABLE shipments (
        order_id TEXT PRIMARY KEY,
        status TEXT NOT NULL CHECK (status IN ('SCHEDULED', 'REJECTED')),
        tracking_number TEXT,
        country TEXT NOT NULL,
        reason TEXT,
        created_at TEXT NOT NULL
      );`,
  },
  // CANCELLED (issue 9): a shipment called off for an order cancelled after asking for it.
  // SQLite cannot alter a CHECK constraint, so the table is rebuilt there.
  {
    id: 'shipping-002-cancelled-status',
    sql: {
      sqlite: `
        CREATE TABLE shipments_new (
          order_id TEXT PRIMARY KEY,
          status TEXT NOT NULL CHECK (status IN ('SCHEDULED', 'REJECTED', 'CANCELLED')),
          tracking_number TEXT,
          country TEXT NOT NULL,
          reason TEXT,
          created_at TEXT NOT NULL
        );
        INSERT INTO shipments_new SELECT order_id, status, tracking_number, country, reason, created_at FROM shipments;
        DROP TABLE shipments;
        ALTER TABLE shipments_new RENAME TO shipments;`,
      postgres: `
        ALTER TABLE shipments DROP CONSTRAINT IF EXISTS shipments_status_check;
        ALTER TABLE shipments ADD CONSTRAINT shipments_status_check CHECK (status IN ('SCHEDULED', 'REJECTED', 'CANCELLED'));`,
    },
  },
];

export interface Shipment {
  orderId: string;
  status: ShipmentStatus;
  trackingNumber: string | null;
  country: string;
  reason: RejectReason | null;
}

interface ShipmentRow {
  order_id: string;
  status: ShipmentStatus;
  tracking_number: string | null;
  country: string;
  reason: RejectReason | null;
}

export async function getShipment(sql: Sql, orderId: string): Promise<Shipment | undefined> {
  const rows = await sql.query<ShipmentRow>('SELECT order_id, status, tracking_number, country, reason FROM shipments WHERE order_id = $1', [orderId]);
  if (rows.length === 0) return undefined;
  const r = rows[0];
  return { orderId: r.order_id, status: r.status, trackingNumber: r.tracking_number, country: r.country, reason: r.reason };
}

/** Records a decided shipment; a second one for the same order violates the primary key (rollback, retry, replay). */
export async function insertShipment(sql: Sql, s: Shipment, at: string): Promise<void> {
  await sql.execute(
    'INSERT INTO shipments (order_id, status, tracking_number, country, reason, created_at) VALUES ($1, $2, $3, $4, $5, $6)',
    [s.orderId, s.status, s.trackingNumber, s.country, s.reason, at],
  );
}

/** Calls a scheduled shipment off; false when it was not SCHEDULED (the guard of two racing cancellations). */
export async function markCancelled(sql: Sql, orderId: string): Promise<boolean> {
  const n = await sql.execute("UPDATE shipments SET status = 'CANCELLED', reason = 'ORDER_CANCELLED' WHERE order_id = $1 AND status = 'SCHEDULED'", [orderId]);
  return n === 1;
}
