/**
 * The admin's live tail over real HTTP: the gateway app with its event tail on a real embedded
 * log, tokens signed as the users service signs them. Who may open it, the ring replayed
 * through each filter, live records, records that are not messages, dead letters,
 * Last-Event-ID, heartbeats, and a client that does not read being let go.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { allTopics, deadLetterTopic, Topics } from '#contracts/topics.ts';
import type { Bus, OutRecord } from '#platform/bus/bus.ts';
import { openEmbeddedLog } from '#platform/bus/embedded/embedded-log.ts';
import { encode, newEnvelope } from '#platform/bus/envelope.ts';
import { createTokenVerifier } from '#platform/http/access-tokens.ts';
import { silentLogger } from '#platform/log.ts';
import { createUpstream } from '#platform/resilience/upstream.ts';
import { openSse } from '#test/support/sse.ts';
import { buildGatewayApp } from './app.ts';
import { upstreamNames } from './config.ts';
import { startEventTail, type EventTailOptions } from './event-tail.ts';
import type { Upstreams } from './http.ts';

const signer = await generateKeyPair('ES256', { extractable: true });
const jwks = { keys: [{ ...(await exportJWK(signer.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }] };
const tokenOf = async (sub: string, role: 'customer' | 'admin') =>
  `Bearer ${await new SignJWT({ role }).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setSubject(sub).setIssuer('orderflow-users').setAudience('orderflow-api').setIssuedAt().setExpirationTime('15m').sign(signer.privateKey)}`;
const admin = await tokenOf('a-1', 'admin');
const customer = await tokenOf('c-1', 'customer');

const topics = allTopics.flatMap((t) => [t, deadLetterTopic(t)]);
const orderA = '0190f5b2-7c4e-7d2a-9f00-00000000000a';
const orderB = '0190f5b2-7c4e-7d2a-9f00-00000000000b';

async function until(what: string, check: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A gateway whose upstreams are never called, with its tail on a fresh embedded log. */
async function gateway(t: TestContext, tailOpts: Partial<EventTailOptions> = {}, waitOpen = true) {
  const dir = mkdtempSync(join(tmpdir(), 'orderflow-event-tail-'));
  const bus: Bus = openEmbeddedLog({ file: join(dir, 'bus.sqlite'), log: silentLogger });
  await bus.ensureTopics(topics.map((name) => ({ name, partitions: 2 })));
  // The tail's own bus, as the gateway opens one: the services' publishes reach it through the file.
  const eventTail = startEventTail({ openBus: async () => openEmbeddedLog({ file: join(dir, 'bus.sqlite'), log: silentLogger }), topics, records: 100, log: silentLogger, ...tailOpts });
  const upstreams = Object.fromEntries(upstreamNames.map((name) => [name, createUpstream({ name, url: 'http://127.0.0.1:9', timeoutMs: 500, connections: 1, retries: 0 })])) as Upstreams;
  const verifier = createTokenVerifier({ jwks: async () => jwks, issuer: 'orderflow-users', audience: 'orderflow-api' });
  const app = await buildGatewayApp({ log: silentLogger, upstreams, verifier, eventTail });
  await app.listen({ port: 0, host: '127.0.0.1' });
  t.after(async () => {
    await app.close();
    await bus.close();
    rmSync(dir, { recursive: true, force: true });
  });
  if (waitOpen) await until('the tail reads', () => eventTail.open());
  const address = app.server.address() as { port: number };
  return { url: `http://127.0.0.1:${address.port}`, bus, eventTail };
}

const message = (topic: string, type: string, key: string, payload: object): OutRecord => encode(topic, newEnvelope({ type, key, payload }));

test('only an admin opens the stream; bad filters are refused before it starts, in the envelope', async (t) => {
  const { url } = await gateway(t);
  const path = `${url}/api/admin/events/stream`;
  const answers = await Promise.all([
    fetch(path),
    fetch(path, { headers: { authorization: customer } }),
    fetch(`${path}?topic=nope`, { headers: { authorization: admin } }),
    fetch(`${path}?order=not-a-uuid`, { headers: { authorization: admin } }),
    fetch(`${path}?colour=red`, { headers: { authorization: admin } }),
  ]);
  assert.deepEqual(answers.map((a) => a.status), [401, 403, 400, 400, 400]);
  for (const a of answers) {
    const body = (await a.json()) as { error: { code: string; message: string } };
    assert.match(body.error.code, /^[A-Z][A-Z0-9_]+$/);
    assert.equal(typeof body.error.message, 'string');
  }
});

