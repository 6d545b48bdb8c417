import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { partitionFor, type Bus, type InRecord, type OutRecord } from '#platform/bus/bus.ts';
import { isOrderflowError } from '#platform/errors.ts';
import { openEmbeddedLog } from './embedded-log.ts';

const quiet = { warn() {} };

/** Cleanups run last-in first-out (t.after runs hooks in order), so subscriptions close before their log, and the log before its directory goes. */
function cleanups(t: TestContext): (fn: () => unknown) => void {
  const stack: Array<() => unknown> = [];
  t.after(async () => {
    for (const fn of stack.reverse()) await fn();
  });
  return (fn) => void stack.push(fn);
}

/** A fresh file in its own temp dir, and `open`/`defer` bound to the test's cleanups. */
function setup(t: TestContext) {
  const defer = cleanups(t);
  const dir = mkdtempSync(join(tmpdir(), 'embedded-log-'));
  defer(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'bus.sqlite');
  const open = (log: { warn(...a: unknown[]): void } = quiet, commitIntervalMs?: number): Bus => {
    const bus = openEmbeddedLog({ file, log, commitIntervalMs });
    defer(() => bus.close());
    return bus;
  };
  return { file, open, defer };
}

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const rec = (topic: string, key: string, value: string): OutRecord => ({ topic, key, value, headers: { type: 'T' } });

/** A key for each partition, so tests can aim at partitions. */
function keysByPartition(partitions: number): string[] {
  const keys: string[] = [];
  for (let i = 0; keys.filter(Boolean).length < partitions; i++) {
    const p = partitionFor(`k${i}`, partitions);
    keys[p] ??= `k${i}`;
  }
  return keys;
}

test('records of one key arrive in publish order, in batches of consecutive offsets of one partition', async (t) => {
  const { open, defer } = setup(t);
  const bus = open();
  await bus.ensureTopics([{ name: 'orders', partitions: 4 }]);
  for (let i = 0; i < 100; i += 10) {
    await bus.publish(Array.from({ length: 10 }, (_, j) => rec('orders', 'order-1', String(i + j))));
  }
  const seen: string[] = [];
  const sub = await bus.subscribe({
    groupId: 'g',
    topics: ['orders'],
    maxBatch: 7,
    async handle(batch) {
      assert.ok(batch.length <= 7);
      for (let i = 1; i < batch.length; i++) {
        assert.equal(batch[i].partition, batch[0].partition);
        assert.equal(Number(batch[i].offset), Number(batch[i - 1].offset) + 1);
      }
      seen.push(...batch.map((r) => r.value));
    },
  });
  defer(() => sub.close());
  await waitFor('100 records', () => seen.length >= 100);
  assert.deepEqual(seen, Array.from({ length: 100 }, (_, i) => String(i)));
  await waitFor('the offsets committed', async () => (await bus.lag('g', ['orders'])) === 0);
});

test('offsets of handled batches are committed later, all partitions together, and at close', async (t) => {
  const { open, defer } = setup(t);
  const bus = open(quiet, 60_000);
  await bus.ensureTopics([{ name: 'orders', partitions: 4 }]);
  await bus.publish(Array.from({ length: 40 }, (_, i) => rec('orders', `k${i}`, String(i))));
  let handled = 0;
  const sub = await bus.subscribe({ groupId: 'g', topics: ['orders'], maxBatch: 3, handle: async (b) => void (handled += b.length) });
  await waitFor('40 records', () => handled === 40);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(await bus.lag('g', ['orders']), 40, 'handled, not committed yet: the interval has not passed');
  await sub.close();
  assert.equal(await bus.lag('g', ['orders']), 0, 'closing committed every handled batch');
  const again: string[] = [];
  const next = await bus.subscribe({ groupId: 'g', topics: ['orders'], handle: async (b) => void again.push(...b.map((r) => r.value)) });
  defer(() => next.close());
  await new Promise((r) => setTimeout(r, 150));
  assert.deepEqual(again, [], 'a new member starts after what was handled');
});

test('a slow handler on one partition does not hold another partition', async (t) => {
  const { open, defer } = setup(t);
  const bus = open();
  await bus.ensureTopics([{ name: 'orders', partitions: 2 }]);
  const [k0, k1] = keysByPartition(2);
  let release!: () => void;
  const otherDone = new Promise<void>((r) => (release = r));
  const handled: number[] = [];
  const sub = await bus.subscribe({
    groupId: 'g',
    topics: ['orders'],
    async handle(batch) {
      // Partition 0 waits for partition 1: were partitions serial, this would never finish.
      if (batch[0].partition === 0) await otherDone;
      handled.push(batch[0].partition);
      if (batch[0].partition === 1) release();
    },
  });
  defer(() => sub.close());
  await bus.publish([rec('orders', k0, 'a')]);
  await bus.publish([rec('orders', k1, 'b')]);
  await waitFor('both partitions', () => handled.length === 2);
  assert.deepEqual(handled, [1, 0]);
});

