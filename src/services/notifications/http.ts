/**
 * Notifications' HTTP routes (the gateway's /api/me/notifications* call them with the
 * token's subject as the customer):
 *
 *   GET /customers/:customerId/notifications?cursor=&limit=   newest first, a page at a time
 *   GET /customers/:customerId/notifications/stream            server-sent events, live
 *   GET|PUT /customers/:customerId/notification-preferences    per kind and channel
 *   GET /_admin/emails?status=pending|sent|dead&limit=         the delivery queue (internal)
 *
 * The stream: one `notification` event per new notification, its `id` the notification's
 * cursor; a client that reconnects with Last-Event-ID (or ?lastEventId=) first gets what it
 * missed, oldest first. A comment line every heartbeatMs keeps proxies and idle timeouts
 * from closing a quiet stream. Closing the app ends every stream (a client reconnects to
 * another replica).
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { ServerResponse } from 'node:http';
import type { Db } from '#platform/db/db.ts';
import { channels, fullPreferences, kinds, type Preferences } from './domain/kinds.ts';
import { InvalidCursor, TooManyStreams } from './errors.ts';
import type { Feed } from './feed.ts';
import { listEmails } from './email-queue.ts';
import { getPreferences, listNotifications, notificationsAfter, replacePreferences, toNotification, type FeedRow } from './store.ts';

const Params = Type.Object({ customerId: Type.String({ minLength: 1, maxLength: 100 }) });
const Cursor = Type.String({ pattern: '^[0-9]{1,15}$' });
const ListQuery = Type.Object({ cursor: Type.Optional(Cursor), limit: Type.Optional(Type.String({ pattern: '^(100|[1-9][0-9]?)$' })) }, { additionalProperties: false });
const StreamQuery = Type.Object({ lastEventId: Type.Optional(Cursor) }, { additionalProperties: false });
const ChannelSwitches = Type.Object(Object.fromEntries(channels.map((c) => [c, Type.Optional(Type.Boolean())])), { additionalProperties: false });
export const PreferencesBody = Type.Object(Object.fromEntries(kinds.map((k) => [k, Type.Optional(ChannelSwitches)])), { additionalProperties: false });
const EmailsQuery = Type.Object({
  status: Type.Optional(Type.Union([Type.Literal('pending'), Type.Literal('sent'), Type.Literal('dead')])),
  limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,3}$' })),
}, { additionalProperties: false });

export const DEFAULT_PAGE = 20;
export const MAX_PAGE = 100;
/** A stream's client that does not read: past this much waiting in its socket, the stream is closed. */
const MAX_BUFFERED_BYTES = 1 << 20;
/** What a reconnecting stream is sent at most of what it missed; older ones are in the list. */
const MAX_CATCH_UP = 1_000;

export interface NotificationRoutesDeps {
  db: Db;
  feed: Feed;
  clock?: { now(): Date };
  heartbeatMs: number;
  maxStreams: number;
}

const limitOf = (raw: string | undefined, fallback: number, max: number): number => Math.min(max, Math.max(1, raw === undefined ? fallback : Number(raw)));

function cursorOf(raw: string | undefined): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!/^[0-9]{1,15}$/.test(raw) || !Number.isSafeInteger(n)) throw InvalidCursor(`a cursor is a notification's cursor (digits); got ${JSON.stringify(raw.slice(0, 40))}`);
  return n;
}

