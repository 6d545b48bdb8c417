import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '#platform/log.ts';
import { recordingLogger } from '#test/support/log.ts';
import { kafkaSkip, uniqueName } from '#test/infra.ts';
import { Admin } from '@platformatic/kafka';
import { openKafkaBus } from './kafka/kafka-bus.ts';
import type { Bus, InRecord } from './bus.ts';
import { openEmbeddedLog } from './embedded/embedded-log.ts';
import { encode, newEnvelope } from './envelope.ts';
import { archiveFile, readArchive } from './archive.ts';
import { ARCHIVE_GROUP, startArchiveSink } from './archive-sink.ts';

const child = fileURLToPath(new URL('../../../test/support/archive-sink-child.ts', import.meta.url));

function setup(t: TestContext) {
  const root = mkdtempSync(join(tmpdir(), 'archive-sink-'));
  const file = join(root, 'bus.sqlite');
  const dir = join(root, 'archive');
  const closers: Array<() => Promise<unknown>> = [];
  t.after(async () => {
    for (const c of closers.reverse()) await c();
    rmSync(root, { recursive: true, force: true });
  });
  const open = (): Bus => {
    const bus = openEmbeddedLog({ file, log: silentLogger });
    closers.push(() => bus.close());
    return bus;
  };
  return { file, dir, open, defer: (fn: () => Promise<unknown>) => closers.push(fn) };
}

const records = (topic: string, n: number, keys = 7) =>
  Array.from({ length: n }, (_, i) => encode(topic, newEnvelope({ type: 'Counted', key: `k${i % keys}`, payload: { i } })));

async function archivedIds(dir: string, topic: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const e of readArchive(dir, topic)) ids.push(e.id);
  return ids;
}