test('a group resumes at its committed offset after close, also from another connection to the file', async (t) => {
  const { file, open, defer } = setup(t);
  const bus = open();
  await bus.ensureTopics([{ name: 'orders', partitions: 3 }]);
  const collect = async (b: Bus, into: string[]) =>
    b.subscribe({ groupId: 'g', topics: ['orders'], handle: async (batch) => void into.push(...batch.map((r) => r.value)) });

  await bus.publish(['a', 'b', 'c'].map((v) => rec('orders', v, v)));
  const first: string[] = [];
  const s1 = await collect(bus, first);
  await waitFor('first records', () => first.length === 3);
  await s1.close();

  await bus.publish(['d', 'e'].map((v) => rec('orders', v, v)));
  const second: string[] = [];
  const s2 = await collect(bus, second);
  await waitFor('records after the reopen', () => second.length === 2);
  await s2.close();
  assert.deepEqual(second.sort(), ['d', 'e']);

  await bus.publish(['f'].map((v) => rec('orders', v, v)));
  const other = open();
  const third: string[] = [];
  const s3 = await collect(other, third);
  defer(() => s3.close());
  await waitFor('records on the other connection', () => third.length === 1);
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(third, ['f']);
});

test('a rejected batch is delivered again and not committed meanwhile', async (t) => {
  const { open, defer } = setup(t);
  const bus = open();
  await bus.ensureTopics([{ name: 'orders', partitions: 1 }]);
  await bus.publish(['a', 'b', 'c'].map((v) => rec('orders', 'k', v)));
  const deliveries: InRecord[][] = [];
  const sub = await bus.subscribe({
    groupId: 'g',
    topics: ['orders'],
    async handle(batch) {
      deliveries.push(batch);
      if (deliveries.length === 1) throw new Error('boom');
    },
  });
  defer(() => sub.close());
  await waitFor('the failed delivery', () => deliveries.length === 1);
  assert.equal(await bus.lag('g', ['orders']), 3);
  await waitFor('the redelivery', () => deliveries.length === 2);
  assert.deepEqual(deliveries[1], deliveries[0]);
  await waitFor('the commit', async () => (await bus.lag('g', ['orders'])) === 0);
});

test('a second member of the same group fences the first', async (t) => {
  const { open, defer } = setup(t);
  const warnings: unknown[][] = [];
  const zombie = open({ warn: (...a: unknown[]) => void warnings.push(a) });
  await zombie.ensureTopics([{ name: 'orders', partitions: 2 }]);
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const zombieSeen: string[] = [];
  const s1 = await zombie.subscribe({
    groupId: 'g',
    topics: ['orders'],
    async handle(batch) {
      zombieSeen.push(...batch.map((r) => r.value));
      await gate;
    },
  });
  defer(() => s1.close());
  await zombie.publish([rec('orders', 'k', 'r1')]);
  await waitFor('the zombie to hold r1', () => zombieSeen.length === 1);

  const fresh = open();
  const freshSeen: string[] = [];
  const s2 = await fresh.subscribe({ groupId: 'g', topics: ['orders'], handle: async (b) => void freshSeen.push(...b.map((r) => r.value)) });
  defer(() => s2.close());
  release(); // the zombie finishes r1, but its commit is refused

  await waitFor('the new member to get r1', () => freshSeen.includes('r1'));
  await zombie.publish([rec('orders', 'k', 'r2'), rec('orders', 'other', 'r3')]);
  await waitFor('the new member to get r2 and r3', () => freshSeen.length === 3);
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(zombieSeen, ['r1']);
  assert.ok(warnings.some((w) => String(w[1]).includes('newer member')), 'the zombie says it was fenced');
  assert.equal(await fresh.lag('g', ['orders']), 0);
});

