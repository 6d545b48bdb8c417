import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import type { Db } from '#platform/db/db.ts';
import { fastifyOptions } from '#platform/http/app.ts';
import { installErrorHandling } from '#platform/http/errors.ts';
import { silentLogger } from '#platform/log.ts';
import { postgresTestDb, sqliteTestDb } from '#test/support/db.ts';
import { postgresSkip } from '#test/infra.ts';
import { latencySketch } from '#platform/streams/windows.ts';
import { rangeOf, registerRoutes } from './http.ts';
import { migrations, upsertWindows } from './store.ts';

const H = 3_600_000;
const T0 = Date.parse('2026-12-05T10:00:00.000Z');
const now = new Date(T0 + 2 * H + 5 * 60_000);

async function serve(t: TestContext, db: Db) {
  const app = Fastify(fastifyOptions({ log: silentLogger }));
  installErrorHandling(app);
  registerRoutes(app, { db, clock: { now: () => now } });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  t.after(() => app.close());
  return async (path: string) => {
    const res = await fetch(url + path);
    return { status: res.status, body: (await res.json()) as any };
  };
}

const sketch = latencySketch<number>((x) => x);
const salesValue = (placed: number, latencies: number[]) => ({ placed, confirmed: placed, revenueCents: placed * 100, cancelled: {}, latency: latencies.reduce((s, x) => sketch.add(s, x), sketch.init()) });

for (const [name, open] of [['SQLite', (t: TestContext) => sqliteTestDb(t, 'analytics', migrations)], ['PostgreSQL', (t: TestContext) => postgresTestDb(t, 'analytics', migrations)]] as const) {
  test(`the read model answers the windows of a range, oldest first, with the last value written (${name})`, { skip: name === 'PostgreSQL' ? postgresSkip() : undefined }, async (t) => {
    const db = (await open(t))!;
    await db.transaction((tx) => upsertWindows(tx, [
      { name: 'sales-1h', start: T0, end: T0 + H, value: salesValue(1, [100]), final: false },
      { name: 'sales-1h', start: T0 + H, end: T0 + 2 * H, value: salesValue(2, [100, 300]), final: false },
      { name: 'products-1h', start: T0, end: T0 + H, value: { p1: { units: 1, revenueCents: 100, views: 4 } }, final: true },
    ]));
    // A later value of a window replaces the earlier one (an upsert, as the pipeline emits).
    await db.transaction((tx) => upsertWindows(tx, [{ name: 'sales-1h', start: T0, end: T0 + H, value: salesValue(3, [100, 200, 300]), final: true }]));
    const get = await serve(t, db);

    const sales = await get(`/analytics/sales?window=1h&from=${new Date(T0).toISOString()}`);
    assert.equal(sales.status, 200);
    assert.deepEqual(sales.body.windows.map((w: any) => [w.start, w.placed, w.final, w.sagaLatencyMs.p50 !== null]), [
      ['2026-12-05T10:00:00.000Z', 3, true, true],
      ['2026-12-05T11:00:00.000Z', 2, false, true],
    ]);
    assert.equal((await get(`/analytics/sales?window=1h&from=${new Date(T0 + H).toISOString()}`)).body.windows.length, 1, 'from is inclusive of window starts, and the range ends now');
    assert.equal((await get('/analytics/sales?window=1m')).body.windows.length, 0, 'another window size is another table of windows');

    const top = await get(`/analytics/products/top?window=1h&from=${new Date(T0).toISOString()}&limit=5`);
    assert.equal(top.status, 200, JSON.stringify(top.body));
    assert.deepEqual(top.body.products, [{ productId: 'p1', units: 1, revenueCents: 100, views: 4 }]);
  });
}

test('a range is checked: a bad window 400, an inverted or too long range 400 ANL_ERR_BAD_RANGE, by default the last 60 windows', async (t) => {
  const db = await sqliteTestDb(t, 'analytics', migrations);
  const get = await serve(t, db);
  assert.equal((await get('/analytics/sales?window=5m')).status, 400);
  for (const q of ['window=1m&from=yesterday-at-noon', 'window=1m&from=2026-12-05T12:00:00Z&to=2026-12-05T11:00:00Z', 'window=1m&from=2026-01-01T00:00:00Z']) {
    const r = await get(`/analytics/sales?${q}`);
    assert.equal(r.status, 400, q);
    assert.equal(r.body.error.code, 'ANL_ERR_BAD_RANGE', q);
  }
  const r = rangeOf({ window: '1m' }, now);
  assert.equal((r.to - r.from) / 60_000 > 59 && (r.to - r.from) / 60_000 <= 60, true);
  assert.equal(r.from % 60_000, 0, 'aligned to a window start');
});
