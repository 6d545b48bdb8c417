/**
 * The service's dead letters over HTTP, for the gateway's admin API: the rows of this
 * process's own `dead_letters` table (bus/dead-letter-store.ts), listed, replayed and
 * discarded as `orderflow dlq` does from the databases, but through the running service.
 * Every host installs them (host.ts): every service with an outbox can hold dead letters
 * (its consumers' and its relay's), and needs no code of its own for them.
 *
 *   GET  /_admin/dead-letters?topic=&state=pending|replayed|discarded|all&limit=1..500
 *   POST /_admin/dead-letters/replay   {"topic"?, "ids"?}   at least one of the two
 *   POST /_admin/dead-letters/discard  {"topic"?, "ids"}
 *
 * A listing is newest first, pending ones unless `state` says otherwise, at most 100 unless
 * `limit` says otherwise. A replay is replayStoredDeadLetters: the pending rows taken and
 * their records appended to the outbox in one transaction, which this service's running
 * relay publishes once it commits; a second replay (or a concurrent one) takes nothing. An id
 * that is not pending (or not known) is simply not in the answer. `ids` are the `id`s of the
 * listing; a message id selects its rows too, as in the CLI, and the answer names row ids.
 *
 * The payload is shown parsed, so an admin sees what failed without the CLI, but only for a
 * record value of at most MAX_PAYLOAD_BYTES: a page of 500 stays a few MiB at most, and the
 * large ones (the relay's dead letters are records the bus refused as too large, ≥ 1 MiB)
 * show `payload: null` with their size in `valueBytes`; `orderflow dlq list --json` prints
 * the whole record.
 *
 * Internal routes, as the others of a service: its port is not public, and the gateway's
 * public routes check the admin role. They are ordinary requests otherwise: measured in
 * orderflow_http_request_duration_seconds (the `unmeasured` set of metrics.ts is for probes,
 * scrapes and the lab's fault switch, not for internal routes: /order-views is measured too)
 * and slowed by an injected latency like any request of the service.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { deadLetterStates, queryDeadLetters, type StoredDeadLetter } from '../bus/dead-letter-store.ts';
import { discardDeadLetters, replayStoredDeadLetters } from '../bus/dead-letters.ts';
import type { Db } from '../db/db.ts';

/** The largest record value whose payload a listing shows; a larger one has `payload: null`. */
export const MAX_PAYLOAD_BYTES = 8 * 1024;

/** The most ids one replay or discard names, and the most rows one listing returns. */
export const MAX_DEAD_LETTER_IDS = 500;

// Kafka's rule for a topic name: anything else names no topic.
const Topic = Type.String({ pattern: '^[A-Za-z0-9._-]{1,249}$', description: 'The original topic (not its .dlq).' });

const DeadLetterId = Type.String({
  pattern: '^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$',
  description: "A dead letter's id (or its message's id).",
});

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

// One `enum`, not a union of literals: a wrong value gets one line of error, not one per literal.
const OneOf = <T extends string>(values: readonly T[], opts: { description?: string } = {}) => Type.Unsafe<T>({ type: 'string', enum: [...values], ...opts });

export const DeadLetterStateName = OneOf(deadLetterStates);

export const DeadLettersQuery = Type.Object(
  {
    topic: Type.Optional(Topic),
    state: Type.Optional(OneOf([...deadLetterStates, 'all'] as const, { description: 'pending by default.' })),
    // A string: query parameters are not coerced (the platform's validation changes no input).
    limit: Type.Optional(Type.String({ pattern: '^(500|[1-4][0-9]{2}|[1-9][0-9]?)$', description: '1 to 500; 100 by default.' })),
  },
  { additionalProperties: false },
);

export const DeadLetterView = Type.Object(
  {
    id: Type.String(),
    /** The service whose table holds it (the gateway asks several). */
    service: Type.String(),
    origin: OneOf(['consumer', 'relay'] as const, { description: 'consumer: its group gave up on it; relay: the bus refused the outbox row.' }),
    group: Nullable(Type.String({ description: 'The consumer group that gave up on it; null for the relay.' })),
    originalTopic: Type.String(),
    partition: Nullable(Type.Integer({ description: 'Where the consumer read it; null for the relay.' })),
    offset: Nullable(Type.String({ description: 'A decimal string (Kafka offsets are 64-bit); null for the relay.' })),
    messageId: Nullable(Type.String({ description: 'null when the record was not a message.' })),
    type: Nullable(Type.String()),
    key: Type.String(),
    error: Type.Object({ code: Type.String(), message: Type.String() }),
    attempts: Type.Integer({ description: 'Handler attempts; 0 when refused without a try (invalid, or too large).' }),
    failedAt: Type.String({ description: 'ISO 8601.' }),
    state: DeadLetterStateName,
    stateChangedAt: Type.String({ description: 'ISO 8601; failedAt while pending.' }),
    valueBytes: Type.Integer({ description: "The record value's size in bytes." }),
    payload: Type.Unknown({ description: `The message's payload, parsed; null when the value is over ${MAX_PAYLOAD_BYTES} bytes or not a message.` }),
  },
  { additionalProperties: false },
);

