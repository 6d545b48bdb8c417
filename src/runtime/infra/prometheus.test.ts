import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { TestContext } from 'node:test';
import { isOrderflowError } from '#platform/errors.ts';
import { prometheusBinarySkip, promtoolSkip } from '#test/infra.ts';
import { isLoopback, listeningAddresses } from '#test/sockets.ts';
import { loadInfraConfig } from './config.ts';
import { pidAlive, portOpen, readPid, waitFor, type InfraIo } from './processes.ts';
import { freePort } from '../supervisor.ts';
import { PROMETHEUS_BIN, PROMETHEUS_INSTALL, prometheusArgs, prometheusConfig, prometheusInfra, prometheusPaths } from './prometheus.ts';
import { clearPrometheusTargets, serviceTargets, writePrometheusTargets } from './prometheus-targets.ts';

const quietIo = (): InfraIo & { said: string[]; emitted: string[] } => {
  const said: string[] = [];
  const emitted: string[] = [];
  return { said, emitted, say: (l) => void said.push(l), emit: (l) => void emitted.push(l) };
};

/** An infra dir of the test's own (a developer's Prometheus and target file are never touched), with the repository's rules and consoles. */
function ownInfra(t: TestContext) {
  const dir = mkdtempSync(join(tmpdir(), 'prometheus-infra-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return { dir, files: loadInfraConfig({ ORDERFLOW_INFRA_DIR: dir }).prometheus };
}

type Vector = Array<{ metric: Record<string, string>; value: [number, string] }>;

async function query(url: string, promql: string): Promise<Vector> {
  const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const body = (await res.json()) as { status: string; data: { result: Vector } };
  assert.equal(body.status, 'success');
  return body.data.result;
}

test('the Prometheus config scrapes job orderflow from the target file every 5 s and loads the repository rules', () => {
  const yml = prometheusConfig({ targetsFile: '/c/prometheus/targets/orderflow.json', rules: '/repo/deploy/prometheus/rules/*.yml' });
  assert.match(yml, /^ {2}scrape_interval: 5s$/m);
  assert.match(yml, /^ {2}- job_name: orderflow$/m);
  assert.match(yml, /file_sd_configs:\n\s+- files:\n\s+- "\/c\/prometheus\/targets\/orderflow\.json"/);
  assert.match(yml, /^rule_files:\n {2}- "\/repo\/deploy\/prometheus\/rules\/\*\.yml"$/m);
  assert.doesNotMatch(yml, /kafka/i, 'the services only');
  const files = loadInfraConfig({ ORDERFLOW_INFRA_DIR: '/c' }).prometheus;
  assert.equal(files.targetsFile, '/c/prometheus/targets/orderflow.json');
  assert.match(files.rules, /[/]deploy[/]prometheus[/]rules[/]\*\.yml$/);
  assert.match(files.consoles, /[/]deploy[/]prometheus[/]consoles$/);
  assert.match(files.consoleLibraries, /[/]deploy[/]prometheus[/]console_libraries$/);
  assert.equal(loadInfraConfig({}).prometheusPort, 9090);
  assert.equal(loadInfraConfig({ ORDERFLOW_PROMETHEUS_PORT: '19090' }).prometheusPort, 19090);
});

test('Prometheus listens on 127.0.0.1, keeps its data in the infra dir for hours, and serves the repository consoles', () => {
  const args = prometheusArgs({ config: '/c/p.yml', data: '/c/prometheus/data', port: 19090, consoles: '/r/consoles', consoleLibraries: '/r/libs' });
  for (const a of ['--config.file=/c/p.yml', '--storage.tsdb.path=/c/prometheus/data', '--web.listen-address=127.0.0.1:19090', '--web.console.templates=/r/consoles', '--web.console.libraries=/r/libs']) {
    assert.ok(args.includes(a), `${a} in ${args.join(' ')}`);
  }
  assert.ok(args.some((a) => /^--storage\.tsdb\.retention\.time=\d+h$/.test(a)));
  assert.equal(prometheusPaths('/c').data, '/c/prometheus/data');
});

test('promtool accepts the written config, the repository rules included', { skip: promtoolSkip() }, async (t) => {
  const { dir, files } = ownInfra(t);
  const config = join(dir, 'prometheus.yml');
  writeFileSync(config, prometheusConfig({ targetsFile: files.targetsFile, rules: files.rules }));
  const { stdout } = await promisify(execFile)('/usr/bin/promtool', ['check', 'config', config]);
  assert.match(stdout, /SUCCESS/);
});

test('prometheus start without the binary names the apt-get command that installs it', async (t) => {
  const { dir, files } = ownInfra(t);
  const port = await freePort();
  await assert.rejects(
    prometheusInfra('start', { dir, port, files, bin: join(dir, 'no-prometheus'), io: quietIo() }),
    (err) => isOrderflowError(err, 'PLT_ERR_INFRA') && err.message.includes(PROMETHEUS_INSTALL),
  );
  assert.match(PROMETHEUS_INSTALL, /apt-get install -y --no-install-recommends prometheus$/);
});

test('prometheus scrapes a target of the file, up with its service label, drops it when the file is emptied; idempotent start and stop', { skip: prometheusBinarySkip() }, async (t) => {
  const { dir, files } = ownInfra(t);
  let scrapes = 0;
  const exporter = createServer((req, res) => {
    if (req.url !== '/metrics') return void res.writeHead(404).end();
    scrapes++;
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end('# TYPE orderflow_probe gauge\norderflow_probe{service="probe"} 42\n');
  }).listen(0, '127.0.0.1');
  await once(exporter, 'listening');
  t.after(() => exporter.close());
  const exporterPort = (exporter.address() as { port: number }).port;
  writePrometheusTargets(files.targetsFile, serviceTargets({ probe: `http://127.0.0.1:${exporterPort}` }, { arch: 'events', deployment: 'embedded' }));

  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const io = quietIo();
  t.after(() => prometheusInfra('stop', { dir, port, files, io }));
  const started = await prometheusInfra('start', { dir, port, files, io });
  assert.deepEqual(started, { running: true, owned: true, env: { PROMETHEUS_URL: url } });
  assert.deepEqual(io.emitted, [`PROMETHEUS_URL=${url}`]);
  const pid = readPid(prometheusPaths(dir).pidFile)!;
  const addresses = listeningAddresses(port);
  assert.ok(addresses.length > 0 && addresses.every(isLoopback), `listens on ${addresses.join(', ')}, loopback only`);
  assert.deepEqual(await prometheusInfra('start', { dir, port, files, io }), started);
  assert.equal(readPid(prometheusPaths(dir).pidFile), pid, 'the second start reuses the running server');
  assert.deepEqual(await prometheusInfra('status', { dir, port, files, io }), started);

  let up: Vector = [];
  assert.ok(await waitFor(async () => (up = await query(url, 'up{job="orderflow"}')).some((s) => s.value[1] === '1'), { timeoutMs: 30_000, intervalMs: 500 }), 'the target is scraped within 30 s');
  assert.equal(up.length, 1);
  assert.deepEqual(up[0].metric, { __name__: 'up', job: 'orderflow', instance: `127.0.0.1:${exporterPort}`, service: 'probe', arch: 'events', deployment: 'embedded' });
  assert.ok(scrapes > 0);
  const [probe] = await query(url, 'orderflow_probe');
  assert.equal(probe.metric.service, 'probe');
  assert.equal(probe.metric.exported_service, undefined, "the service's own label is kept, not renamed");
  assert.equal(probe.value[1], '42');

  clearPrometheusTargets(files.targetsFile);
  assert.ok(await waitFor(async () => (await query(url, 'up{job="orderflow"}')).length === 0, { timeoutMs: 30_000, intervalMs: 500 }), 'an emptied file unlists the target');

  assert.deepEqual(await prometheusInfra('stop', { dir, port, files, io }), { running: false, owned: true, env: {} });
  assert.equal(pidAlive(pid), false);
  assert.equal(await portOpen(port), false);
  assert.deepEqual(await prometheusInfra('stop', { dir, port, files, io }), { running: false, owned: false, env: {} });
  assert.deepEqual(await prometheusInfra('status', { dir, port, files, io }), { running: false, owned: false, env: {} });
});