async function until(what: string, cond: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const idOf = (r: InRecord) => JSON.parse(r.value).id as string;

test('records in, lines out: each record once, each partition in the log\'s order, one file per topic', async (t) => {
  const s = setup(t);
  const bus = s.open();
  await bus.ensureTopics([{ name: 'a.events', partitions: 4 }, { name: 'b.events', partitions: 2 }]);
  const sink = await startArchiveSink({ bus, topics: ['a.events', 'b.events'], dir: s.dir, log: silentLogger });
  s.defer(() => sink.close());
  await bus.publish(records('a.events', 300));
  await bus.publish(records('b.events', 40));
  await until('the archive to hold every record', async () => (await archivedIds(s.dir, 'a.events')).length === 300 && (await archivedIds(s.dir, 'b.events')).length === 40);

  for (const topic of ['a.events', 'b.events']) {
    const inLog = await bus.read(topic, { limit: 10_000 });
    const lines = readFileSync(archiveFile(s.dir, topic), 'utf8').split('\n');
    assert.equal(lines.pop(), '', 'every line ends with its newline');
    assert.deepEqual(lines, lines.filter((l) => inLog.some((r) => r.value === l)), 'each line is a record value as the bus holds it');
    const position = new Map(lines.map((l, i) => [JSON.parse(l).id as string, i]));
    assert.equal(position.size, inLog.length, `${topic}: one line per record`);
    for (const partition of new Set(inLog.map((r) => r.partition))) {
      const ofPartition = inLog.filter((r) => r.partition === partition).sort((x, y) => Number(x.offset) - Number(y.offset)).map(idOf);
      const inFile = [...ofPartition].sort((x, y) => position.get(x)! - position.get(y)!);
      assert.deepEqual(inFile, ofPartition, `${topic} partition ${partition}: the log's order`);
    }
  }
  await sink.close();
  assert.equal(await bus.lag(ARCHIVE_GROUP, ['a.events', 'b.events']), 0, 'closing commits what was written');
});

test('kill -9 while writing: no record lost; the duplicates are records the group had not committed', async (t) => {
  const s = setup(t);
  const bus = s.open();
  await bus.ensureTopics([{ name: 'orders.events', partitions: 4 }]);
  const proc = spawn(process.execPath, [child, s.file, s.dir, 'orders.events', '300'], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => proc.kill('SIGKILL'));
  await new Promise<void>((resolve, reject) => {
    proc.stdout.on('data', (d: Buffer) => String(d).includes('joined') && resolve());
    proc.on('exit', (code) => reject(new Error(`the sink's process exited (${code}) before joining`)));
  });
  // A steady stream, the sink killed in the middle of it (however slow the machine): some
  // offsets committed, a tail written but not committed; then more records after the kill.
  let published = 0;
  let killed = false;
  while (!killed) {
    await bus.publish(records('orders.events', 50));
    published += 50;
    if ((await archivedIds(s.dir, 'orders.events')).length >= 1500) {
      proc.kill('SIGKILL');
      await new Promise((r) => proc.once('exit', r));
      killed = true;
    }
    if (published > 50_000) assert.fail('the sink does not keep up at all');
    await new Promise((r) => setTimeout(r, 5));
  }
  await bus.publish(records('orders.events', 500));
  const total = published + 500;
  const committed = new Map((await bus.positions(['orders.events'], ARCHIVE_GROUP)).map((p) => [p.partition, p.committed ?? 0]));
  const before = await archivedIds(s.dir, 'orders.events');

  const sink = await startArchiveSink({ bus, topics: ['orders.events'], dir: s.dir, log: silentLogger });
  s.defer(() => sink.close());
  await until('the restarted sink to catch up', async () => (await archivedIds(s.dir, 'orders.events')).length === total);

  const inLog = await bus.read('orders.events', { limit: 10_000 });
  const reader = readArchive(s.dir, 'orders.events');
  const ids: string[] = [];
  for await (const e of reader) ids.push(e.id);
  assert.deepEqual(new Set(ids), new Set(inLog.map(idOf)), 'every record archived, nothing else');
  const uncommitted = new Set(inLog.filter((r) => Number(r.offset) >= committed.get(r.partition)!).map(idOf));
  const lines = readFileSync(archiveFile(s.dir, 'orders.events'), 'utf8').split('\n').filter(Boolean);
  const counts = new Map<string, number>();
  for (const l of lines) {
    try {
      const id = JSON.parse(l).id as string;
      counts.set(id, (counts.get(id) ?? 0) + 1);
    } catch {
      // a torn line, counted by the reader
    }
  }
  const repeated = [...counts].filter(([, n]) => n > 1).map(([id]) => id);
  // Redelivery starts at the committed offsets: what the killed sink wrote past them, and only that, is written twice.
  assert.deepEqual(new Set(repeated), new Set(before.filter((id) => uncommitted.has(id))), 'the repeats are exactly the uncommitted tail the killed sink had written');
  assert.equal(Math.max(...counts.values()), repeated.length > 0 ? 2 : 1, 'no record more than twice');
  assert.equal(reader.stats.duplicates, repeated.length);
  assert.equal(reader.stats.distinct, total);
});

test('a torn last line: the sink ends it with a newline before appending; the reader skips the fragment and counts it', async (t) => {
  const s = setup(t);
  const bus = s.open();
  await bus.ensureTopics([{ name: 'orders.events', partitions: 2 }]);
  const [first, ...rest] = records('orders.events', 21);
  await bus.publish([first]);
  const { log, warnings } = recordingLogger();
  let sink = await startArchiveSink({ bus, topics: ['orders.events'], dir: s.dir, log });
  await until('the first record', async () => (await archivedIds(s.dir, 'orders.events')).length === 1);
  await sink.close();
  // A crash mid-write: half of a record's line, no newline.
  const torn = rest[0].value.slice(0, 40);
  appendFileSync(archiveFile(s.dir, 'orders.events'), torn);
  const reader = readArchive(s.dir, 'orders.events');
  for await (const _ of reader) {
    // counting
  }
  assert.deepEqual(reader.stats, { lines: 2, distinct: 1, duplicates: 0, torn: 1 }, 'the torn last line is skipped, counted, not thrown');

  sink = await startArchiveSink({ bus, topics: ['orders.events'], dir: s.dir, log });
  s.defer(() => sink.close());
  await bus.publish(rest);
  await until('every record', async () => (await archivedIds(s.dir, 'orders.events')).length === 21);
  const lines = readFileSync(archiveFile(s.dir, 'orders.events'), 'utf8').split('\n');
  assert.equal(lines[1], torn, 'the fragment stays a line of its own');
  assert.equal(warnings.length, 1, 'the repair is logged');
  const after = readArchive(s.dir, 'orders.events');
  const ids: string[] = [];
  for await (const e of after) ids.push(e.id);
  assert.deepEqual(ids.sort(), [first, ...rest].map((r) => JSON.parse(r.value).id).sort());
  assert.deepEqual(after.stats, { lines: 22, distinct: 21, duplicates: 0, torn: 1 });
});

test('on Kafka without a Connect worker the same sink writes the same files', { skip: kafkaSkip(), timeout: 120_000 }, async (t) => {
  const namespace = uniqueName('arcsink').toLowerCase();
  const brokers = (process.env.KAFKA_BROKERS ?? '').split(',');
  const dir = mkdtempSync(join(tmpdir(), 'archive-sink-kafka-'));
  const bus = await openKafkaBus({ brokers, clientId: 'archive-sink-test', namespace });
  let sink: Awaited<ReturnType<typeof startArchiveSink>> | undefined;
  t.after(async () => {
    await sink?.close();
    const admin = new Admin({ clientId: 'archive-sink-cleanup', bootstrapBrokers: brokers });
    await admin.deleteTopics({ topics: [`${namespace}.orders.events`] }).catch(() => {});
    await admin.deleteGroups({ groups: [`${namespace}.${ARCHIVE_GROUP}`] }).catch(() => {});
    await admin.close();
    await bus.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await bus.ensureTopics([{ name: 'orders.events', partitions: 3 }]);
  const sent = records('orders.events', 90);
  await bus.publish(sent.slice(0, 60));
  sink = await startArchiveSink({ bus, topics: ['orders.events'], dir, log: silentLogger });
  await bus.publish(sent.slice(60));
  await until('every record', async () => (await archivedIds(dir, 'orders.events')).length === 90, 60_000);
  assert.deepEqual(new Set(await archivedIds(dir, 'orders.events')), new Set(sent.map((r) => JSON.parse(r.value).id)));
  await sink.close();
  assert.equal(await bus.lag(ARCHIVE_GROUP, ['orders.events']), 0, 'closing commits what was written');
});
