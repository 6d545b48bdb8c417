import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { v7 as uuidv7 } from 'uuid';
import { silentLogger } from '#platform/log.ts';
import type { ServiceHost } from '#platform/service/host.ts';
import { message, OrderCancelled, OrderConfirmed, OrderPlaced } from '#contracts/index.ts';
import { runHandler } from '#test/support/handlers.ts';
import { startTestHost } from '#test/support/host.ts';
import { openSse } from '#test/support/sse.ts';
import { startFeed, type Feed } from './feed.ts';
import { createHandlers } from './handlers.ts';
import { registerRoutes } from './http.ts';
import { migrations } from './store.ts';

async function startNotifications(t: TestContext, opts: { heartbeatMs?: number; maxStreams?: number } = {}) {
  let feed: Feed | undefined;
  const { host, url } = await startTestHost(t, {
    name: 'notifications',
    migrations,
    partitions: 1,
    setup: (h) => {
      // Polled often: the tests' own commits wake it too, as the consumer's do.
      feed = startFeed({ db: h.db, pollMs: 50, log: silentLogger });
      h.onClose(() => feed!.stop());
      registerRoutes(h.app, { db: h.db, feed, heartbeatMs: opts.heartbeatMs ?? 15_000, maxStreams: opts.maxStreams ?? 10 });
    },
  });
  const handlers = createHandlers({ dialect: host.db.dialect, ids: host.ids, clock: host.clock, email: false });
  const customerId = uuidv7();
  /** An order of the customer, placed and then told with `outcome`. */
  const order = async (outcome: 'confirmed' | 'cancelled', customer = customerId) => {
    const orderId = uuidv7();
    await runHandler(host.db, handlers, message(OrderPlaced, { payload: { orderId, customerId: customer, items: [{ productId: uuidv7(), quantity: 1, unitPriceCents: 100 }], totalCents: 100, paymentMethod: 'card', shippingAddress: { country: 'FR' } } }));
    await runHandler(host.db, handlers, outcome === 'confirmed' ? message(OrderConfirmed, { payload: { orderId } }) : message(OrderCancelled, { payload: { orderId, reason: 'PAYMENT_DECLINED' } }));
    feed!.wake();
    return orderId;
  };
  return { host: host as ServiceHost, url, customerId, order, base: `${url}/customers/${customerId}` };
}

const get = async (url: string) => {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as any };
};

test('the list is the customer\'s own, newest first, a page at a time by cursor; a bad cursor is a coded 400', async (t) => {
  const { base, order, url } = await startNotifications(t);
  const ids = [];
  for (let i = 0; i < 5; i++) ids.push(await order(i % 2 === 0 ? 'confirmed' : 'cancelled'));
  await order('confirmed', uuidv7());
  const first = await get(`${base}/notifications?limit=2`);
  assert.equal(first.status, 200);
  assert.deepEqual(first.body.notifications.map((n: any) => n.data.orderId), [ids[4], ids[3]]);
  assert.deepEqual(Object.keys(first.body.notifications[0]).sort(), ['cursor', 'data', 'id', 'kind', 'occurredAt', 'subject', 'text']);
  const second = await get(`${base}/notifications?limit=2&cursor=${first.body.nextCursor}`);
  assert.deepEqual(second.body.notifications.map((n: any) => n.data.orderId), [ids[2], ids[1]]);
  const last = await get(`${base}/notifications?limit=2&cursor=${second.body.nextCursor}`);
  assert.deepEqual([last.body.notifications.length, last.body.nextCursor], [1, null]);
  assert.equal(last.body.notifications[0].kind, 'orderConfirmed');

  assert.deepEqual((await get(`${url}/customers/${uuidv7()}/notifications`)).body, { notifications: [], nextCursor: null });
  for (const bad of ['cursor=abc', 'cursor=1e3', 'limit=-1', 'other=1']) {
    const res = await get(`${base}/notifications?${bad}`);
    assert.deepEqual([res.status, res.body.error.code], [400, 'PLT_ERR_VALIDATION'], bad);
  }
  const huge = await get(`${base}/notifications?cursor=999999999999999`);
  assert.equal(huge.status, 200);
});

