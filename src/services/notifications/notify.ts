/**
 * Making one event's notifications, inside the handler's transaction: the customer's
 * preferences decide the channels, the template the words, and the unique event id makes a
 * redelivered event insert nothing (exactly one notification per event and channel).
 */
import type { Dialect, Sql } from '#platform/db/db.ts';
import { wants } from './domain/kinds.ts';
import { render } from './domain/templates.ts';
import { insertEmail } from './email-queue.ts';
import { getPreferences, insertInApp, lockNotificationWriters, type OrderEvent } from './store.ts';

export interface NotifyDeps {
  dialect: Dialect;
  ids: { newId(): string };
  clock: { now(): Date };
  /** False when SMTP_URL is not set: no e-mail rows are made (config.ts). */
  email: boolean;
}

export interface Made {
  inApp: boolean;
  email: boolean;
}

export async function notify(tx: Sql, deps: NotifyDeps, customerId: string, e: Omit<OrderEvent, 'orderId'>): Promise<Made> {
  const prefs = await getPreferences(tx, customerId);
  const message = render(e.kind, e.data);
  const at = deps.clock.now().toISOString();
  const made: Made = { inApp: false, email: false };
  if (wants(prefs, e.kind, 'inApp')) {
    await lockNotificationWriters(tx, deps.dialect);
    made.inApp = await insertInApp(tx, { id: deps.ids.newId(), eventId: e.eventId, customerId, kind: e.kind, subject: message.subject, text: message.text, data: e.data, occurredAt: e.occurredAt }, at);
  }
  if (deps.email && wants(prefs, e.kind, 'email')) {
    made.email = await insertEmail(tx, { id: deps.ids.newId(), eventId: e.eventId, customerId, kind: e.kind, subject: message.subject, text: message.text, html: message.html }, at);
  }
  return made;
}
