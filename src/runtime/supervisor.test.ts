import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test, type TestContext } from 'node:test';
import { isOrderflowError } from '#platform/errors.ts';
import { alive } from '#test/support/process.ts';
import { createSupervisor, freePort, freePorts, prettyLine, probe, type ChildSpec } from './supervisor.ts';
import { bindListenSocket } from './listen-sockets.ts';

// A stand-in service: answers /health on PORT; FAIL_AT_START and IGNORE_SIGTERM inject faults.
const fakeChild = `
import { createServer } from 'node:http';
import { existsSync } from 'node:fs';
if (process.env.FAIL_AT_START || (process.env.FAIL_IF_FILE && existsSync(process.env.FAIL_IF_FILE))) {
  console.error('cannot open the database: disk on fire');
  process.exit(3);
}
if (process.env.IGNORE_SIGTERM) process.on('SIGTERM', () => console.log('ignoring SIGTERM'));
const server = createServer((req, res) => res.end(String(process.pid)));
if (process.env.LISTEN_FD) {
  // On the supervisor's socket: stop accepting on SIGTERM, finish what was accepted, go.
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
  server.listen({ fd: Number(process.env.LISTEN_FD) }, () => process.send({ orderflow: 'listening' }));
} else {
  server.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('listening'));
}
`;

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function scratch(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'orderflow-supervisor-'));
  writeFileSync(join(dir, 'fake.mjs'), fakeChild);
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function spec(dir: string, name: string, env: Record<string, string> = {}): Promise<ChildSpec> {
  const port = await freePort();
  return { name, script: join(dir, 'fake.mjs'), env: { PATH: process.env.PATH ?? '', PORT: String(port), ...env }, healthUrl: `http://127.0.0.1:${port}/health` };
}

