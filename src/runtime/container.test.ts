import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { containerName, containerSpec, SYSTEM_LABEL } from './container.ts';
import { ensureContainersConf } from './infra/podman.ts';

const sys = (infraDir: string) => ({ image: 'localhost/orderflow:test', id: 'abc123', infraDir, dataDir: '/srv/orderflow-data' });

test('an instance runs as podman run of the image on the host network, read-only, its data dir mounted, its service named last', (t) => {
  const infraDir = mkdtempSync(join(tmpdir(), 'orderflow-container-'));
  t.after(() => rmSync(infraDir, { recursive: true, force: true }));
  const spec = containerSpec(sys(infraDir), 'orders-2', 'orders', { PORT: '8181', DATABASE_URL: 'postgres://u:secret@db/x', PATH: '/usr/bin', HOME: '/root', npm_config_cache: '/x' }, []);
  const argv = spec.command!;
  assert.deepEqual(argv.slice(0, 2), ['podman', 'run']);
  assert.deepEqual(argv.slice(-2), ['localhost/orderflow:test', 'orders']);
  for (const flag of ['--rm', '--replace', '--read-only', '--no-healthcheck']) assert.ok(argv.includes(flag), flag);
  const after = (flag: string) => argv.filter((_, i) => argv[i - 1] === flag);
  assert.deepEqual(after('--network'), ['host']);
  assert.deepEqual(after('--name'), [containerName(sys(infraDir), 'orders-2')]);
  assert.deepEqual(after('--label'), [`${SYSTEM_LABEL}=abc123`, 'orderflow.instance=orders-2']);
  assert.deepEqual(after('--volume'), ['/srv/orderflow-data:/srv/orderflow-data']);
  // Passed by name, the value from podman's own environment: no secret in anyone's argv.
  assert.deepEqual(after('--env'), ['PORT', 'DATABASE_URL']);
  assert.ok(!argv.some((a) => a.includes('secret')));
  assert.equal(spec.env!.DATABASE_URL, 'postgres://u:secret@db/x');
  assert.equal(spec.env!.CONTAINERS_CONF, join(infraDir, 'containers', 'containers.conf'));
});

test('our containers.conf picks runc and sets the limits, written once where CONTAINERS_CONF points', (t) => {
  const infraDir = mkdtempSync(join(tmpdir(), 'orderflow-container-'));
  t.after(() => rmSync(infraDir, { recursive: true, force: true }));
  const file = ensureContainersConf(infraDir);
  const text = readFileSync(file, 'utf8');
  assert.match(text, /runtime = "runc"/);
  assert.match(text, /default_ulimits = \["nofile=20000:20000", "nproc=4096:4096"\]/);
  assert.equal(ensureContainersConf(infraDir), file);
  assert.equal(readFileSync(file, 'utf8'), text);
});