export const DeadLettersAnswer = Type.Object({ deadLetters: Type.Array(DeadLetterView) });

const Ids = Type.Array(DeadLetterId, { minItems: 1, maxItems: MAX_DEAD_LETTER_IDS });

// Both optional, not both absent: an empty body replaying every topic at once is a slip, not a request.
export const ReplayDeadLettersBody = Type.Object({ topic: Type.Optional(Topic), ids: Type.Optional(Ids) }, { additionalProperties: false, minProperties: 1 });
export const ReplayDeadLettersAnswer = Type.Object({ replayed: Type.Array(Type.String(), { description: 'The ids of the dead letters replayed: those that were pending.' }) });

export const DiscardDeadLettersBody = Type.Object({ topic: Type.Optional(Topic), ids: Ids }, { additionalProperties: false });
export const DiscardDeadLettersAnswer = Type.Object({ discarded: Type.Array(Type.String(), { description: 'The ids of the dead letters discarded: those that were pending.' }) });

export type DeadLetterViewBody = Static<typeof DeadLetterView>;

/** A stored dead letter as the routes show it. */
export function deadLetterView(service: string, dl: StoredDeadLetter): DeadLetterViewBody {
  const valueBytes = Buffer.byteLength(dl.record.value);
  return {
    id: dl.id,
    service,
    origin: dl.origin,
    group: dl.consumerGroup ?? null,
    originalTopic: dl.originalTopic,
    partition: dl.originalPartition ?? null,
    offset: dl.originalOffset ?? null,
    messageId: dl.messageId ?? null,
    type: dl.messageType ?? null,
    key: dl.record.key,
    error: dl.error,
    attempts: dl.attempts,
    failedAt: dl.failedAt,
    state: dl.state,
    stateChangedAt: dl.stateChangedAt,
    valueBytes,
    payload: valueBytes > MAX_PAYLOAD_BYTES ? null : payloadOf(dl.record.value),
  };
}

function payloadOf(value: string): unknown {
  try {
    const body: unknown = JSON.parse(value);
    return body !== null && typeof body === 'object' && 'payload' in body ? (body.payload ?? null) : null;
  } catch {
    return null;
  }
}

const filterOf = (body: { topic?: string; ids?: string[] }) => ({
  ...(body.topic === undefined ? {} : { topic: body.topic }),
  ...(body.ids === undefined ? {} : { ids: body.ids.map((id) => id.toLowerCase()) }),
});

/** Installs the three routes on `app`, over `db`'s dead_letters table; `service` names the rows. */
export function installDeadLetterRoutes(app: FastifyInstance, opts: { service: string; db: Db }): void {
  const { service, db } = opts;

  app.get<{ Querystring: Static<typeof DeadLettersQuery> }>(
    '/_admin/dead-letters',
    { schema: { querystring: DeadLettersQuery, response: { 200: DeadLettersAnswer } } },
    async (req) => {
      const { topic, state = 'pending', limit } = req.query;
      const rows = await queryDeadLetters(db, {
        ...(topic === undefined ? {} : { topic }),
        ...(state === 'all' ? {} : { state }),
        limit: limit === undefined ? 100 : Number(limit),
        order: 'newest',
      });
      return { deadLetters: rows.map((r) => deadLetterView(service, r)) };
    },
  );

  app.post<{ Body: Static<typeof ReplayDeadLettersBody> }>(
    '/_admin/dead-letters/replay',
    { schema: { body: ReplayDeadLettersBody, response: { 200: ReplayDeadLettersAnswer } } },
    async (req) => {
      const taken = await replayStoredDeadLetters(db, filterOf(req.body));
      // An operator's act on the system's data: worth a line in the log, unlike a listing.
      if (taken.length > 0) req.log.info({ topic: req.body.topic, count: taken.length }, 'dead letters replayed');
      return { replayed: taken.map((dl) => dl.id) };
    },
  );

  app.post<{ Body: Static<typeof DiscardDeadLettersBody> }>(
    '/_admin/dead-letters/discard',
    { schema: { body: DiscardDeadLettersBody, response: { 200: DiscardDeadLettersAnswer } } },
    async (req) => {
      const taken = await discardDeadLetters(db, filterOf(req.body));
      if (taken.length > 0) req.log.info({ topic: req.body.topic, count: taken.length, ids: taken.map((dl) => dl.id) }, 'dead letters discarded');
      return { discarded: taken.map((dl) => dl.id) };
    },
  );
}
