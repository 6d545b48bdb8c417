import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONSOLES, GRAFANA, render, root, stale, write } from './generate.ts';
import { consoleExpr, consoleName } from './consoles.ts';
import { legendLabels, queriesOf, type Dashboard } from './model.ts';
import { dashboards, services } from './panels.ts';
import { SCHEMA_VERSION } from './grafana.ts';

/**
 * The metric set of issue 8 (docs/observability.md): a panel or a rule naming anything else
 * is a typo or a metric nobody exports. Histograms by their base name.
 */
const CONTRACT = new Set([
  'up', 'process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_p99_seconds', 'nodejs_eventloop_lag_mean_seconds',
  'orderflow_http_request_duration_seconds', 'orderflow_message_batch_duration_seconds', 'orderflow_messages_handled_total',
  'orderflow_consumer_lag', 'orderflow_messages_total', 'orderflow_dead_letters', 'orderflow_outbox_pending',
  'orderflow_outbox_oldest_age_seconds', 'orderflow_relay_publish_seconds', 'orderflow_batch_size', 'orderflow_saga_duration_seconds',
  'orderflow_orders_total', 'orderflow_orders_pending_oldest_age_seconds', 'orderflow_circuit_state',
]);

/** The metrics a PromQL expression selects: every name followed by its `{` matchers. */
const metricsOf = (expr: string) => [...expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\{/g)].map((m) => m[1].replace(/_(bucket|count|sum)$/, ''));

/** The labels a query keeps: its outermost aggregation's `by (...)`, minus the le a quantile consumes. */
function keptLabels(expr: string): string[] {
  const m = /^(?:histogram_quantile\([^,]+,\s*)?(?:sum|max|min) by \(([^)]*)\)/.exec(expr);
  return m ? m[1].split(',').map((s) => s.trim()).filter((l) => l !== 'le') : [];
}

test('the committed consoles, menu and Grafana dashboards are what npm run dashboards draws from panels.ts', () => {
  const files = render();
  const differ = [...files].filter(([path, content]) => {
    try {
      return readFileSync(join(root, path), 'utf8') !== content;
    } catch {
      return true;
    }
  }).map(([path]) => path);
  assert.deepEqual(differ, [], 'run npm run dashboards and commit the result');
  assert.deepEqual(stale(files), [], 'generated files no dashboard makes any more');
});

test('npm run dashboards writes every file and removes the page of a dashboard that is gone', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'orderflow-dashboards-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, CONSOLES), { recursive: true });
  writeFileSync(join(dir, CONSOLES, 'retired.html'), 'old');
  const written = write(dir);
  assert.equal(written.length, dashboards.length * 2 + 1);
  assert.equal(readFileSync(join(dir, GRAFANA, 'overview.json'), 'utf8'), render().get(`${GRAFANA}/overview.json`));
  assert.deepEqual(stale(render(), dir), []);
});

test('there is an overview and a page for each service with a bus or a circuit to watch', () => {
  assert.deepEqual(dashboards.map((d) => d.slug), ['overview', 'gateway', 'orders', 'inventory', 'payments', 'shipping', 'notifications', 'cart']);
  assert.deepEqual(services.map((s) => s.name), dashboards.slice(1).map((d) => d.slug));
});

test('every query selects only metrics of the contract, and only of the orderflow job', () => {
  const bad: string[] = [];
  for (const d of dashboards) {
    for (const { panel, query } of queriesOf(d)) {
      const metrics = metricsOf(query.expr);
      if (!metrics.length) bad.push(`${d.slug}/${panel.title}: selects nothing`);
      for (const m of metrics) if (!CONTRACT.has(m)) bad.push(`${d.slug}/${panel.title}: ${m} is not in the contract`);
      const selectors = [...query.expr.matchAll(/\{([^}]*)\}/g)].map((s) => s[1]);
      if (selectors.some((s) => !s.includes('job="orderflow"'))) bad.push(`${d.slug}/${panel.title}: a selector without job="orderflow"`);
    }
  }
  assert.deepEqual(bad, []);
});

test('the alert rules select only metrics of the contract', () => {
  const rules = readFileSync(join(root, 'deploy/prometheus/rules/orderflow.yml'), 'utf8');
  const exprs = [...rules.matchAll(/expr: (?:\|\n)?((?:.+\n)+?)\s+(?:for|labels):/g)].map((m) => m[1]);
  assert.equal(exprs.length, 6);
  const unknown = exprs.flatMap(metricsOf).filter((m) => !CONTRACT.has(m));
  assert.deepEqual(unknown, []);
});

test('a legend names only labels its query keeps, so no series is called "undefined"', () => {
  const bad = dashboards.flatMap((d) => queriesOf(d)
    .filter(({ query }) => legendLabels(query.legend).some((l) => !keptLabels(query.expr).includes(l)))
    .map(({ panel, query }) => `${d.slug}/${panel.title}: ${query.legend} from ${query.expr}`));
  assert.deepEqual(bad, []);
});

