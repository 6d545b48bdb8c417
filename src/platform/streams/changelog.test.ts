import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Bus, InRecord } from '#platform/bus/bus.ts';
import { embeddedBus, event } from '#test/support/streams.ts';
import { windowedAggregate } from './aggregate.ts';
import { changelogRecords, changelogTopic, restoreTask } from './changelog.ts';
import { input } from './processor.ts';
import { createTask, type Task } from './task.ts';
import { count, tumbling } from './windows.ts';

const APP = 'fence';
const spec = input({ topic: 'in', decode: (r) => JSON.parse(r.value) as { t: number }, time: (e) => e.t });
const operators = [windowedAggregate({ name: 'n', topics: ['in'], windows: tumbling(1_000_000), aggregator: count(), output: 'out' })];
const newTask = () => createTask({ app: APP, partition: 0, operators, inputOf: () => spec });

let offset = 0;
const records = (n: number): InRecord[] =>
  Array.from({ length: n }, () => ({ ...event('in', 0, 'k', { t: offset }), partition: 0, offset: String(offset++) }));

/** Processes `n` new input records in `task` and writes its batch as the processor does. */
async function batch(bus: Bus, task: Task, gen: number, n: number): Promise<void> {
  const { outputs, changes } = task.process(records(n).map((r) => task.read('in', r)));
  await bus.publish(changelogRecords(APP, 0, gen, changes, task.position, outputs));
}

const countOf = (task: Task) => (task.stores().get('n')!.get('0|k') as { value: number } | undefined)?.value;

test('a task fenced by a later claim (a zombie) writes in vain: a restore ignores its late batch', async (t) => {
  const { bus } = embeddedBus(t);
  await bus.ensureTopics([{ name: changelogTopic(APP), partitions: 1, compact: true }]);
  // Given the owner A, which processed 3 records
  const a = newTask();
  const genA = (await restoreTask(bus, APP, a, 'a')).gen;
  await batch(bus, a, genA, 3);
  // When B takes the partition over (restores and claims) while A still finishes a batch of 5
  const b = newTask();
  const genB = (await restoreTask(bus, APP, b, 'b')).gen;
  assert.ok(genB > genA);
  assert.equal(countOf(b), 3);
  await batch(bus, a, genA, 5);
  offset -= 5; // B is handed the same 5 records (the group had not committed them)
  await batch(bus, b, genB, 5);
  await batch(bus, a, genA, 2); // and A, still a zombie, one more
  // Then a later restore sees B's state only
  const c = newTask();
  const restored = await restoreTask(bus, APP, c, 'c');
  assert.equal(countOf(c), 8);
  assert.equal(c.position.positions.in, 8);
  assert.equal(restored.ignored, 2 * 3, "A's two late batches (the window's value, its output in the outbox and the marker each) were ignored");
});

test('what a zombie wrote before the new claim holds: the new owner reads it like any record', async (t) => {
  const { bus } = embeddedBus(t);
  await bus.ensureTopics([{ name: changelogTopic(APP), partitions: 1, compact: true }]);
  offset = 0;
  const a = newTask();
  const genA = (await restoreTask(bus, APP, a, 'a2')).gen;
  await batch(bus, a, genA, 4);
  const b = newTask();
  const r = await restoreTask(bus, APP, b, 'b2');
  assert.equal(r.ignored, 0);
  assert.equal(countOf(b), 4);
  assert.equal(b.position.positions.in, 4);
  assert.equal(r.read, 2 + 3, "two claims, and A's batch: the window's value, its output, the marker");
});
