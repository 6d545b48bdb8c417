/** The payments table and its SQL. Functions take the Sql to run on (transaction or Db). */
import type { Migration, Sql } from '#platform/db/db.ts';
import type { Payment, PaymentStatus } from './domain/provider.ts';

// amount_cents is BIGINT: an order total is not bounded by a 32-bit integer.
export const migrations: Migration[] = [
  {
    id: 'payments-001-payments',
    sql: `
      CREATE TABLE payments (
        order_id TEXT PRIMARY KEY,
        payment_id TEXT NOT NULL UNIQUE,
        customer_id TEXT NOT NULL,
        amount_cents BIGINT NOT NULL CHECK (amount_cents >= 0),
        method TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('CHARGED', 'DECLINED', 'REFUNDED')),
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );`,
  },
  // CANCELLED (issue 9): a charge refused in advance, for an order unwound before its charge.
  // SQLite cannot alter a CHECK constraint, so the table is rebuilt there.
  {
    id: 'payments-002-cancelled-status',
    sql: {
      sqlite: `
        CREATE TABLE payments_new (
          order_id TEXT PRIMARY KEY,
          payment_id TEXT NOT NULL UNIQUE,
          customer_id TEXT NOT NULL,
          amount_cents BIGINT NOT NULL CHECK (amount_cents >= 0),
          method TEXT NOT NULL,
          status TEXT NOT NULL CHECK (status IN ('CHARGED', 'DECLINED', 'REFUNDED', 'CANCELLED')),
          created_at TEXT NOT NULL,
          updated_at TEXT NOT NULL
        );
        INSERT INTO payments_new SELECT order_id, payment_id, customer_id, amount_cents, method, status, created_at, updated_at FROM payments;
        DROP TABLE payments;
        ALTER TABLE payments_new RENAME TO payments;`,
      postgres: `
        ALTER TABLE payments DROP CONSTRAINT IF EXISTS payments_status_check;
        ALTER TABLE payments ADD CONSTRAINT payments_status_check CHECK (status IN ('CHARGED', 'DECLINED', 'REFUNDED', 'CANCELLED'));`,
    },
  },
];

interface PaymentRow {
  order_id: string;
  payment_id: string;
  customer_id: string;
  amount_cents: number;
  method: string;
  status: PaymentStatus;
}

export async function getPayment(sql: Sql, orderId: string): Promise<Payment | undefined> {
  const rows = await sql.query<PaymentRow>(
    'SELECT order_id, payment_id, customer_id, amount_cents, method, status FROM payments WHERE order_id = $1',
    [orderId],
  );
  if (rows.length === 0) return undefined;
  const r = rows[0];
  return { orderId: r.order_id, paymentId: r.payment_id, customerId: r.customer_id, amountCents: Number(r.amount_cents), method: r.method, status: r.status };
}

/**
 * Records a decided payment. A second one for the same order violates the primary key and
 * rolls back the caller's transaction: at most one charge per order, even under a race.
 */
export async function insertPayment(sql: Sql, p: Payment, at: string): Promise<void> {
  await sql.execute(
    `INSERT INTO payments (order_id, payment_id, customer_id, amount_cents, method, status, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $7)`,
    [p.orderId, p.paymentId, p.customerId, p.amountCents, p.method, p.status, at],
  );
}

/** CHARGED → REFUNDED; false when the payment was not CHARGED (so a racing refund does nothing). */
export async function markRefunded(sql: Sql, orderId: string, at: string): Promise<boolean> {
  const changed = await sql.execute("UPDATE payments SET status = 'REFUNDED', updated_at = $2 WHERE order_id = $1 AND status = 'CHARGED'", [orderId, at]);
  return changed === 1;
}
