import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePortsForAll, serviceNames, startSystem, type System } from './system.ts';
import { isOrderflowError } from '#platform/errors.ts';
import type { TargetGroup } from './infra/prometheus-targets.ts';

test('the system lists every service for Prometheus while it runs, each target serving /metrics, and unlists them on stop', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'system-targets-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'infra', 'prometheus', 'targets', 'orderflow.json');
  const ports = freePortsForAll;
  let system: System | undefined;
  t.after(() => system?.stop());
  system = await startSystem({
    dataDir: join(dir, 'data'),
    env: { ORDERFLOW_BUS: 'embedded', ORDERFLOW_STORE: 'sqlite', ORDERFLOW_SEED: '0', LOG_LEVEL: 'warn' },
    ports,
    stdio: 'ignore',
    prometheusTargets: { file, labels: { arch: 'events', deployment: 'embedded' } },
  });

  const groups = JSON.parse(readFileSync(file, 'utf8')) as TargetGroup[];
  assert.deepEqual(groups.map((g) => g.labels.service).sort(), [...serviceNames].sort());
  for (const g of groups) {
    assert.deepEqual(g.labels, { arch: 'events', deployment: 'embedded', service: g.labels.service });
    assert.equal(g.targets.length, 1);
    assert.equal(`http://${g.targets[0]}`, system.metricsUrls[g.labels.service as keyof System['urls']]);
    const res = await fetch(`http://${g.targets[0]}/metrics`);
    assert.equal(res.status, 200, `${g.labels.service} serves /metrics`);
    assert.match(await res.text(), /^process_cpu_seconds_total/m);
  }
  // The gateway's /metrics is on its internal port, not the public one.
  assert.notEqual(system.metricsUrls.gateway, system.gatewayUrl);
  const pub = await fetch(`${system.gatewayUrl}/metrics`);
  assert.equal(pub.status, 404, 'the public port does not serve /metrics');
  assert.equal((await pub.json() as { error: { code: string } }).error.code, 'PLT_ERR_ROUTE_NOT_FOUND');

  await system.stop();
  assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), []);
});

test('with replicas, each backend runs as named instances on their own ports, listed for Prometheus, and a service name stands for its first instance', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'system-replicas-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'targets.json');
  let system: System | undefined;
  t.after(() => system?.stop());
  system = await startSystem({
    dataDir: join(dir, 'data'),
    env: { ORDERFLOW_BUS: 'embedded', ORDERFLOW_STORE: 'sqlite', ORDERFLOW_SEED: '0', LOG_LEVEL: 'warn' },
    ports: freePortsForAll,
    replicas: 2,
    stdio: 'ignore',
    prometheusTargets: { file, labels: {} },
  });
  const instances = system.instances();
  assert.deepEqual(instances.map((i) => i.name), serviceNames.flatMap((n) => (n === 'gateway' ? [n] : [`${n}-1`, `${n}-2`])));
  assert.ok(instances.some((i) => i.name === 'orders-2'));
  assert.equal(new Set(instances.map((i) => i.url)).size, instances.length, 'each its own port');
  for (const i of instances) assert.equal((await fetch(`${i.url}/health/ready`)).status, 200, `${i.name} is ready`);
  assert.equal(system.urls.orders, instances[1].url);
  const groups = JSON.parse(readFileSync(file, 'utf8')) as TargetGroup[];
  assert.deepEqual(Object.fromEntries(groups.map((g) => [g.labels.service, g.targets.length])), Object.fromEntries(serviceNames.map((n) => [n, n === 'gateway' ? 1 : 2])));

  assert.equal(system.pid('orders'), system.pid('orders-1'));
  assert.notEqual(system.pid('orders-1'), system.pid('orders-2'));
  assert.throws(() => system!.pid('orders-3'), (err) => isOrderflowError(err, 'PLT_ERR_UNKNOWN_INSTANCE'));

  // A crash of one instance leaves the other serving, and resolves once it is back with its consumers.
  const other = system.pid('orders-2');
  await system.crash('orders', 200);
  assert.equal(system.restarts('orders-1'), 1);
  assert.equal(system.restarts('orders-2'), 0);
  assert.equal(system.restarts('orders', { all: true }), 1);
  assert.equal(system.pid('orders-2'), other, 'the other instance was not touched');
  assert.equal((await fetch(`${instances[1].url}/health/consumers`)).status, 200);
  assert.equal((await fetch(`${system.gatewayUrl}/health`)).status, 200);
});