test('a stream is a 503 in the envelope while the tail cannot read the bus, or when it is off', async (t) => {
  let attempts = 0;
  const away = await gateway(t, { retryMs: 50, openBus: async () => { attempts++; throw new Error('no bus here'); } }, false);
  const off = await gateway(t, { records: 0 }, false);
  await until('a few attempts to open', () => attempts >= 2);
  for (const [{ url }, message] of [[away, /not reading the bus yet/], [off, /GATEWAY_EVENT_TAIL_RECORDS=0/]] as const) {
    const res = await fetch(`${url}/api/admin/events/stream`, { headers: { authorization: admin } });
    assert.equal(res.status, 503);
    const body = (await res.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'GW_ERR_EVENT_TAIL_UNAVAILABLE');
    assert.match(body.error.message, message);
  }
});

test('the ring first (newest last, filtered), then live records; not-a-message and dead-letter records; Last-Event-ID resumes; heartbeats', async (t) => {
  const { url, bus } = await gateway(t, { heartbeatMs: 100 });
  const headers = { authorization: admin };
  await bus.publish([
    message(Topics.ordersEvents, 'OrderPlaced', orderA, { orderId: orderA, customerId: 'c-1' }),
    message(Topics.inventoryCommands, 'ReserveStock', orderA, { orderId: orderA }),
    message(Topics.ordersEvents, 'OrderPlaced', orderB, { orderId: orderB, customerId: 'c-2' }),
    // Keyed by something else, about order A: found by its payload's orderId.
    message(Topics.paymentsEvents, 'PaymentCharged', 'payment-1', { orderId: orderA, amountCents: 500 }),
    { topic: Topics.ordersEvents, key: orderA, value: 'not json', headers: {} },
    { ...message(Topics.paymentsCommands, 'ChargePayment', orderB, { orderId: orderB }), topic: deadLetterTopic(Topics.paymentsCommands), headers: { type: 'ChargePayment', 'dlq-error-code': 'PAY_ERR_TEST', 'dlq-error-message': 'it failed' } },
  ]);
  // Published before the stream opens: the tail holds them.
  const ofA = await openSse(t, `${url}/api/admin/events/stream?order=${orderA}`, headers);
  assert.equal(ofA.status, 200);
  assert.match(ofA.headers.get('content-type') ?? '', /^text\/event-stream/);
  assert.equal(ofA.headers.get('cache-control'), 'no-cache, no-transform');
  assert.equal(ofA.headers.get('x-accel-buffering'), 'no');
  // The edge's own headers survive the hijacked reply (helmet's).
  assert.equal(ofA.headers.get('x-content-type-options'), 'nosniff');
  const replayed = (await ofA.waitFor(4)).map((e) => ({ ...e, record: JSON.parse(e.data) }));
  assert.ok(replayed.every((e) => e.event === 'record'));
  // In the order the tail read them: each partition's in order, partitions interleaved.
  const byTopicAndType = (e: { record: { topic: string; type: string | null } }) => `${e.record.topic} ${e.record.type}`;
  assert.deepEqual(replayed.map(byTopicAndType).sort(), [`${Topics.inventoryCommands} ReserveStock`, `${Topics.ordersEvents} OrderPlaced`, `${Topics.ordersEvents} null`, `${Topics.paymentsEvents} PaymentCharged`]);
  const ofOrders = replayed.filter((e) => e.record.topic === Topics.ordersEvents);
  assert.deepEqual(ofOrders.map((e) => e.record.type), ['OrderPlaced', null], 'one key, one partition: in order');
  const placed = ofOrders[0].record;
  assert.deepEqual(Object.keys(placed).sort(), ['headers', 'id', 'key', 'occurredAt', 'offset', 'partition', 'payload', 'topic', 'type', 'version']);
  assert.deepEqual([placed.key, placed.version, placed.payload, placed.headers.type], [orderA, 1, { orderId: orderA, customerId: 'c-1' }, 'OrderPlaced']);
  assert.match(placed.id, /^[0-9a-f-]{36}$/);
  assert.match(placed.offset, /^[0-9]+$/);
  assert.equal(ofOrders[1].record.payload, 'not json', 'a record that is no message: its raw value');
  assert.equal(ofOrders[1].record.id, null);
  const ids = replayed.map((e) => Number(e.id));
  assert.deepEqual([...ids].sort((a, b) => a - b), ids, 'cursors rise');

  // The other filters, on the same ring.
  const byType = await openSse(t, `${url}/api/admin/events/stream?type=OrderPlaced`, headers);
  assert.deepEqual((await byType.waitFor(2)).map((e) => JSON.parse(e.data).key), [orderA, orderB]);
  const dlq = await openSse(t, `${url}/api/admin/events/stream?topic=${deadLetterTopic(Topics.paymentsCommands)}`, headers);
  const [letter] = (await dlq.waitFor(1)).map((e) => JSON.parse(e.data));
  assert.deepEqual([letter.type, letter.key, letter.headers['dlq-error-code'], letter.headers['dlq-error-message']], ['ChargePayment', orderB, 'PAY_ERR_TEST', 'it failed']);
  const byKey = await openSse(t, `${url}/api/admin/events/stream?key=payment-1&topic=${Topics.paymentsEvents}`, headers);
  assert.equal(JSON.parse((await byKey.waitFor(1))[0].data).type, 'PaymentCharged');

  // Live: a new record of order A reaches its stream, none of order B's does.
  await bus.publish([message(Topics.ordersEvents, 'OrderConfirmed', orderA, { orderId: orderA }), message(Topics.ordersEvents, 'OrderConfirmed', orderB, { orderId: orderB })]);
  const live = JSON.parse((await ofA.waitFor(5))[4].data);
  assert.deepEqual([live.type, live.key], ['OrderConfirmed', orderA]);
  await until('a heartbeat', () => ofA.comments.includes('heartbeat'));
  assert.equal(ofA.events.length, 5);

  // Resumed after the second record: the rest, not what the client had (header or query).
  const resumed = await openSse(t, `${url}/api/admin/events/stream?order=${orderA}`, { ...headers, 'last-event-id': replayed[1].id! });
  assert.deepEqual((await resumed.waitFor(3)).map((e) => e.id), [replayed[2].id, replayed[3].id, ofA.events[4].id]);
  const byQuery = await openSse(t, `${url}/api/admin/events/stream?order=${orderA}&lastEventId=${ofA.events[4].id}`, headers);
  await until('the stream opened', () => byQuery.comments.includes('open'));
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(byQuery.events.length, 0, 'nothing after the newest cursor');
});

