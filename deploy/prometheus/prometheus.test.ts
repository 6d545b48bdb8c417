/**
 * What Prometheus itself makes of deploy/prometheus: promtool checks and unit-tests the alert
 * rules and parses every panel's query; a real Prometheus (Debian's 2.42, the one `npm run
 * infra:prometheus` runs) serves the consoles from our libraries, scraping a fixed page.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { executable, prometheusBinarySkip, promtoolSkip } from '#test/infra.ts';
import { consoleExpr } from '../observability/consoles.ts';
import { CONSOLES, LIBRARIES, root } from '../observability/generate.ts';
import { queriesOf } from '../observability/model.ts';
import { dashboards } from '../observability/panels.ts';

const run = promisify(execFile);
const RULES = join(root, 'deploy/prometheus/rules/orderflow.yml');
const RULE_TESTS = join(root, 'deploy/prometheus/rules-tests/orderflow.test.yml');
const ALERTS = ['ConsumerLagGrowing', 'DeadLetters', 'MessagesAwaitingVersion', 'OutboxBacklogAging', 'SagaPastDeadline', 'ServiceDown'];

/** Every distinct query of every dashboard, as a console runs it. */
const panelQueries = [...new Set(dashboards.flatMap((d) => queriesOf(d).map(({ query }) => consoleExpr(query.expr))))];