export function registerRoutes(app: FastifyInstance, deps: NotificationRoutesDeps): void {
  const clock = deps.clock ?? { now: () => new Date() };
  const open = new Set<() => void>();
  // An open stream never ends by itself: without this, closing the server would wait for them.
  app.addHook('preClose', async () => {
    for (const end of [...open]) end();
  });

  app.get<{ Params: Static<typeof Params>; Querystring: Static<typeof ListQuery> }>(
    '/customers/:customerId/notifications',
    { schema: { params: Params, querystring: ListQuery } },
    async (req) => {
      const limit = limitOf(req.query.limit, DEFAULT_PAGE, MAX_PAGE);
      const rows = await listNotifications(deps.db, req.params.customerId, { before: cursorOf(req.query.cursor), limit });
      return { notifications: rows.map(toNotification), nextCursor: rows.length === limit ? rows[rows.length - 1].cursor : null };
    },
  );

  app.get<{ Params: Static<typeof Params>; Querystring: Static<typeof StreamQuery> }>(
    '/customers/:customerId/notifications/stream',
    { schema: { params: Params, querystring: StreamQuery } },
    async (req, reply) => {
      const header = req.headers['last-event-id'];
      const lastEventId = cursorOf(typeof header === 'string' && header !== '' ? header : req.query.lastEventId);
      if (deps.feed.size() >= deps.maxStreams) throw TooManyStreams(`this instance serves ${deps.maxStreams} streams already; retry`, { retryAfterS: 5 });
      const { customerId } = req.params;

      // Until the catch-up is written, live rows wait; then those past it follow in order.
      let lastSent = lastEventId ?? 0;
      let waiting: FeedRow[] | undefined = [];
      const res: ServerResponse = reply.raw;
      const send = (row: FeedRow) => {
        if (row.seq <= lastSent) return;
        lastSent = row.seq;
        res.write(`id: ${row.cursor}\nevent: notification\ndata: ${JSON.stringify(toNotification(row))}\n\n`);
        if (res.writableLength > MAX_BUFFERED_BYTES) end();
      };
      const { from, unsubscribe } = await deps.feed.subscribe(customerId, (row) => (waiting ? waiting.push(row) : send(row)));
      let heartbeat: NodeJS.Timeout | undefined;
      let ended = false;
      function end(): void {
        if (ended) return;
        ended = true;
        unsubscribe();
        clearInterval(heartbeat);
        open.delete(end);
        res.end();
      }
      open.add(end);
      // The response's close, not the request's: that one fires once a GET's (empty) body is read.
      res.on('close', end);
      res.on('error', end);
      if (res.destroyed) return end();

      reply.hijack();
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        // Its socket goes with it: a stream's connection is never reused for another request.
        connection: 'close',
        // A buffering proxy (nginx) would hold events back.
        'x-accel-buffering': 'no',
      });
      // A client reconnects 3 s after a drop, with the last id it saw.
      res.write('retry: 3000\n\n');
      try {
        if (lastEventId === undefined) lastSent = from;
        else for (const row of await notificationsAfter(deps.db, lastEventId, MAX_CATCH_UP, customerId)) send(row);
      } catch (err) {
        req.log.warn({ err, customerId }, 'a notification stream could not catch up; closed (the client reconnects)');
        end();
        return;
      }
      // The client may have gone during the catch-up: then nothing is left to start.
      if (ended) return;
      const live = waiting;
      waiting = undefined;
      for (const row of live) send(row);
      heartbeat = setInterval(() => res.write(`: heartbeat ${clock.now().toISOString()}\n\n`), deps.heartbeatMs);
      heartbeat.unref();
    },
  );

  app.get<{ Params: Static<typeof Params> }>('/customers/:customerId/notification-preferences', { schema: { params: Params } }, async (req) =>
    fullPreferences(await getPreferences(deps.db, req.params.customerId)));

  app.put<{ Params: Static<typeof Params>; Body: Preferences }>(
    '/customers/:customerId/notification-preferences',
    { schema: { params: Params, body: PreferencesBody } },
    async (req) => {
      await deps.db.transaction((tx) => replacePreferences(tx, req.params.customerId, req.body, clock.now().toISOString()));
      return fullPreferences(await getPreferences(deps.db, req.params.customerId));
    },
  );

  app.get<{ Querystring: Static<typeof EmailsQuery> }>('/_admin/emails', { schema: { querystring: EmailsQuery } }, async (req) =>
    ({ emails: await listEmails(deps.db, { status: req.query.status, limit: limitOf(req.query.limit, 100, 500) }) }));
}