test('the ring keeps the newest records, a stream replays at most 200 of them', async (t) => {
  const { url, bus } = await gateway(t, { records: 300 });
  await bus.publish(Array.from({ length: 350 }, (_, i) => message(Topics.ordersEvents, 'OrderPlaced', orderA, { orderId: orderA, n: i })));
  await new Promise((r) => setTimeout(r, 200));
  const all = await openSse(t, `${url}/api/admin/events/stream`, { authorization: admin });
  const got = (await all.waitFor(200)).map((e) => JSON.parse(e.data).payload.n);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(all.events.length, 200);
  assert.deepEqual(got, Array.from({ length: 200 }, (_, i) => 150 + i), 'the newest 200, oldest first');
});

test('a client that does not read is disconnected; one that reads keeps its stream', async (t) => {
  const { url, bus, eventTail } = await gateway(t, { records: 10, maxBufferedBytes: 1024 * 1024 });
  const reader = await openSse(t, `${url}/api/admin/events/stream`, { authorization: admin });
  // A client that reads nothing: its socket fills, then the gateway's buffer for it passes the bound.
  const socket = connect(Number(new URL(url).port), '127.0.0.1');
  t.after(() => socket.destroy());
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  socket.write(`GET /api/admin/events/stream HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: ${admin}\r\naccept: text/event-stream\r\n\r\n`);
  await until('two streams open', () => eventTail.streams() === 2);
  socket.pause();
  const big = 'x'.repeat(200_000);
  let sent = 0;
  for (; sent < 500 && eventTail.streams() === 2; sent++) {
    await bus.publish([message(Topics.ordersEvents, 'Big', orderB, { orderId: orderB, big })]);
    await new Promise((r) => setTimeout(r, 10));
  }
  await until('the slow client is let go', () => eventTail.streams() === 1);
  await bus.publish([message(Topics.ordersEvents, 'Small', orderB, { orderId: orderB })]);
  await reader.waitFor(sent + 1);
  assert.equal(JSON.parse(reader.events[sent].data).type, 'Small', 'the client that reads got every record');
});