test('a child killed with SIGKILL is restarted, counted, and healthy again', async (t) => {
  const dir = scratch(t);
  const events: string[] = [];
  const supervisor = createSupervisor({ stdio: 'ignore', log: (line) => events.push(line) });
  t.after(() => supervisor.stop());
  await supervisor.start(await spec(dir, 'orders'));
  const first = supervisor.pid('orders')!;
  assert.ok(first);

  supervisor.kill('orders');
  await until('a new orders process', () => supervisor.restarts('orders') === 1 && supervisor.pid('orders') !== undefined && supervisor.pid('orders') !== first);
  await supervisor.waitHealthy(10_000);
  assert.equal(alive(first), false);
  assert.match(events.join('\n'), /orders killed by SIGKILL; restart #1 at once/);
});

test('a crashed child is restarted at once, not after a backoff', async (t) => {
  const dir = scratch(t);
  // A backoff that would show: were the first crash delayed, it would be by 3 s.
  const supervisor = createSupervisor({ stdio: 'ignore', backoff: { initialMs: 3_000, maxMs: 3_000 } });
  t.after(() => supervisor.stop());
  await supervisor.start(await spec(dir, 'orders'));
  const first = supervisor.pid('orders')!;
  const killedAt = Date.now();
  supervisor.kill('orders');
  await until('a new orders process', () => supervisor.pid('orders') !== undefined && supervisor.pid('orders') !== first, 2_500);
  assert.ok(Date.now() - killedAt < 1_000, `respawned after ${Date.now() - killedAt} ms`);
  await supervisor.waitHealthy(10_000);
});

test('a child that keeps dying soon after its restarts backs off, doubling, and at once again once it lived long', async (t) => {
  const dir = scratch(t);
  const events: string[] = [];
  const supervisor = createSupervisor({ stdio: 'ignore', log: (line) => events.push(line), backoff: { initialMs: 300, maxMs: 600, resetAfterMs: 2_000 } });
  t.after(() => supervisor.stop());
  await supervisor.start(await spec(dir, 'payments'));
  const respawnTimes: number[] = [];
  for (let i = 1; i <= 4; i++) {
    const before = supervisor.pid('payments')!;
    const killedAt = Date.now();
    supervisor.kill('payments');
    await until(`restart #${i}`, () => supervisor.pid('payments') !== undefined && supervisor.pid('payments') !== before);
    respawnTimes.push(Date.now() - killedAt);
  }
  const lines = events.filter((l) => l.includes('restart #'));
  assert.match(lines[0], /restart #1 at once/);
  assert.match(lines[1], /restart #2 in 300 ms \(crash loop\)/);
  assert.match(lines[2], /restart #3 in 600 ms \(crash loop\)/);
  assert.match(lines[3], /restart #4 in 600 ms \(crash loop\)/, 'capped at maxMs');
  assert.ok(respawnTimes[1] >= 300 && respawnTimes[2] >= 600, `respawned after ${respawnTimes.join(', ')} ms`);

  // Lived longer than resetAfterMs: not a loop any more.
  await new Promise((r) => setTimeout(r, 2_100));
  const before = supervisor.pid('payments')!;
  supervisor.kill('payments');
  await until('restart #5', () => supervisor.pid('payments') !== undefined && supervisor.pid('payments') !== before);
  assert.match(events.filter((l) => l.includes('restart #')).at(-1)!, /restart #5 at once/);
});

test('a crashed child is started again after the delay asked for, not earlier, with a new pid', async (t) => {
  const dir = scratch(t);
  const events: string[] = [];
  const supervisor = createSupervisor({ stdio: 'ignore', log: (line) => events.push(line) });
  t.after(() => supervisor.stop());
  const childSpec = await spec(dir, 'payments');
  await supervisor.start(childSpec);
  const first = supervisor.pid('payments')!;

  // Watches for the new process, so the test sees the moment it appears, not when crash resolves.
  let respawnedAfterMs: number | undefined;
  const killedAt = Date.now();
  const watch = setInterval(() => {
    const pid = supervisor.pid('payments');
    if (respawnedAfterMs === undefined && pid !== undefined && pid !== first) respawnedAfterMs = Date.now() - killedAt;
  }, 5);
  t.after(() => clearInterval(watch));
  const back = supervisor.crash('payments', 1_500);
  await until('the old process to die', () => !alive(first));
  assert.equal(supervisor.pid('payments'), undefined);
  assert.equal(supervisor.restarts('payments'), 1, 'counted at the kill');

  await back;
  const healthyAfterMs = Date.now() - killedAt;
  assert.ok(respawnedAfterMs !== undefined && respawnedAfterMs >= 1_500, `restarted after ${respawnedAfterMs} ms; asked for 1500`);
  assert.ok(respawnedAfterMs < 1_500 + 1_000, `restarted after ${respawnedAfterMs} ms, long after the 1500 asked for`);
  assert.ok(healthyAfterMs >= respawnedAfterMs!);
  const second = supervisor.pid('payments')!;
  assert.ok(second && second !== first);
  assert.equal(await probe(childSpec.healthUrl), 200, 'healthy once crash resolves');
  assert.equal(supervisor.restarts('payments'), 1);
  assert.match(events.join('\n'), /payments killed by SIGKILL; restart #1 in \d+ ms, as asked/);
});

test('a kill with a restart time restarts the child even when the supervisor does not restart on its own', async (t) => {
  const dir = scratch(t);
  const supervisor = createSupervisor({ stdio: 'ignore', restart: false });
  t.after(() => supervisor.stop());
  await supervisor.start(await spec(dir, 'shipping'));
  const first = supervisor.pid('shipping')!;

  supervisor.kill('shipping', 'SIGKILL', { restartAfterMs: 100 });
  await until('a new shipping process', () => supervisor.pid('shipping') !== undefined && supervisor.pid('shipping') !== first);
  await supervisor.waitHealthy(10_000);
  assert.equal(supervisor.restarts('shipping'), 1);

  supervisor.kill('shipping');
  const second = supervisor.pid('shipping')!;
  await until('the second process to die', () => !alive(second));
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(supervisor.pid('shipping'), undefined, 'a plain kill is not restarted when restart is off');
});

test('a crash whose restart is still pending when the supervisor stops is rejected, and nothing restarts', async (t) => {
  const dir = scratch(t);
  const supervisor = createSupervisor({ stdio: 'ignore' });
  t.after(() => supervisor.stop());
  await supervisor.start(await spec(dir, 'inventory'));
  const rejected = assert.rejects(supervisor.crash('inventory', 60_000), (err) => isOrderflowError(err, 'PLT_ERR_CHILD_START_FAILED') && /stopped before its restart/.test(err.message));
  await supervisor.stop();
  await rejected;
  assert.equal(supervisor.pid('inventory'), undefined);
});

test('stop ends every child, is idempotent, and kills a child that ignores SIGTERM', async (t) => {
  const dir = scratch(t);
  const supervisor = createSupervisor({ stdio: 'ignore', stopTimeoutMs: 300 });
  t.after(() => supervisor.stop());
  await supervisor.start(await spec(dir, 'payments'));
  await supervisor.start(await spec(dir, 'stubborn', { IGNORE_SIGTERM: '1' }));
  const pids = [supervisor.pid('payments')!, supervisor.pid('stubborn')!];

  await Promise.all([supervisor.stop(), supervisor.stop()]);
  await supervisor.stop();
  assert.deepEqual(pids.map(alive), [false, false]);
  assert.equal(supervisor.restarts('payments'), 0, 'a stopped child is not restarted');
  assert.equal(supervisor.pid('payments'), undefined);
});

test('a child that cannot start is reported by name with its last output lines', async (t) => {
  const dir = scratch(t);
  const supervisor = createSupervisor({ stdio: 'ignore' });
  t.after(() => supervisor.stop());
  await assert.rejects(supervisor.start(await spec(dir, 'inventory', { FAIL_AT_START: '1' })), (err) => {
    assert.ok(isOrderflowError(err, 'PLT_ERR_CHILD_START_FAILED'));
    assert.match(err.message, /inventory did not start: exited with code 3/);
    assert.match(err.message, /disk on fire/);
    return true;
  });
  assert.equal(supervisor.restarts('inventory'), 0);
});

test('children exit when their supervisor is killed with SIGKILL', async (t) => {
  const dir = scratch(t);
  const supervisorUrl = new URL('./supervisor.ts', import.meta.url).href;
  const childSpec = await spec(dir, 'shipping');
  writeFileSync(join(dir, 'boss.ts'), `
    import { createSupervisor } from ${JSON.stringify(supervisorUrl)};
    const s = createSupervisor({ stdio: 'ignore' });
    await s.start(${JSON.stringify(childSpec)});
    console.log('child ' + s.pid('shipping'));
  `);
  const boss = spawn(process.execPath, [join(dir, 'boss.ts')], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => boss.kill('SIGKILL'));
  const line = await new Promise<string>((resolve) => createInterface({ input: boss.stdout! }).once('line', resolve));
  const childPid = Number(line.replace('child ', ''));
  assert.ok(alive(childPid));

  boss.kill('SIGKILL');
  await until('the orphaned child to exit', () => !alive(childPid));
});

test('pino lines are shown as time, level and message for a terminal', () => {
  const line = JSON.stringify({ level: 30, time: Date.parse('2026-01-01T10:11:12.345Z'), pid: 1, service: 'orders', msg: 'orders listening', port: 8081 });
  assert.equal(prettyLine(line), '10:11:12.345 INFO  orders listening port=8081');
  assert.equal(prettyLine('plain text'), 'plain text');
});

test('free ports asked together are distinct and can be listened on', async () => {
  const ports = await freePorts(20);
  assert.equal(new Set(ports).size, 20);
  for (const port of ports.slice(0, 3)) {
    const server = createServer();
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', resolve));
    await new Promise((resolve) => server.close(resolve));
  }
});

test('replace stops a child, starts it again and waits until it is healthy; not counted as a restart', async (t) => {
  const dir = scratch(t);
  const supervisor = createSupervisor({ stdio: 'ignore' });
  t.after(() => supervisor.stop());
  const s = await spec(dir, 'orders');
  await supervisor.start(s);
  const first = supervisor.pid('orders')!;
  const { stopMs, startMs } = await supervisor.replace('orders');
  assert.notEqual(supervisor.pid('orders'), first);
  assert.equal(alive(first), false);
  assert.equal(await probe(s.healthUrl), 200);
  assert.ok(stopMs >= 0 && startMs > 0);
  assert.equal(supervisor.restarts('orders'), 0);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(supervisor.pid('orders') !== undefined && alive(supervisor.pid('orders')!), true, 'the old process exiting did not start another');
});

test('a surge on a socket the supervisor holds: the new process starts beside the old, and no connection is refused meanwhile', async (t) => {
  const dir = scratch(t);
  const socket = bindListenSocket('127.0.0.1', 0);
  t.after(() => socket.close());
  const supervisor = createSupervisor({ stdio: 'ignore' });
  t.after(() => supervisor.stop());
  const url = `http://127.0.0.1:${socket.port}`;
  await supervisor.start({ name: 'gateway', script: join(dir, 'fake.mjs'), env: { PATH: process.env.PATH ?? '', LISTEN_FD: '4' }, healthUrl: url, fds: [socket.fd] });
  const first = supervisor.pid('gateway')!;
  // A new connection every few milliseconds, all through the surge.
  const answers: Array<number | undefined> = [];
  let running = true;
  const load = (async () => {
    while (running) {
      answers.push(await probe(url, 2_000));
      await new Promise((r) => setTimeout(r, 2));
    }
  })();
  await new Promise((r) => setTimeout(r, 100));
  await supervisor.replace('gateway', { surge: true });
  await new Promise((r) => setTimeout(r, 100));
  running = false;
  await load;
  assert.notEqual(supervisor.pid('gateway'), first);
  assert.equal(alive(first), false);
  assert.ok(answers.length > 20, `${answers.length} requests`);
  assert.deepEqual(answers.filter((a) => a !== 200), [], 'every connection answered');
});

test('a surge whose new process cannot start leaves the old one serving, still supervised', async (t) => {
  const dir = scratch(t);
  const socket = bindListenSocket('127.0.0.1', 0);
  t.after(() => socket.close());
  const supervisor = createSupervisor({ stdio: 'ignore', startTimeoutMs: 5_000 });
  t.after(() => supervisor.stop());
  const flag = join(dir, 'broken');
  const url = `http://127.0.0.1:${socket.port}`;
  await supervisor.start({ name: 'gateway', script: join(dir, 'fake.mjs'), env: { PATH: process.env.PATH ?? '', LISTEN_FD: '4', FAIL_IF_FILE: flag }, healthUrl: url, fds: [socket.fd] });
  const first = supervisor.pid('gateway')!;
  writeFileSync(flag, '');
  await assert.rejects(supervisor.replace('gateway', { surge: true }), (err) => isOrderflowError(err, 'PLT_ERR_CHILD_START_FAILED') && /disk on fire/.test(err.message));
  assert.equal(supervisor.pid('gateway'), first, 'the old process is the child again');
  assert.equal(await probe(url), 200);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(supervisor.pid('gateway'), first, 'and no restart replaced it');
});
