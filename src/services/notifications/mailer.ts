/**
 * The e-mail delivery worker: apart from the consumer, so that an SMTP outage never holds a
 * partition (the handlers only queue rows), and one customer's failing mail never holds
 * another's (each row is sent, retried and given up on its own).
 *
 * A pass claims the due rows (email-queue.ts: leased, SKIP LOCKED on PostgreSQL, so
 * replicas share the queue), sends them concurrently, and records each end: sent; a transient failure
 * rescheduled with exponential backoff and jitter; a permanent one (an SMTP 5xx, or the
 * attempts exhausted) dead, counted in orderflow_notification_emails_total{outcome="dead"}
 * and listed on GET /_admin/emails?status=dead. A pass runs when a commit made e-mails (wake),
 * and every pollMs for the retries coming due and other replicas' rows.
 *
 * SMTP is at least once by nature: a crash after the server took a message and before the
 * row says so sends it again when the lease ends. The Message-ID is the event's
 * (domain/delivery.ts), the same on both copies, so that they are recognisable as one.
 */
import { randomUUID } from 'node:crypto';
import { Counter, type Registry } from 'prom-client';
import type { Db } from '#platform/db/db.ts';
import type { Logger } from '#platform/log.ts';
import { startPeriodic } from '#platform/periodic.ts';
import { afterFailure, messageIdOf, type RetryPolicy } from './domain/delivery.ts';
import { claimDueEmails, markDead, markSent, reschedule, type ClaimedEmail } from './email-queue.ts';

/** One e-mail as the transport sends it. */
export interface Mail {
  from: string;
  to: string;
  subject: string;
  text: string;
  html: string;
  messageId: string;
}

/** Sends one mail or rejects with the transport's error (nodemailer's: `code`, `responseCode`). */
export type Send = (mail: Mail) => Promise<void>;

export interface MailerOptions {
  db: Db;
  send: Send;
  from: string;
  retry: RetryPolicy;
  pollMs: number;
  batch: number;
  /** How long a claim holds a row: longer than a send may take. */
  leaseMs: number;
  log: Logger;
  metrics?: Registry;
  clock?: { now(): Date };
  random?: () => number;
}

export interface Mailer {
  /** A pass soon: a commit queued e-mails. */
  wake(): void;
  /** One pass now (after the one in flight); resolves with how many rows it settled or rescheduled. */
  pass(): Promise<number>;
  stop(): Promise<void>;
}

export const unknownRecipient = { code: 'ENORECIPIENT', message: 'no address known for this customer yet (no UserRegistered seen)' };

export function startMailer(o: MailerOptions): Mailer {
  const clock = o.clock ?? { now: () => new Date() };
  const random = o.random ?? Math.random;
  const outcomes = new Counter({
    name: 'orderflow_notification_emails_total',
    help: 'E-mail attempts by outcome: sent, retry (a transient failure, rescheduled), dead (given up).',
    labelNames: ['outcome'] as const,
    registers: o.metrics ? [o.metrics] : [],
  });

  async function attempt(mail: ClaimedEmail, claimId: string): Promise<void> {
    try {
      // An address that is not known yet (its UserRegistered is on another topic) is a
      // transient failure: retried with the others, dead if it never comes.
      if (mail.to === undefined) throw Object.assign(new Error(unknownRecipient.message), { code: unknownRecipient.code });
      await o.send({ from: o.from, to: mail.to, subject: mail.subject, text: mail.text, html: mail.html, messageId: messageIdOf(mail.eventId) });
    } catch (err) {
      const outcome = afterFailure(o.retry, mail.attempts, err as Error, random());
      const now = clock.now();
      if (outcome.kind === 'dead') {
        if (await markDead(o.db, mail.id, claimId, now.toISOString(), outcome.error)) outcomes.inc({ outcome: 'dead' });
        o.log.warn({ emailId: mail.id, eventId: mail.eventId, customerId: mail.customerId, attempts: mail.attempts, error: outcome.error }, 'e-mail given up (dead)');
      } else if (outcome.kind === 'retry') {
        await reschedule(o.db, mail.id, claimId, new Date(now.getTime() + outcome.delayMs).toISOString(), outcome.error);
        outcomes.inc({ outcome: 'retry' });
        o.log.info({ emailId: mail.id, attempts: mail.attempts, retryInMs: outcome.delayMs, error: outcome.error }, 'e-mail failed; retried later');
      }
      return;
    }
    if (await markSent(o.db, mail.id, claimId, clock.now().toISOString())) outcomes.inc({ outcome: 'sent' });
  }

  async function run(stopped: () => boolean): Promise<number> {
    let settled = 0;
    for (;;) {
      const now = clock.now();
      const claimId = randomUUID();
      const claimed = await o.db.transaction((tx) => claimDueEmails(tx, o.db.dialect, {
        now: now.toISOString(), leaseUntil: new Date(now.getTime() + o.leaseMs).toISOString(), claimId, limit: o.batch,
      }));
      await Promise.all(claimed.map((mail) => attempt(mail, claimId).catch((err) => o.log.warn({ err, emailId: mail.id }, 'recording an e-mail attempt failed; its lease ends and it is tried again'))));
      settled += claimed.length;
      // A full batch: more may be due.
      if (claimed.length < o.batch || stopped()) return settled;
    }
  }

  const periodic = startPeriodic({ name: 'e-mail delivery', intervalMs: o.pollMs, log: o.log, run, failed: 0 });
  let woken = false;
  let stopped = false;
  return {
    wake() {
      // Many commits in a row ask for one pass.
      if (woken || stopped) return;
      woken = true;
      setImmediate(() => {
        woken = false;
        periodic.pass().catch(() => undefined);
      });
    },
    pass: () => periodic.pass(),
    stop() {
      stopped = true;
      return periodic.stop();
    },
  };
}
