import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:http';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { isOrderflowError } from '#platform/errors.ts';
import { isLoopback, listeningAddresses } from '#test/sockets.ts';
import { loadInfraConfig } from './config.ts';
import { pidAlive, portOpen, readPid, waitFor, type InfraIo } from './processes.ts';
import { freePort } from '../supervisor.ts';
import { fetchZipkin, zipkinArgs, zipkinInfra, zipkinPaths } from './zipkin.ts';

function recordingIo() {
  const said: string[] = [];
  const emitted: string[] = [];
  const io: InfraIo = { say: (l) => void said.push(l), emit: (l) => void emitted.push(l) };
  return { io, said, emitted };
}

/**
 * An infra dir of the test's own, so a developer's Zipkin is never touched, with the exec jar
 * of the shared cache (fetched there once) linked in rather than copied: 130 MB.
 */
async function ownInfraDir(t: TestContext): Promise<string> {
  const jar = await fetchZipkin(loadInfraConfig().dir, recordingIo().io);
  const dir = mkdtempSync(join(tmpdir(), 'zipkin-infra-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(zipkinPaths(dir).home, { recursive: true });
  symlinkSync(jar, zipkinPaths(dir).jar);
  return dir;
}

test('Zipkin binds its one port on 127.0.0.1 with in-memory storage and no collector but HTTP', () => {
  const args = zipkinArgs({ jar: '/c/zipkin/z.jar', port: 19411 });
  assert.deepEqual(args.slice(0, 2), ['-jar', '/c/zipkin/z.jar']);
  for (const a of ['--armeria.ports[0].ip=127.0.0.1', '--armeria.ports[0].port=19411', '--armeria.ports[0].protocols[0]=http', '--zipkin.storage.type=mem', '--zipkin.collector.kafka.enabled=false']) {
    assert.ok(args.includes(a), `${a} in ${args.join(' ')}`);
  }
  assert.equal(zipkinPaths('/c').jar, '/c/zipkin/zipkin-server-3.6.1-exec.jar');
  assert.equal(loadInfraConfig({}).zipkinPort, 9411);
  assert.equal(loadInfraConfig({ ORDERFLOW_ZIPKIN_PORT: '19411' }).zipkinPort, 19411);
  assert.throws(() => loadInfraConfig({ ORDERFLOW_ZIPKIN_PORT: 'x' }), (err) => isOrderflowError(err, 'PLT_ERR_CONFIG'));
});

test('zipkin start refuses a port taken by something that is not Zipkin', async (t) => {
  const server = createServer((_req, res) => res.end('hello')).listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const { port } = server.address() as { port: number };
  const dir = mkdtempSync(join(tmpdir(), 'zipkin-infra-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  await assert.rejects(zipkinInfra('start', { dir, port, io: recordingIo().io }), (err) => isOrderflowError(err, 'PLT_ERR_INFRA') && /not Zipkin; set ORDERFLOW_ZIPKIN_PORT/.test(err.message));
});

test('zipkin start, status, a span in and out, stop: idempotent both ways', async (t) => {
  const dir = await ownInfraDir(t);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const { io, said, emitted } = recordingIo();
  t.after(() => zipkinInfra('stop', { dir, port, io }));

  const started = await zipkinInfra('start', { dir, port, io });
  assert.deepEqual(started, { running: true, owned: true, env: { ZIPKIN_URL: url } });
  assert.deepEqual(emitted, [`ZIPKIN_URL=${url}`]);
  const pid = readPid(zipkinPaths(dir).pidFile)!;
  assert.ok(pid > 0 && pidAlive(pid));
  const addresses = listeningAddresses(port);
  assert.ok(addresses.length > 0 && addresses.every(isLoopback), `listens on ${addresses.join(', ')}, loopback only`);

  const again = await zipkinInfra('start', { dir, port, io });
  assert.equal(again.owned, true);
  assert.equal(readPid(zipkinPaths(dir).pidFile), pid, 'the second start reuses the running server');
  assert.match(said.join('\n'), /already running/);
  assert.deepEqual(await zipkinInfra('status', { dir, port, io }), started);

  const traceId = randomBytes(16).toString('hex');
  const span = {
    traceId,
    id: randomBytes(8).toString('hex'),
    name: 'post /api/orders',
    kind: 'SERVER',
    timestamp: Date.now() * 1000,
    duration: 1234,
    localEndpoint: { serviceName: 'infra-test' },
    tags: { 'http.method': 'POST' },
  };
  const posted = await fetch(`${url}/api/v2/spans`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([span]) });
  assert.equal(posted.status, 202);
  let trace: Array<typeof span> = [];
  const found = await waitFor(async () => {
    const res = await fetch(`${url}/api/v2/trace/${traceId}`);
    if (res.status !== 200) return false;
    trace = (await res.json()) as Array<typeof span>;
    return trace.length > 0;
  }, { timeoutMs: 10_000, intervalMs: 200 });
  assert.ok(found, `trace ${traceId} read back`);
  assert.equal(trace.length, 1);
  assert.equal(trace[0].id, span.id);
  assert.equal(trace[0].name, span.name);
  assert.equal(trace[0].localEndpoint.serviceName, 'infra-test');
  assert.equal((await fetch(`${url}/zipkin/`)).status, 200, 'the UI is served');

  assert.deepEqual(await zipkinInfra('stop', { dir, port, io }), { running: false, owned: true, env: {} });
  assert.equal(pidAlive(pid), false);
  assert.equal(await portOpen(port), false);
  assert.deepEqual(await zipkinInfra('stop', { dir, port, io }), { running: false, owned: false, env: {} });
  assert.deepEqual(await zipkinInfra('status', { dir, port, io }), { running: false, owned: false, env: {} });
});
