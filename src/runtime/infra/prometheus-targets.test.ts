import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadRuntimeConfig } from '../config.ts';
import { loadInfraConfig } from './config.ts';
import { clearPrometheusTargets, serviceTargets, writePrometheusTargets } from './prometheus-targets.ts';

test('one target group per service, its /metrics host:port labelled with its name and the shared labels', () => {
  const groups = serviceTargets({ gateway: 'http://127.0.0.1:9080', orders: 'http://127.0.0.1:8081' }, { arch: 'rest', deployment: 'distributed' });
  assert.deepEqual(groups, [
    { targets: ['127.0.0.1:9080'], labels: { arch: 'rest', deployment: 'distributed', service: 'gateway' } },
    { targets: ['127.0.0.1:8081'], labels: { arch: 'rest', deployment: 'distributed', service: 'orders' } },
  ]);
});

test('the target file is written whole, in a folder made for it, and emptied on clear', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'targets-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'prometheus', 'targets', 'orderflow.json');
  const groups = serviceTargets({ payments: 'http://127.0.0.1:40001' }, { arch: 'events', deployment: 'embedded' });
  writePrometheusTargets(file, groups);
  assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), groups);
  assert.deepEqual(readdirSync(join(dir, 'prometheus', 'targets')), ['orderflow.json'], 'no temporary file left');
  assert.equal(clearPrometheusTargets(file), true);
  assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), []);
  assert.equal(clearPrometheusTargets(join(dir, 'prometheus', 'targets', 'orderflow.json', 'not-a-dir')), false, 'a clear that cannot write says so and throws nothing');
});

test('orderflow up writes the target file where the local Prometheus reads it, whatever the infra dir', () => {
  for (const env of [{}, { ORDERFLOW_INFRA_DIR: '/tmp/elsewhere' }]) {
    const written = loadRuntimeConfig(env).prometheusTargetsFile;
    assert.equal(written, loadInfraConfig(env).prometheus.targetsFile);
    assert.match(written, /[/]prometheus[/]targets[/]orderflow\.json$/);
  }
  assert.equal(loadRuntimeConfig({ ORDERFLOW_INFRA_DIR: '/tmp/elsewhere' }).prometheusTargetsFile, '/tmp/elsewhere/prometheus/targets/orderflow.json');
  assert.match(loadRuntimeConfig({}).prometheusTargetsFile, /[/]\.infra[/]prometheus[/]targets[/]orderflow\.json$/);
});