test('lag counts the records the group has not committed', async (t) => {
  const { open, defer } = setup(t);
  const bus = open();
  await bus.ensureTopics([{ name: 'orders', partitions: 1 }, { name: 'payments', partitions: 3 }]);
  await bus.publish(Array.from({ length: 10 }, (_, i) => rec('orders', 'k', String(i))));
  await bus.publish(['x', 'y'].map((v) => rec('payments', v, v)));
  assert.equal(await bus.lag('never-subscribed', ['orders', 'payments']), 12);

  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let handled = 0;
  const sub = await bus.subscribe({
    groupId: 'g',
    topics: ['orders'],
    maxBatch: 4,
    async handle(batch) {
      if (Number(batch[0].offset) >= 4) await gate;
      handled += batch.length;
    },
  });
  defer(() => sub.close());
  await waitFor('the first commit', async () => (await bus.lag('g', ['orders'])) === 6);
  assert.equal(handled, 4);
  release();
  await waitFor('the rest', async () => (await bus.lag('g', ['orders'])) === 0);
});

test('subscribers in different groups each get every record', async (t) => {
  const { open, defer } = setup(t);
  const bus = open();
  await bus.ensureTopics([{ name: 'orders', partitions: 4 }]);
  const seen: Record<string, string[]> = { a: [], b: [] };
  for (const g of ['a', 'b']) {
    const sub = await bus.subscribe({ groupId: g, topics: ['orders'], handle: async (b) => void seen[g].push(...b.map((r) => r.value)) });
    defer(() => sub.close());
  }
  const values = Array.from({ length: 40 }, (_, i) => String(i));
  await bus.publish(values.map((v) => rec('orders', `key-${v}`, v)));
  await waitFor('both groups', () => seen.a.length === 40 && seen.b.length === 40);
  assert.deepEqual(seen.a.sort(), [...values].sort());
  assert.deepEqual(seen.b.sort(), [...values].sort());
});

test('a record published by another process reaches a subscriber in this one', async (t) => {
  const { file, open, defer } = setup(t);
  const bus = open();
  await bus.ensureTopics([{ name: 'orders', partitions: 2 }]);
  const seen: InRecord[] = [];
  const sub = await bus.subscribe({ groupId: 'g', topics: ['orders'], handle: async (b) => void seen.push(...b) });
  defer(() => sub.close());

  const module = fileURLToPath(new URL('./embedded-log.ts', import.meta.url));
  const script = `
    import { openEmbeddedLog } from ${JSON.stringify(module)};
    const bus = openEmbeddedLog({ file: ${JSON.stringify(file)} });
    await bus.ensureTopics([{ name: 'orders', partitions: 2 }]);
    await bus.publish([{ topic: 'orders', key: 'from-child', value: 'hello', headers: { pid: String(process.pid) } }]);
    await bus.close();`;
  const child = spawn(join(process.cwd(), 'node_modules/.bin/node'), ['--input-type=module', '-e', script], { stdio: ['ignore', 'inherit', 'inherit'] });
  const code = await new Promise((resolve) => child.on('exit', resolve));
  assert.equal(code, 0);
  await waitFor('the record from the child', () => seen.length === 1);
  assert.equal(seen[0].value, 'hello');
  assert.equal(seen[0].key, 'from-child');
  assert.equal(seen[0].partition, partitionFor('from-child', 2));
  assert.equal(seen[0].headers.pid, String(child.pid));
});

test('publishing to an unknown topic fails with PLT_ERR_UNKNOWN_TOPIC and writes nothing', async (t) => {
  const { open, defer } = setup(t);
  const bus = open();
  await bus.ensureTopics([{ name: 'orders', partitions: 1 }]);
  await assert.rejects(bus.publish([rec('orders', 'k', 'a'), rec('nope', 'k', 'b')]), (err) => isOrderflowError(err, 'PLT_ERR_UNKNOWN_TOPIC'));
  assert.deepEqual(await bus.read('orders'), []);
});

test('ensureTopics leaves an existing topic as it is and read lists records from the start', async (t) => {
  const { open, defer } = setup(t);
  const bus = open();
  await bus.ensureTopics([{ name: 'orders.dlq', partitions: 2 }]);
  await bus.ensureTopics([{ name: 'orders.dlq', partitions: 8 }]);
  await bus.publish([rec('orders.dlq', 'a', '1'), rec('orders.dlq', 'b', '2'), rec('orders.dlq', 'c', '3')]);
  const all = await bus.read('orders.dlq');
  assert.equal(all.length, 3);
  assert.ok(all.every((r) => r.partition < 2 && r.topic === 'orders.dlq' && r.headers.type === 'T'));
  assert.equal((await bus.read('orders.dlq', { limit: 2 })).length, 2);
});