const temp = (t: { after: (fn: () => void) => void }) => {
  const dir = mkdtempSync(join(tmpdir(), 'orderflow-prometheus-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
};

describe('the alert rules and queries under promtool', { skip: promtoolSkip() }, () => {
  test('promtool accepts the alert rules', async () => {
    const { stdout } = await run(executable('promtool')!, ['check', 'rules', RULES]);
    assert.match(stdout, new RegExp(`SUCCESS: ${ALERTS.length} rules found`));
  });

  test('every alert fires in its case and stays quiet in the other (promtool test rules)', async () => {
    const { stdout } = await run(executable('promtool')!, ['test', 'rules', RULE_TESTS]);
    assert.match(stdout, /SUCCESS/);
    const cases = readFileSync(RULE_TESTS, 'utf8');
    for (const alert of ALERTS) assert.ok(cases.includes(`alertname: ${alert}`), `${alert} is tested`);
  });

  test('every panel query is PromQL that Prometheus parses', async (t) => {
    // promtool parses a rules file's expressions: each query becomes a recording rule.
    const file = join(temp(t), 'panels.yml');
    const rules = panelQueries.map((expr, i) => `      - record: orderflow:panel_${i}\n        expr: ${JSON.stringify(expr)}`);
    writeFileSync(file, `groups:\n  - name: panels\n    rules:\n${rules.join('\n')}\n`);
    const { stdout } = await run(executable('promtool')!, ['check', 'rules', file]);
    assert.match(stdout, new RegExp(`SUCCESS: ${panelQueries.length} rules found`));
  });
});

/** A fixed /metrics page for Prometheus to scrape, in the shape the services export. */
const FIXTURE = [
  'orderflow_outbox_pending{service="orders"} 7',
  'orderflow_outbox_oldest_age_seconds{service="orders"} 0.25',
  'orderflow_consumer_lag{service="orders",group="orders",topic="orders.replies",partition="0"} 42',
  'orderflow_dead_letters{service="orders",topic="orders.replies"} 0',
  'orderflow_orders_pending_oldest_age_seconds{service="orders"} 0',
  '',
].join('\n');

describe('a real Prometheus serves the consoles', { skip: prometheusBinarySkip() }, () => {
  let base = '';
  let prometheus: ChildProcess | undefined;
  let target: Server | undefined;
  let dir = '';
  let stderr = '';

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'orderflow-prometheus-'));
    target = createServer((req, res) => res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(FIXTURE));
    target.listen(0, '127.0.0.1');
    await once(target, 'listening');
    const targetPort = (target.address() as AddressInfo).port;
    // The target carries the service label, as the file_sd targets of npm run infra:prometheus do.
    writeFileSync(join(dir, 'prometheus.yml'), [
      'global:',
      '  scrape_interval: 1s',
      '  evaluation_interval: 1s',
      'rule_files:',
      `  - ${JSON.stringify(join(root, 'deploy/prometheus/rules/*.yml'))}`,
      'scrape_configs:',
      '  - job_name: orderflow',
      '    static_configs:',
      `      - targets: ['127.0.0.1:${targetPort}']`,
      '        labels:',
      '          service: orders',
      '',
    ].join('\n'));
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    prometheus = spawn(executable('prometheus')!, [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      `--web.console.templates=${join(root, CONSOLES)}`,
      `--web.console.libraries=${join(root, LIBRARIES)}`,
      '--log.level=warn',
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    prometheus.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    await until(prometheus, async () => (await fetch(`${base}/-/ready`)).ok, () => `Prometheus did not get ready: ${stderr}`);
    // Two scrapes, so the page's values are there.
    await until(prometheus, async () => (await query('orderflow_outbox_pending')).length > 0, () => `Prometheus did not scrape the fixture: ${stderr}`);
  });

  after(async () => {
    if (prometheus && prometheus.exitCode === null) {
      prometheus.kill('SIGTERM');
      await once(prometheus, 'exit');
    }
    target?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function query(expr: string): Promise<unknown[]> {
    const res = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = await res.json() as { status: string; error?: string; data: { result: unknown[] } };
    assert.equal(body.status, 'success', `${expr}: ${body.error}`);
    return body.data.result;
  }

  test('each console answers 200 with every panel of its dashboard and no template error', async () => {
    for (const d of dashboards) {
      const res = await fetch(`${base}/consoles/${d.slug}.html`);
      const html = await res.text();
      assert.equal(res.status, 200, `${d.slug}.html: ${html.slice(0, 500)}`);
      assert.doesNotMatch(html, /error executing template|template: /, d.slug);
      assert.ok(html.includes(`<h1>${d.title}</h1>`), d.slug);
      for (const panel of d.rows.flatMap((r) => r.panels)) assert.ok(html.includes(`>${panel.title}<`), `${d.slug}.html shows "${panel.title}"`);
      for (const other of dashboards) assert.ok(html.includes(`href="${other.slug}.html"`), `${d.slug}.html links to ${other.slug}`);
    }
  });

  test('every script and stylesheet a console loads is served by Prometheus itself', async () => {
    const html = await (await fetch(`${base}/consoles/overview.html`)).text();
    const assets = [...html.matchAll(/(?:src|href)="([^"]+\.(?:js|css))"/g)].map((m) => m[1]);
    assert.ok(assets.length >= 8, `assets: ${assets.join(', ')}`);
    for (const asset of assets) {
      assert.match(asset, /^\/classic\/static\//, 'an asset of Prometheus, not of the internet');
      const res = await fetch(`${base}${asset}`);
      await res.arrayBuffer();
      assert.equal(res.status, 200, asset);
    }
  });

  test('a console shows the scraped values in its table, and links each to the graph', async () => {
    const html = await (await fetch(`${base}/consoles/orders.html`)).text();
    assert.match(html, /<td>Outbox backlog<\/td><td>\s*<a class="prom_query_drilldown" href="([^"]+)">7<\/a>/);
    assert.match(html, /<td>Consumer lag<\/td><td>\s*<a class="prom_query_drilldown" href="[^"]+">42<\/a>/);
    assert.match(html, /<td>Instances up<\/td><td>\s*<a class="prom_query_drilldown" href="[^"]+">1<\/a>/);
    const link = /<td>Outbox backlog<\/td><td>\s*<a class="prom_query_drilldown" href="([^"]+)">/.exec(html)![1].replaceAll('&amp;', '&');
    const res = await fetch(`${base}${link}`);
    await res.arrayBuffer();
    assert.equal(res.status, 200, link);
  });

  test('Prometheus loads the alert rules from deploy/prometheus/rules', async () => {
    const body = await (await fetch(`${base}/api/v1/rules`)).json() as { data: { groups: Array<{ rules: Array<{ name: string }> }> } };
    assert.deepEqual(body.data.groups.flatMap((g) => g.rules.map((r) => r.name)), ALERTS);
  });

  test('every panel query runs on this Prometheus', async () => {
    for (const expr of panelQueries) await query(expr);
    assert.equal((await query('sum(orderflow_consumer_lag{job="orderflow",service="orders"})')).length, 1);
  });
});

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

/** Polls a real process until `ok`, for at most 30 s; fails at once when it exits. */
async function until(process: ChildProcess, ok: () => Promise<boolean>, why: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (process.exitCode !== null) throw new Error(`exited (${process.exitCode}): ${why()}`);
    try {
      if (await ok()) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(why());
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
