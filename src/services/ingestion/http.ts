/**
 * Ingestion's one route: POST /events takes a batch of client events, checks each
 * (domain/client-events.ts) and appends the good ones to the log in one publish, answering
 * 202 with how many were kept and why each other one was not. The log is the store: the
 * 202 is sent only once the bus stored every accepted event (Kafka: acks=all), and when the
 * bus cannot, nothing is answered accepted (503; the client sends the batch again, with the
 * same event ids if it gave any).
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Bus } from '#platform/bus/bus.ts';
import { encode } from '#platform/bus/envelope.ts';
import { DependencyUnavailable, isOrderflowError } from '#platform/errors.ts';
import { admitEvents, MAX_EVENTS_PER_BATCH, type TimeBounds } from './domain/client-events.ts';

// Each event is checked on its own in the domain, so that one bad event rejects only
// itself: the route's schema checks the batch's shape, not the events'.
export const EventsBody = Type.Object({
  /** The verified caller, set by the gateway; absent for an anonymous visitor. */
  customerId: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  events: Type.Array(Type.Unknown(), { minItems: 1, maxItems: MAX_EVENTS_PER_BATCH }),
}, { additionalProperties: false });

export const EventsAnswer = Type.Object({
  accepted: Type.Integer({ minimum: 0 }),
  rejected: Type.Array(Type.Object({
    index: Type.Integer({ minimum: 0 }),
    error: Type.Object({ code: Type.String(), message: Type.String() }),
  })),
});

export interface IngestionRoutesDeps {
  bus: Bus;
  clock: { now(): Date };
  timeBounds?: TimeBounds;
}

export function registerRoutes(app: FastifyInstance, deps: IngestionRoutesDeps): void {
  app.post<{ Body: Static<typeof EventsBody> }>('/events', { schema: { body: EventsBody, response: { 202: EventsAnswer } } }, async (req, reply) => {
    const { accepted, rejected } = admitEvents(req.body.events, { customerId: req.body.customerId, now: deps.clock.now(), bounds: deps.timeBounds });
    if (accepted.length > 0) {
      try {
        await deps.bus.publish(accepted.map((a) => encode(a.topic, a.message)));
      } catch (err) {
        if (isOrderflowError(err) && err.statusCode < 500) throw err;
        throw DependencyUnavailable('the event log did not store the events; send them again', { cause: err });
      }
    }
    return reply.code(202).send({ accepted: accepted.length, rejected });
  });
}
