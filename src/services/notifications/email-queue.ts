/**
 * The e-mail delivery queue's SQL (the email_deliveries table, made in store.ts): a row per
 * event queued by the handlers, claimed, sent and settled by the mailer (mailer.ts).
 */
import type { Dialect, Sql } from '#platform/db/db.ts';
import type { Kind } from './domain/kinds.ts';

export interface NewEmail {
  id: string;
  eventId: string;
  customerId: string;
  kind: Kind;
  subject: string;
  text: string;
  html: string;
}

/** Queues the e-mail, due now; false when this event's e-mail exists (a redelivery). */
export async function insertEmail(sql: Sql, e: NewEmail, at: string): Promise<boolean> {
  const rows = await sql.query<{ id: string }>(
    `INSERT INTO email_deliveries (id, event_id, customer_id, kind, subject, text_body, html_body, status, attempts, next_attempt_at, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', 0, $8, $8) ON CONFLICT (event_id) DO NOTHING RETURNING id`,
    [e.id, e.eventId, e.customerId, e.kind, e.subject, e.text, e.html, at],
  );
  return rows.length === 1;
}

export interface ClaimedEmail {
  id: string;
  eventId: string;
  customerId: string;
  kind: Kind;
  subject: string;
  text: string;
  html: string;
  /** This attempt's number, 1 for the first. */
  attempts: number;
  /** Undefined while no UserRegistered named the customer's address. */
  to?: string;
}

/**
 * Claims up to `limit` due e-mails for one pass: each is leased until `leaseUntil` (its
 * next_attempt_at moves there), so another replica's pass skips it, and a process that dies
 * mid-send leaves it due again when the lease ends. On PostgreSQL, SKIP LOCKED lets two
 * replicas claim at once without waiting on each other's rows.
 */
export async function claimDueEmails(sql: Sql, dialect: Dialect, o: { now: string; leaseUntil: string; claimId: string; limit: number }): Promise<ClaimedEmail[]> {
  const lock = dialect === 'postgres' ? 'FOR UPDATE SKIP LOCKED' : '';
  const rows = await sql.query<{ id: string; event_id: string; customer_id: string; kind: Kind; subject: string; text_body: string; html_body: string; attempts: number }>(
    `UPDATE email_deliveries SET claim_id = $1, attempts = attempts + 1, next_attempt_at = $2
     WHERE id IN (SELECT id FROM email_deliveries WHERE status = 'pending' AND next_attempt_at <= $3 ORDER BY next_attempt_at LIMIT $4 ${lock})
     RETURNING id, event_id, customer_id, kind, subject, text_body, html_body, attempts`,
    [o.claimId, o.leaseUntil, o.now, o.limit],
  );
  if (rows.length === 0) return [];
  const customers = [...new Set(rows.map((r) => r.customer_id))];
  const emails = await sql.query<{ customer_id: string; email: string }>(
    `SELECT customer_id, email FROM customers WHERE customer_id IN (${customers.map((_, i) => `$${i + 1}`).join(', ')})`,
    customers,
  );
  const to = new Map(emails.map((e) => [e.customer_id, e.email]));
  return rows.map((r) => ({
    id: r.id, eventId: r.event_id, customerId: r.customer_id, kind: r.kind, subject: r.subject, text: r.text_body, html: r.html_body,
    attempts: Number(r.attempts), to: to.get(r.customer_id),
  }));
}

/** The three ends of an attempt; each only while the claim is still this pass's (false otherwise). */
export async function markSent(sql: Sql, id: string, claimId: string, at: string): Promise<boolean> {
  return (await sql.execute("UPDATE email_deliveries SET status = 'sent', claim_id = NULL, settled_at = $3, last_error = NULL WHERE id = $1 AND claim_id = $2", [id, claimId, at])) === 1;
}

export async function reschedule(sql: Sql, id: string, claimId: string, nextAt: string, error: string): Promise<boolean> {
  return (await sql.execute('UPDATE email_deliveries SET claim_id = NULL, next_attempt_at = $3, last_error = $4 WHERE id = $1 AND claim_id = $2', [id, claimId, nextAt, error])) === 1;
}

export async function markDead(sql: Sql, id: string, claimId: string, at: string, error: string): Promise<boolean> {
  return (await sql.execute("UPDATE email_deliveries SET status = 'dead', claim_id = NULL, settled_at = $3, last_error = $4 WHERE id = $1 AND claim_id = $2", [id, claimId, at, error])) === 1;
}

export interface EmailDelivery {
  id: string;
  eventId: string;
  customerId: string;
  kind: Kind;
  subject: string;
  status: 'pending' | 'sent' | 'dead';
  attempts: number;
  nextAttemptAt: string;
  lastError: string | null;
  createdAt: string;
  settledAt: string | null;
}

/** The queue's rows, newest first; of one status when given. */
export async function listEmails(sql: Sql, opts: { status?: EmailDelivery['status']; limit: number }): Promise<EmailDelivery[]> {
  const cols = 'id, event_id, customer_id, kind, subject, status, attempts, next_attempt_at, last_error, created_at, settled_at';
  const rows = opts.status === undefined
    ? await sql.query<Record<string, any>>(`SELECT ${cols} FROM email_deliveries ORDER BY created_at DESC, id DESC LIMIT $1`, [opts.limit])
    : await sql.query<Record<string, any>>(`SELECT ${cols} FROM email_deliveries WHERE status = $1 ORDER BY created_at DESC, id DESC LIMIT $2`, [opts.status, opts.limit]);
  return rows.map((r) => ({
    id: r.id, eventId: r.event_id, customerId: r.customer_id, kind: r.kind, subject: r.subject, status: r.status, attempts: Number(r.attempts),
    nextAttemptAt: r.next_attempt_at, lastError: r.last_error, createdAt: r.created_at, settledAt: r.settled_at,
  }));
}
