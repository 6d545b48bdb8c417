import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serviceNames, startSystem, type System } from './system.ts';
import type { TargetGroup } from './infra/prometheus-targets.ts';

test('the system lists every service for Prometheus while it runs, each target serving /metrics, and unlists them on stop', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'system-targets-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'infra', 'prometheus', 'targets', 'orderflow.json');
  const ports = Object.fromEntries(serviceNames.map((n) => [n, 0]));
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
    assert.equal(`http://${g.targets[0]}`, system.urls[g.labels.service as keyof System['urls']]);
    const res = await fetch(`http://${g.targets[0]}/metrics`);
    assert.equal(res.status, 200, `${g.labels.service} serves /metrics`);
    assert.match(await res.text(), /^process_cpu_seconds_total/m);
  }

  await system.stop();
  assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), []);
});