test('a replica (another instance) stands by, and takes the topic over within a heartbeat when the owner leaves cleanly', async (t) => {
  const { file, defer } = setup(t);
  const openAs = (instance: string) => {
    const bus = openEmbeddedLog({ file, log: quiet, instance, sessionMs: 60_000 });
    defer(() => bus.close());
    return bus;
  };
  const one = openAs('orders-1');
  await one.ensureTopics([{ name: 'orders', partitions: 2 }]);
  const seen: Record<string, string[]> = { one: [], two: [] };
  const s1 = await one.subscribe({ groupId: 'g', topics: ['orders'], handle: async (b) => void seen.one.push(...b.map((r) => r.value)) });
  const two = openAs('orders-2');
  const s2 = await two.subscribe({ groupId: 'g', topics: ['orders'], handle: async (b) => void seen.two.push(...b.map((r) => r.value)) });
  defer(() => s2.close());
  assert.ok(s1.joined() && s2.joined(), 'both are members: one owns, one stands by');

  await one.publish([rec('orders', 'k', 'r1'), rec('orders', 'other', 'r2')]);
  await waitFor('the owner to get r1 and r2', () => seen.one.length === 2);
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(seen.two, [], 'the standby delivers nothing while the owner lives');

  await s1.close();
  await one.publish([rec('orders', 'k', 'r3')]);
  // The standby checks every heartbeat (min(3 s, session / 3)).
  await waitFor('the standby to take over and get r3', () => seen.two.includes('r3'), 5_000);
  assert.deepEqual(seen.two, ['r3'], 'it resumes at the owner\'s committed offsets');
  await waitFor('the new owner to commit', async () => (await two.lag('g', ['orders'])) === 0);
});

test('a standby takes over once the owner, killed with SIGKILL, misses its session; the zombie of an instance is fenced by its restart', async (t) => {
  const { file, defer } = setup(t);
  const bus = openEmbeddedLog({ file, log: quiet, instance: 'orders-2', sessionMs: 600 });
  defer(() => bus.close());
  await bus.ensureTopics([{ name: 'orders', partitions: 2 }]);

  // orders-1 in a child process owns the topic, then dies without leaving.
  const module = fileURLToPath(new URL('./embedded-log.ts', import.meta.url));
  const script = `
    import { openEmbeddedLog } from ${JSON.stringify(module)};
    const bus = openEmbeddedLog({ file: ${JSON.stringify(file)}, instance: 'orders-1', sessionMs: 600 });
    await bus.subscribe({ groupId: 'g', topics: ['orders'], handle: async (b) => { for (const r of b) console.log(r.value); } });
    console.log('subscribed');`;
  const child = spawn(join(process.cwd(), 'node_modules/.bin/node'), ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const childSeen: string[] = [];
  child.stdout!.setEncoding('utf8').on('data', (d: string) => childSeen.push(...d.split('\n').filter(Boolean)));
  const exited = new Promise((resolve) => child.on('exit', resolve));
  defer(() => child.kill('SIGKILL'));
  await waitFor('the child to own the topic', () => childSeen.includes('subscribed'));

  const seen: string[] = [];
  const standby = await bus.subscribe({ groupId: 'g', topics: ['orders'], handle: async (b) => void seen.push(...b.map((r) => r.value)) });
  defer(() => standby.close());
  await bus.publish([rec('orders', 'k', 'r1')]);
  await waitFor('the owner in the child to get r1', () => childSeen.includes('r1'));
  assert.equal(seen.length, 0, 'the standby delivers nothing while the owner lives');

  child.kill('SIGKILL');
  await exited;
  const killedAt = Date.now();
  await bus.publish([rec('orders', 'k', 'r2')]);
  await waitFor('the standby to take over', () => seen.includes('r2'), 5_000);
  assert.ok(Date.now() - killedAt < 3_000, `took over after ${Date.now() - killedAt} ms with a 600 ms session`);

  // orders-2 restarted while its old process still runs: the new one takes over at once, the old one is fenced.
  const restarted = openEmbeddedLog({ file, log: quiet, instance: 'orders-2', sessionMs: 600 });
  defer(() => restarted.close());
  const restartedSeen: string[] = [];
  const s = await restarted.subscribe({ groupId: 'g', topics: ['orders'], handle: async (b) => void restartedSeen.push(...b.map((r) => r.value)) });
  defer(() => s.close());
  await bus.publish([rec('orders', 'k', 'r3')]);
  await waitFor('the restarted instance to get r3', () => restartedSeen.includes('r3'));
  await new Promise((r) => setTimeout(r, 300));
  assert.ok(!seen.includes('r3'), 'the zombie stops delivering');
});