test('a stat has one query that keeps no label, so it is one number', () => {
  const bad = dashboards.flatMap((d) => d.rows.flatMap((r) => r.panels))
    .filter((p) => p.kind === 'stat' && (p.queries.length !== 1 || keptLabels(p.queries[0].expr).length > 0))
    .map((p) => p.title);
  assert.deepEqual(bad, []);
});

test('a service page shows only what the service has: no consumers on the gateway, the saga only on orders', () => {
  const titles = (slug: string) => dashboards.find((d) => d.slug === slug)!.rows.map((r) => r.title);
  assert.deepEqual(titles('gateway'), ['Now', 'HTTP routes', 'Circuit breakers', 'Process']);
  assert.deepEqual(titles('orders'), ['Now', 'HTTP routes', 'Saga', 'Consumers', 'Outbox relay', 'Circuit breakers', 'Process']);
  assert.deepEqual(titles('payments'), ['Now', 'HTTP routes', 'Consumers', 'Outbox relay', 'Process']);
  const payments = render().get(`${CONSOLES}/payments.html`)!;
  assert.match(payments, /service=\\"payments\\"/);
  assert.doesNotMatch(payments, /service=\\"(orders|gateway|inventory|shipping)\\"/);
});

test('a console runs each query on a fixed window and names series the way PromConsole.Graph reads', () => {
  assert.equal(consoleExpr('sum(rate(x{job="orderflow"}[$__rate_interval]))'), 'sum(rate(x{job="orderflow"}[1m]))');
  assert.equal(consoleName('{{service}} → {{ upstream }}'), '[[service]] → [[upstream]]');
  assert.throws(() => consoleExpr('x{{y}}'), /cannot hold/);
  for (const [path, content] of render()) {
    if (path.endsWith('.html')) assert.doesNotMatch(content, /\$__/, path);
  }
});

test('a console shows every panel of its dashboard: stats in the table, graphs in the page', () => {
  const overview = dashboards[0];
  const html = render().get(`${CONSOLES}/overview.html`)!;
  for (const panel of overview.rows.flatMap((r) => r.panels)) {
    if (panel.kind === 'stat') assert.match(html, new RegExp(`<td>${escape(panel.title)}</td><td>\\{\\{ template "prom_query_drilldown"`));
    else assert.match(html, new RegExp(`<h3>${escape(panel.title.replace(/&/g, '&amp;'))}</h3>`));
  }
  assert.equal(html.match(/new PromConsole\.Graph\(/g)!.length, overview.rows.flatMap((r) => r.panels).filter((p) => p.kind === 'timeseries').length);
});

test('a Grafana dashboard has a prometheus datasource variable, every panel on it, and no panel over another', () => {
  for (const d of dashboards) checkGrafana(d, JSON.parse(render().get(`${GRAFANA}/${d.slug}.json`)!));
});

interface GrafanaPanel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type: string; uid: string };
  targets?: Array<{ expr: string; legendFormat: string; datasource: { uid: string } }>;
}

function checkGrafana(d: Dashboard, json: { schemaVersion: number; uid: string; templating: { list: Array<Record<string, unknown>> }; panels: GrafanaPanel[] }) {
  assert.equal(json.schemaVersion, SCHEMA_VERSION);
  assert.equal(json.uid, `orderflow-${d.slug}`);
  assert.deepEqual(json.templating.list.map((v) => [v.name, v.type, v.query]), [['datasource', 'datasource', 'prometheus']]);
  const panels = json.panels.filter((p) => p.type !== 'row');
  assert.deepEqual(json.panels.filter((p) => p.type === 'row').map((p) => p.title), d.rows.map((r) => r.title));
  assert.deepEqual(panels.map((p) => p.title), d.rows.flatMap((r) => r.panels.map((p) => p.title)));
  assert.deepEqual(new Set(panels.map((p) => p.type)), new Set(d.rows.flatMap((r) => r.panels.map((p) => p.kind))));
  assert.equal(new Set(json.panels.map((p) => p.id)).size, json.panels.length, `${d.slug}: panel ids are unique`);
  for (const p of panels) {
    assert.equal(p.datasource?.uid, '${datasource}');
    for (const target of p.targets!) assert.equal(target.datasource.uid, '${datasource}');
  }
  const cells = new Set<string>();
  for (const p of json.panels) {
    const { x, y, w, h } = p.gridPos;
    assert.ok(x >= 0 && x + w <= 24, `${d.slug}/${p.title} fits the 24 columns`);
    for (let i = x; i < x + w; i++) {
      for (let j = y; j < y + h; j++) {
        assert.ok(!cells.has(`${i},${j}`), `${d.slug}/${p.title} overlaps another panel`);
        cells.add(`${i},${j}`);
      }
    }
  }
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
