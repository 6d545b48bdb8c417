/**
 * Readiness against a broker that goes away and comes back: a service host on Kafka (its
 * own broker, started here on free ports, so the shared one is never touched) behind a
 * gateway. Liveness stays 200 throughout; readiness turns 503 and names the bus (and the
 * relay, once its publishes have failed for a while with rows waiting), and 200 again once
 * the broker is back; the gateway's /health names the service that is not ready.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Fastify from 'fastify';
import { newEnvelope } from '#platform/bus/envelope.ts';
import { appendToOutbox } from '#platform/bus/outbox.ts';
import { loadPlatformConfig } from '#platform/config.ts';
import { silentLogger } from '#platform/log.ts';
import { createUpstream } from '#platform/resilience/upstream.ts';
import { startServiceHost } from '#platform/service/host.ts';
import { createTokenVerifier } from '#platform/http/access-tokens.ts';
import { buildGatewayApp } from '#services/gateway/app.ts';
import { upstreamNames } from '#services/gateway/config.ts';
import type { Upstreams } from '#services/gateway/http.ts';
import { kafkaSkip, uniqueName } from '../infra.ts';
import { startOwnKafka } from '../support/own-kafka.ts';

let lastSeen: unknown;
const get = async (url: string) => {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  const seen = { status: res.status, body: (await res.json()) as any };
  lastSeen = seen;
  return seen;
};

async function until<T>(what: string, check: () => Promise<T | undefined>, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = await check();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}; last answer ${JSON.stringify(lastSeen)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

test('readiness turns 503 naming the bus while the broker is stopped, and 200 once it is back; liveness stays 200', { skip: kafkaSkip(), timeout: 240_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'orderflow-readiness-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const broker = await startOwnKafka(t);

  const platform = loadPlatformConfig({
    ORDERFLOW_BUS: 'kafka',
    KAFKA_BROKERS: broker.brokers,
    ORDERFLOW_DATA_DIR: join(dir, 'data'),
    ORDERFLOW_PARTITIONS: '1',
    ORDERFLOW_NAMESPACE: uniqueName('ready').toLowerCase(),
  });
  const host = await startServiceHost({ name: 'payments', platform, migrations: [], topics: ['ready.events'], validate: () => undefined, log: silentLogger });
  t.after(() => host.close());
  await host.consume({ groupId: 'payments', topics: ['ready.events'], handlers: { Pinged: async () => {} } });
  const url = `http://127.0.0.1:${await host.listen(0)}`;

  // The gateway in front: payments is the host above; the others are stand-ins that are ready.
  const standIn = Fastify();
  standIn.get('/health/ready', async () => ({ status: 'ok' }));
  const standInUrl = await standIn.listen({ port: 0, host: '127.0.0.1' });
  t.after(() => standIn.close());
  const upstreams = Object.fromEntries(upstreamNames.map((name) => [name, createUpstream({ name, url: name === 'payments' ? url : standInUrl, timeoutMs: 3_000 })])) as Upstreams;
  t.after(() => Promise.all(Object.values(upstreams).map((u) => u.close())));
  // Only /health is asked here: no token is ever verified.
  const verifier = createTokenVerifier({ jwks: `${standInUrl}/.well-known/jwks.json`, issuer: 'i', audience: 'a' });
  const gateway = await buildGatewayApp({ log: silentLogger, upstreams, verifier, healthTimeoutMs: 5_000 });
  const gatewayUrl = await gateway.listen({ port: 0, host: '127.0.0.1' });
  t.after(() => gateway.close());

  const live = async () => assert.equal((await get(`${url}/health/live`)).status, 200, 'liveness never depends on the broker');
  const ready = await until('the host is ready', async () => {
    const r = await get(`${url}/health/ready`);
    return r.status === 200 ? r : undefined;
  }, 60_000);
  assert.deepEqual(ready.body.checks, { database: 'ok', bus: 'ok', relay: 'ok' });
  const joined = await until('the consumer has joined its group', async () => {
    const r = await get(`${url}/health/consumers`);
    return r.status === 200 ? r : undefined;
  }, 60_000);
  assert.deepEqual(joined.body.checks, { consumers: 'ok' });
  assert.deepEqual((await get(`${gatewayUrl}/health`)).body, { status: 'ok', services: Object.fromEntries(upstreamNames.map((n) => [n, 'up'])) });

  await broker.stop();
  const down = await until('readiness says the bus is down', async () => {
    await live();
    const r = await get(`${url}/health/ready`);
    return r.status === 503 && r.body.checks.bus.startsWith('down: ') ? r : undefined;
  }, 60_000);
  assert.equal(down.body.status, 'unavailable');
  assert.equal(down.body.checks.database, 'ok');
  const aggregate = await get(`${gatewayUrl}/health`);
  assert.equal(aggregate.status, 503);
  assert.deepEqual(aggregate.body.services, Object.fromEntries(upstreamNames.map((n) => [n, n === 'payments' ? 'down' : 'up'])));

  // A row waiting while every publish fails: after a few seconds the relay is named too.
  await host.db.transaction((tx) => appendToOutbox(tx, [{ topic: 'ready.events', message: newEnvelope({ type: 'Pinged', key: 'k', payload: {} }) }]));
  const relayDown = await until('readiness names the relay', async () => {
    await live();
    const r = await get(`${url}/health/ready`);
    return r.body.checks.relay.startsWith('down: publishing has failed') ? r : undefined;
  }, 90_000);
  assert.equal(relayDown.status, 503);
  assert.match(relayDown.body.checks.relay, /with 1 rows waiting/);

  await broker.start();
  const back = await until('the host is ready again', async () => {
    await live();
    const r = await get(`${url}/health/ready`);
    return r.status === 200 ? r : undefined;
  }, 120_000);
  assert.deepEqual(back.body.checks, { database: 'ok', bus: 'ok', relay: 'ok' });
  assert.equal((await get(`${gatewayUrl}/health`)).status, 200);
  await host.relay.flush();
  assert.equal((await host.db.query<{ n: number }>('SELECT COUNT(*) AS n FROM outbox'))[0].n, 0, 'the waiting row was published once the broker was back');
});