test('preferences answer every kind and channel, on by default; a PUT sets exactly what it says; bad ones are coded 400s', async (t) => {
  const { base } = await startNotifications(t);
  const initial = await get(`${base}/notification-preferences`);
  assert.equal(initial.status, 200);
  assert.deepEqual(initial.body.orderConfirmed, { email: true, inApp: true });
  assert.equal(Object.keys(initial.body).length, 5);
  const put = async (body: unknown) => {
    const res = await fetch(`${base}/notification-preferences`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as any };
  };
  const set = await put({ orderConfirmed: { email: false }, cartAbandoned: { email: false, inApp: false } });
  assert.equal(set.status, 200);
  assert.deepEqual([set.body.orderConfirmed, set.body.cartAbandoned, set.body.orderCancelled], [{ email: false, inApp: true }, { email: false, inApp: false }, { email: true, inApp: true }]);
  assert.deepEqual((await get(`${base}/notification-preferences`)).body, set.body);
  // A PUT replaces: what it leaves out is back on.
  assert.deepEqual((await put({})).body, initial.body);
  for (const bad of [{ orderShipped: { email: false } }, { orderConfirmed: { sms: false } }, { orderConfirmed: { email: 'no' } }, []]) {
    const res = await put(bad);
    assert.deepEqual([res.status, res.body.error.code], [400, 'PLT_ERR_VALIDATION'], JSON.stringify(bad));
  }
});

test('the stream sends each new notification live, heartbeats while quiet, and resumes after Last-Event-ID', async (t) => {
  const { base, order } = await startNotifications(t, { heartbeatMs: 100 });
  const before = await order('confirmed');
  const stream = await openSse(t, `${base}/notifications/stream`);
  assert.equal(stream.status, 200);
  assert.match(stream.headers.get('content-type') ?? '', /^text\/event-stream/);
  const a = await order('cancelled');
  const b = await order('confirmed');
  const events = await stream.waitFor(2);
  assert.deepEqual(events.map((e) => [e.event, JSON.parse(e.data).data.orderId]), [['notification', a], ['notification', b]], 'only what came after it opened');
  assert.equal(events[0].id, JSON.parse(events[0].data).cursor);
  assert.match(JSON.parse(events[0].data).text, /payment was declined/);
  const deadline = Date.now() + 5_000;
  while (!stream.comments.some((c) => c.startsWith('heartbeat')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.ok(stream.comments.some((c) => c.startsWith('heartbeat')), 'a heartbeat while quiet');
  stream.close();

  // Reconnecting after the first: the rest, then live again.
  const missed = await order('confirmed');
  const resumed = await openSse(t, `${base}/notifications/stream`, { 'last-event-id': events[0].id as string });
  const c = await order('cancelled');
  assert.deepEqual((await resumed.waitFor(3)).map((e) => JSON.parse(e.data).data.orderId), [b, missed, c]);
  // From the start (cursor 0): everything, the one before the first stream included.
  const all = await openSse(t, `${base}/notifications/stream?lastEventId=0`);
  assert.deepEqual((await all.waitFor(5)).map((e) => JSON.parse(e.data).data.orderId), [before, a, b, missed, c]);
});

test('another customer\'s notifications never reach a stream; past the limit of streams a coded 503; a bad Last-Event-ID a coded 400', async (t) => {
  const { base, order, url } = await startNotifications(t, { maxStreams: 2 });
  const other = uuidv7();
  const mine = await openSse(t, `${base}/notifications/stream`);
  const theirs = await openSse(t, `${url}/customers/${other}/notifications/stream`);
  await order('confirmed', other);
  const own = await order('confirmed');
  assert.deepEqual((await mine.waitFor(1)).map((e) => JSON.parse(e.data).data.orderId), [own]);
  await theirs.waitFor(1);
  assert.equal(mine.events.length, 1);
  const full = await fetch(`${base}/notifications/stream`);
  assert.equal(full.status, 503);
  assert.equal(((await full.json()) as any).error.code, 'NTF_ERR_TOO_MANY_STREAMS');
  mine.close();
  theirs.close();
  const bad = await fetch(`${base}/notifications/stream`, { headers: { 'last-event-id': 'x1' } });
  assert.deepEqual([bad.status, ((await bad.json()) as any).error.code], [400, 'NTF_ERR_INVALID_CURSOR']);
});
