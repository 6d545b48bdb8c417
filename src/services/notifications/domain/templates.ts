/**
 * One message per kind, rendered from what the event said: a subject, a plain text and an
 * HTML body. Pure: the same kind and data always give the same message. Every value from an
 * event is escaped in the HTML.
 */
import type { Kind } from './kinds.ts';

export interface TemplateData {
  orderId?: string;
  reason?: string;
  trackingNumber?: string;
  amountCents?: number;
  cartId?: string;
  /** Units in an abandoned cart. */
  items?: number;
}

export interface Rendered {
  subject: string;
  text: string;
  html: string;
}

/** What the customer reads for a cancellation reason; an unknown one is shown as it is. */
const reasons: Record<string, string> = {
  OUT_OF_STOCK: 'an item you ordered is out of stock',
  PAYMENT_DECLINED: 'your payment was declined',
  SHIPPING_UNAVAILABLE: 'we cannot ship to your address',
  TIMEOUT: 'it could not be completed in time',
};

export const reasonText = (reason: string | undefined): string => (reason === undefined ? 'of a problem on our side' : reasons[reason] ?? reason);

/** 1234 → "12.34". */
export const money = (cents: number): string => `${Math.trunc(cents / 100)}.${String(Math.abs(cents) % 100).padStart(2, '0')}`;

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Short ids in subjects: a subject line is read at a glance; the whole id is in the body. */
const short = (id = ''): string => id.slice(-8);

function page(subject: string, lines: string[]): Rendered {
  const text = `${lines.join('\n\n')}\n\n— orderflow\n`;
  const html = `<!doctype html><html><body><h1>${escapeHtml(subject)}</h1>${lines.map((l) => `<p>${escapeHtml(l)}</p>`).join('')}<p>— orderflow</p></body></html>`;
  return { subject, text, html };
}

export function render(kind: Kind, data: TemplateData): Rendered {
  const order = `order ${data.orderId ?? ''}`;
  switch (kind) {
    case 'orderConfirmed':
      return page(`Your order …${short(data.orderId)} is confirmed`, [`Good news: your ${order} is confirmed.`, 'We will tell you when it ships.']);
    case 'orderCancelled':
      return page(`Your order …${short(data.orderId)} was cancelled`, [`Your ${order} was cancelled because ${reasonText(data.reason)}.`, `Reason: ${data.reason ?? 'unknown'}.`]);
    case 'shipmentScheduled':
      return page(`Your order …${short(data.orderId)} is on its way`, [`Your ${order} is scheduled for shipping.`, `Tracking number: ${data.trackingNumber ?? 'not yet known'}.`]);
    case 'paymentRefunded':
      return page(`Refund for order …${short(data.orderId)}`, [`We refunded ${money(data.amountCents ?? 0)} for your ${order}.`, 'It may take a few days to show on your statement.']);
    case 'cartAbandoned': {
      const what = data.items === undefined ? 'Your cart' : `Your cart (${data.items} item${data.items === 1 ? '' : 's'}${data.amountCents === undefined ? '' : `, ${money(data.amountCents)}`})`;
      return page('You left something in your cart', [`${what} is still waiting for you.`, 'Come back and finish your order whenever you like.']);
    }
  }
}
