import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry, Histogram, Counter } from 'prom-client';
import { counter, histogram, histogramDelta, parseMetrics, quantile, serviceLoad } from './prometheus.ts';

const text = `# HELP orderflow_http_request_duration_seconds HTTP
# TYPE orderflow_http_request_duration_seconds histogram
orderflow_http_request_duration_seconds_bucket{le="0.01",method="POST",route="/api/orders",status_code="202"} 50
orderflow_http_request_duration_seconds_bucket{le="0.1",method="POST",route="/api/orders",status_code="202"} 90
orderflow_http_request_duration_seconds_bucket{le="+Inf",method="POST",route="/api/orders",status_code="202"} 100
orderflow_http_request_duration_seconds_sum{method="POST",route="/api/orders",status_code="202"} 2.5
orderflow_http_request_duration_seconds_count{method="POST",route="/api/orders",status_code="202"} 100
orderflow_http_request_duration_seconds_bucket{le="0.01",method="GET",route="/health",status_code="200"} 7
orderflow_http_request_duration_seconds_bucket{le="0.1",method="GET",route="/health",status_code="200"} 7
orderflow_http_request_duration_seconds_bucket{le="+Inf",method="GET",route="/health",status_code="200"} 7
orderflow_http_request_duration_seconds_sum{method="GET",route="/health",status_code="200"} 0.01
orderflow_http_request_duration_seconds_count{method="GET",route="/health",status_code="200"} 7
# TYPE orderflow_messages_handled_total counter
orderflow_messages_handled_total{group="orders"} 400
weird_metric{path="a \\"quoted\\" \\\\ value"} 1 1700000000000
`;

test('the parser reads names, labels with escapes, values and skips comments and timestamps', () => {
  const s = parseMetrics(text);
  assert.equal(s.length, 12);
  assert.deepEqual(s.at(-1), { name: 'weird_metric', labels: { path: 'a "quoted" \\ value' }, value: 1 });
  assert.equal(s[2].value, 100);
});

test('a histogram sums the label sets its filter keeps, bucket by bucket', () => {
  const s = parseMetrics(text);
  const api = histogram(s, 'orderflow_http_request_duration_seconds', (l) => l.route.startsWith('/api/'));
  assert.deepEqual(api, { buckets: [{ le: 0.01, count: 50 }, { le: 0.1, count: 90 }, { le: Infinity, count: 100 }], sum: 2.5, count: 100 });
  assert.equal(histogram(s, 'orderflow_http_request_duration_seconds').count, 107);
});

test('quantiles interpolate inside a bucket and stop at the last finite bound', () => {
  const h = { buckets: [{ le: 0.01, count: 50 }, { le: 0.1, count: 90 }, { le: Infinity, count: 100 }], sum: 0, count: 100 };
  assert.equal(quantile(h, 0.25), 0.005);
  assert.ok(Math.abs(quantile(h, 0.7) - 0.055) < 1e-12);
  assert.equal(quantile(h, 0.99), 0.1);
  assert.equal(quantile({ buckets: [], sum: 0, count: 0 }, 0.99), 0);
});

test('a delta of two scrapes subtracts buckets; a restarted process counts from zero', () => {
  const a = { buckets: [{ le: 1, count: 5 }, { le: Infinity, count: 6 }], sum: 3, count: 6 };
  const b = { buckets: [{ le: 1, count: 15 }, { le: Infinity, count: 20 }], sum: 10, count: 20 };
  assert.deepEqual(histogramDelta(a, b), { buckets: [{ le: 1, count: 10 }, { le: Infinity, count: 14 }], sum: 7, count: 14 });
  const restarted = { buckets: [{ le: 1, count: 2 }, { le: Infinity, count: 2 }], sum: 1, count: 2 };
  assert.deepEqual(histogramDelta(b, restarted), restarted);
});

test('counters are found with or without the _total suffix', () => {
  const s = parseMetrics(text);
  assert.equal(counter(s, 'orderflow_messages_handled_total'), 400);
  assert.equal(counter(s, 'orderflow_messages_handled'), 400);
});

test('a service load from two real prom-client scrapes counts requests and messages per second', async () => {
  const registry = new Registry();
  const http = new Histogram({ name: 'orderflow_http_request_duration_seconds', help: 'h', labelNames: ['method', 'route', 'status_code'], buckets: [0.005, 0.01, 0.05], registers: [registry] });
  const batch = new Histogram({ name: 'orderflow_message_batch_duration_seconds', help: 'b', labelNames: ['group'], buckets: [0.005, 0.01, 0.05], registers: [registry] });
  const messages = new Counter({ name: 'orderflow_messages_handled_total', help: 'm', labelNames: ['group'], registers: [registry] });
  http.observe({ method: 'POST', route: '/api/orders', status_code: '202' }, 0.002);
  const before = parseMetrics(await registry.metrics());
  for (let i = 0; i < 10; i++) http.observe({ method: 'POST', route: '/api/orders', status_code: '202' }, 0.004);
  for (let i = 0; i < 50; i++) http.observe({ method: 'GET', route: '/health', status_code: '200' }, 0.001);
  for (let i = 0; i < 10; i++) batch.observe({ group: 'orders' }, 0.04);
  messages.inc({ group: 'orders' }, 30);
  const after = parseMetrics(await registry.metrics());

  const gateway = serviceLoad('gateway', before, after, 2);
  assert.equal(gateway.requestsPerSecond, 20, '(10 requests + 30 messages) / 2 s; /health is not load');
  assert.equal(gateway.avgMs, 22, '(10 × 4 ms + 10 × 40 ms) / 20 handled');
  assert.ok(gateway.p99Ms > 10 && gateway.p99Ms <= 50, `p99 from the batch buckets: ${gateway.p99Ms}`);
});

test('a service without the metrics yet reports zeros', () => {
  assert.deepEqual(serviceLoad('orders', [], [], 5), { service: 'orders', requestsPerSecond: 0, avgMs: 0, p99Ms: 0 });
});
