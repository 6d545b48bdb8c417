/**
 * From what a client sends to the messages the log keeps: each event checked on its own,
 * so one bad event costs only itself (its index and why, in the answer), never the batch.
 *
 * The client names a type in its own words (`product.viewed`); the log carries the
 * contract's (`ProductViewed`). The customer is never the client's to say: it is the
 * verified token's subject, given by the gateway, or absent for an anonymous visitor.
 * The client's timestamp is the event time analytics windows by, so one far from the
 * server's clock (a wrong device clock, a replay of last month) is refused rather than
 * opening windows nobody will close.
 */
import { Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { Envelope } from '#platform/bus/envelope.ts';
import type { OrderflowError } from '#platform/errors.ts';
import { CartUpdated, message, ProductSearched, ProductViewed, type Contract } from '#contracts/index.ts';
import { Uuid } from '#contracts/shared.ts';
import { EventTimeOutOfRange, InvalidEvent, UnknownEventType } from '../errors.ts';

/** The most events one request may carry. */
export const MAX_EVENTS_PER_BATCH = 500;

const clientTypes: Readonly<Record<string, Contract>> = Object.freeze({
  'product.viewed': ProductViewed,
  'product.searched': ProductSearched,
  'cart.updated': CartUpdated,
});
export const clientEventTypes = Object.keys(clientTypes);

// What every client event has besides its type's own fields.
const Common = Type.Object({
  type: Type.String(),
  /** The client's id for the event; a client that retries a batch sends the same ids, so a consumer can tell a retry apart. */
  id: Type.Optional(Uuid),
  /** ISO 8601 with a zone, e.g. 2026-12-05T10:00:00.000Z (checked by Date.parse below). */
  at: Type.String({ minLength: 10, maxLength: 40 }),
});
const common = TypeCompiler.Compile(Common);
const isoWithZone = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

export interface TimeBounds {
  /** How far ahead of the server's clock an event may be (device clocks drift). */
  maxAheadMs: number;
  /** How old an event may be (a client that was offline sends late). */
  maxAgeMs: number;
}

export const defaultTimeBounds: Readonly<TimeBounds> = Object.freeze({ maxAheadMs: 5 * 60_000, maxAgeMs: 7 * 24 * 3_600_000 });

export interface Rejected {
  index: number;
  error: { code: string; message: string };
}

export interface Admitted {
  accepted: Array<{ topic: string; message: Envelope }>;
  rejected: Rejected[];
}

/** Checks each event; `now` and the ids come in, so the same batch admits the same way. */
export function admitEvents(events: readonly unknown[], ctx: { customerId?: string; now: Date; bounds?: TimeBounds }): Admitted {
  const bounds = ctx.bounds ?? defaultTimeBounds;
  const now = ctx.now.getTime();
  const accepted: Admitted['accepted'] = [];
  const rejected: Rejected[] = [];
  events.forEach((event, index) => {
    try {
      accepted.push(admitOne(event, ctx.customerId, now, bounds));
    } catch (err) {
      const e = err as OrderflowError;
      rejected.push({ index, error: { code: e.code, message: e.message } });
    }
  });
  return { accepted, rejected };
}

function admitOne(event: unknown, customerId: string | undefined, now: number, bounds: TimeBounds): { topic: string; message: Envelope } {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) throw InvalidEvent('an event is an object');
  const { type, id, at, ...fields } = event as Record<string, unknown>;
  const contract = typeof type === 'string' ? clientTypes[type] : undefined;
  if (!contract) throw UnknownEventType(`type must be one of ${clientEventTypes.join(', ')}; got ${JSON.stringify(type)}`);
  if (!common.Check({ type, id, at })) {
    const first = common.Errors({ type, id, at }).First();
    throw InvalidEvent(`${first?.path || '/'}: ${first?.message ?? 'invalid'}`);
  }
  if ('customerId' in fields) throw InvalidEvent('customerId is not the client\'s to say: it is the access token\'s subject');
  const time = isoWithZone.test(at as string) ? Date.parse(at as string) : Number.NaN;
  if (Number.isNaN(time)) throw InvalidEvent(`at must be an ISO 8601 time with a zone; got ${JSON.stringify(at)}`);
  if (time > now + bounds.maxAheadMs) throw EventTimeOutOfRange(`at ${at as string} is ahead of the server's clock by more than ${bounds.maxAheadMs / 1000} s`);
  if (time < now - bounds.maxAgeMs) throw EventTimeOutOfRange(`at ${at as string} is older than ${Math.round(bounds.maxAgeMs / 3_600_000)} h`);
  const payload = customerId === undefined ? fields : { ...fields, customerId };
  // Additional fields: the contract's schemas are open (additive evolution), the client's input is not.
  const extra = Object.keys(fields).filter((k) => !(k in (contract.schema as unknown as { properties: object }).properties));
  if (extra.length > 0) throw InvalidEvent(`${type as string} has no field ${extra.join(', ')}`);
  const problem = contract.check(payload);
  if (problem) throw InvalidEvent(`${type as string}: ${problem}`);
  return message(contract, { payload: payload as never, occurredAt: new Date(time).toISOString(), ...(typeof id === 'string' ? { id } : {}) });
}
