import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { Counter, Registry } from 'prom-client';
import { silentLogger } from '../log.ts';
import { buildHttpApp, type HttpAppOptions } from './app.ts';

async function serve(t: TestContext, opts: Partial<HttpAppOptions> = {}, routes?: (app: ReturnType<typeof buildHttpApp>) => void) {
  const app = buildHttpApp({ name: 'widgets', log: silentLogger, ...opts });
  routes?.(app);
  app.get('/widgets/:id', async (req, reply) => {
    const { id } = req.params as { id: string };
    if (id === 'missing') return reply.code(404).send({ error: { code: 'WIDGET_NOT_FOUND', message: 'no such widget' } });
    return { id };
  });
  app.post('/widgets', async (_req, reply) => reply.code(201).send({ ok: true }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  t.after(() => app.close());
  const { port } = app.server.address() as { port: number };
  return { app, url: `http://127.0.0.1:${port}` };
}

const scrape = async (url: string) => (await fetch(`${url}/metrics`)).text();

/** The value of one sample line, e.g. sample(text, 'x_count', 'method="GET",...'), the service label aside. */
function sample(text: string, name: string, labels: string): number | undefined {
  const line = text.split('\n').map((l) => l.replace('service="widgets",', '').replace(',service="widgets"', '')).find((l) => l.startsWith(`${name}{${labels}} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

test('every answered request is timed in a histogram by method, route pattern and status', async (t) => {
  const { url } = await serve(t);
  for (const id of ['1', '2', '3']) assert.equal((await fetch(`${url}/widgets/${id}`)).status, 200);
  assert.equal((await fetch(`${url}/widgets/missing`)).status, 404);
  assert.equal((await fetch(`${url}/widgets`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status, 201);
  assert.equal((await fetch(`${url}/widgets`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' })).status, 400);

  const text = await scrape(url);
  const name = 'orderflow_http_request_duration_seconds';
  assert.equal(sample(text, `${name}_count`, 'method="GET",route="/widgets/:id",status_code="200"'), 3);
  assert.equal(sample(text, `${name}_count`, 'method="GET",route="/widgets/:id",status_code="404"'), 1);
  assert.equal(sample(text, `${name}_count`, 'method="POST",route="/widgets",status_code="201"'), 1);
  assert.equal(sample(text, `${name}_count`, 'method="POST",route="/widgets",status_code="400"'), 1);
  assert.equal(sample(text, `${name}_bucket`, 'le="10",method="GET",route="/widgets/:id",status_code="200"'), 3);
  assert.equal(sample(text, `${name}_bucket`, 'le="0.0005",method="GET",route="/widgets/:id",status_code="200"') !== undefined, true, 'buckets start at 0.5 ms');
  const sum = sample(text, `${name}_sum`, 'method="GET",route="/widgets/:id",status_code="200"')!;
  assert.ok(sum > 0 && sum < 3, `sum of three quick requests: ${sum} s`);
});

test('health probes and metric scrapes are not counted as requests', async (t) => {
  const { url } = await serve(t);
  for (const path of ['/health', '/health/live', '/health/ready']) assert.equal((await fetch(url + path)).status, 200);
  await scrape(url);
  const text = await scrape(url);
  assert.doesNotMatch(text, /route="\/health/);
  assert.doesNotMatch(text, /route="\/metrics"/);
});

test('a request to no route is counted once as unmatched', async (t) => {
  const { url } = await serve(t);
  assert.equal((await fetch(`${url}/nowhere/at/all`)).status, 404);
  assert.equal(sample(await scrape(url), 'orderflow_http_request_duration_seconds_count', 'method="GET",route="unmatched",status_code="404"'), 1);
});

test('the app exposes the registry it serves, for a service to add its own metrics', async (t) => {
  const { app, url } = await serve(t);
  new Counter({ name: 'widgets_made_total', help: 'widgets made', registers: [app.metrics] }).inc(2);
  const text = await scrape(url);
  assert.match(text, /^widgets_made_total\{service="widgets"\} 2$/m);
  assert.match(text, /^process_cpu_user_seconds_total\{service="widgets"\} /m);
});

test('every series of the registry carries the service label', async (t) => {
  const { url } = await serve(t);
  await fetch(`${url}/widgets/1`);
  const series = (await scrape(url)).split('\n').filter((l) => l !== '' && !l.startsWith('#'));
  assert.ok(series.length > 20);
  for (const line of series) assert.match(line, /service="widgets"/);
});

test('liveness answers without checks; readiness runs them and names the one that fails', async (t) => {
  let dbUp = true;
  const { url } = await serve(t, {
    checks: {
      database: async () => {
        if (!dbUp) throw new Error('connection refused');
      },
      bus: async () => {},
    },
  });
  const get = async (path: string) => {
    const res = await fetch(url + path);
    return { status: res.status, body: await res.json() };
  };
  assert.deepEqual(await get('/health/ready'), { status: 200, body: { status: 'ok', service: 'widgets', checks: { database: 'ok', bus: 'ok' } } });
  dbUp = false;
  for (const path of ['/health/ready', '/health']) {
    assert.deepEqual(await get(path), { status: 503, body: { status: 'unavailable', service: 'widgets', checks: { database: 'down: connection refused', bus: 'ok' } } });
  }
  assert.deepEqual(await get('/health/live'), { status: 200, body: { status: 'ok', service: 'widgets' } });
});

test('consumers not yet joined leave readiness 200 and turn /health/consumers 503', async (t) => {
  let joined = false;
  const { url } = await serve(t, {
    checks: { database: async () => {} },
    consumerChecks: {
      consumers: async () => {
        if (!joined) throw new Error('not a member of group orders (yet)');
      },
    },
  });
  const get = async (path: string) => {
    const res = await fetch(url + path);
    return { status: res.status, body: await res.json() };
  };
  assert.deepEqual(await get('/health/ready'), { status: 200, body: { status: 'ok', service: 'widgets', checks: { database: 'ok' } } }, 'routes serve while consumers join');
  assert.deepEqual(await get('/health/consumers'), { status: 503, body: { status: 'unavailable', service: 'widgets', checks: { consumers: 'down: not a member of group orders (yet)' } } });
  joined = true;
  assert.deepEqual(await get('/health/consumers'), { status: 200, body: { status: 'ok', service: 'widgets', checks: { consumers: 'ok' } } });
});

test('a readiness check that hangs is reported down after its timeout', async (t) => {
  const { url } = await serve(t, { checks: { bus: () => new Promise(() => {}) } });
  const started = Date.now();
  const res = await fetch(`${url}/health/ready`);
  assert.equal(res.status, 503);
  assert.match(((await res.json()) as { checks: Record<string, string> }).checks.bus, /^down: bus did not answer within 2000 ms/);
  assert.ok(Date.now() - started < 5_000);
});

test('a registry passed in is the one served, with the request histogram in it', async (t) => {
  const metrics = new Registry();
  const { app, url } = await serve(t, { metrics });
  assert.equal(app.metrics, metrics);
  await fetch(`${url}/widgets/1`);
  const text = await scrape(url);
  assert.match(text, /orderflow_http_request_duration_seconds_count\{method="GET",route="\/widgets\/:id",status_code="200"\} 1/);
  assert.doesNotMatch(text, /process_cpu_user_seconds_total/, 'default metrics are the caller\'s choice with its own registry');
});

test('every refusal of the framework is in the envelope: router errors, 405 with Allow, bodies refused before a handler sees them', async (t) => {
  let reached = 0;
  const { url } = await serve(t, {}, (app) =>
    app.post('/echo', async (req) => {
      reached++;
      return req.body;
    }));
  const answer = async (method: string, path: string, body?: string) => {
    const res = await fetch(url + path, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body });
    return { status: res.status, allow: res.headers.get('allow'), body: (await res.json()) as { error: { code: string; message: string } } };
  };
  const cases: Array<[string, string, string | undefined, number, string]> = [
    ['GET', `/widgets/${'x'.repeat(101)}`, undefined, 414, 'PLT_ERR_URI_TOO_LONG'],
    ['GET', '/widgets/%E0%A4%A', undefined, 400, 'PLT_ERR_MALFORMED_URL'],
    ['POST', '/echo', '{"__proto__":{"admin":true}}', 400, 'PLT_ERR_FORBIDDEN_KEY'],
    ['POST', '/echo', '{"city":"Paris\\u0000"}', 400, 'PLT_ERR_NUL_CHARACTER'],
    ['POST', '/echo', '{"a":'.repeat(4_500) + '1' + '}'.repeat(4_500), 400, 'PLT_ERR_BODY_TOO_DEEP'],
    ['POST', '/echo', '{"a":', 400, 'PLT_ERR_MALFORMED_JSON'],
    ['GET', '/nowhere', undefined, 404, 'PLT_ERR_ROUTE_NOT_FOUND'],
  ];
  for (const [method, path, body, status, code] of cases) {
    const a = await answer(method, path, body);
    assert.deepEqual([a.status, a.body.error.code], [status, code], `${method} ${path.slice(0, 40)}`);
    assert.equal(typeof a.body.error.message, 'string');
  }
  assert.equal(reached, 0, 'no refused body reached the handler');

  const wrongMethod = await answer('DELETE', '/widgets/7');
  assert.deepEqual([wrongMethod.status, wrongMethod.body.error.code, wrongMethod.allow], [405, 'PLT_ERR_METHOD_NOT_ALLOWED', 'GET, HEAD']);
  const put = await answer('PUT', '/widgets?x=1');
  assert.deepEqual([put.status, put.allow], [405, 'POST']);
  assert.deepEqual(await answer('POST', '/echo', '{"ok":[1,"\\\\u0000"]}'), { status: 200, allow: null, body: { ok: [1, '\\u0000'] } } as unknown);
});

test('a 500 says nothing of the failure but the request id, and the log line has the same id', async (t) => {
  const lines: Array<Record<string, unknown>> = [];
  const { default: pino } = await import('pino');
  const log = pino({ level: 'error' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  const { url } = await serve(t, { log }, (app) =>
    app.get('/boom', async () => {
      throw new Error('ENOENT: /srv/secret/config.json');
    }));
  const res = await fetch(`${url}/boom`);
  assert.equal(res.status, 500);
  const body = (await res.json()) as { error: { code: string; message: string } };
  assert.equal(body.error.code, 'PLT_ERR_INTERNAL');
  assert.doesNotMatch(body.error.message, /secret|ENOENT/);
  const id = /request id ([0-9a-f-]{36})$/.exec(body.error.message)?.[1];
  assert.ok(id, body.error.message);
  const logged = lines.find((l) => l.reqId === id);
  assert.ok(logged, `a log line with reqId ${id}`);
  assert.match(JSON.stringify(logged), /secret/);
});
