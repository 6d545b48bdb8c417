/**
 * Given/when/then helpers for the stream processor's tests: a real bus (the embedded log in a
 * temp dir, or Kafka), input records aimed at partitions, waiting for a processor to catch up,
 * and the output topics read back as a table (last value per key).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { Bus, InRecord, OutRecord } from '#platform/bus/bus.ts';
import { openEmbeddedLog, type EmbeddedLog } from '#platform/bus/embedded/embedded-log.ts';
import type { TrimOptions } from '#platform/bus/embedded/trim.ts';
import { silentLogger } from '#platform/log.ts';
import type { Processor } from '#platform/streams/processor.ts';
import { SOURCE_HEADER } from '#platform/streams/task.ts';

/** A fresh embedded log (with a trim when `retention` is given), closed and removed after the test. */
export function embeddedBus(t: TestContext, retention?: TrimOptions): { bus: EmbeddedLog; file: string; reopen(): EmbeddedLog } {
  const dir = mkdtempSync(join(tmpdir(), 'streams-'));
  const file = join(dir, 'bus.sqlite');
  const opened: Bus[] = [];
  const open = () => {
    const bus = openEmbeddedLog({ file, log: silentLogger, commitIntervalMs: 20, pollMs: 2, retention });
    opened.push(bus);
    return bus;
  };
  t.after(async () => {
    for (const b of opened.reverse()) await b.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { bus: open(), file, reopen: open };
}

/** An input event: what the tests' decoders read. */
export interface Event {
  /** Event time, ms. */
  t: number;
  [field: string]: unknown;
}

/** A record of `topic` for partition `partition`, keyed `key`. */
export function event(topic: string, partition: number, key: string, e: Event): OutRecord {
  return { topic, key, value: JSON.stringify(e), headers: {}, toPartition: partition };
}

export const decodeEvent = (r: InRecord): Event | undefined => {
  try {
    return JSON.parse(r.value) as Event;
  } catch {
    return undefined;
  }
};

export async function until(what: string, check: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Waits until the group `app` has committed everything of `topics`. */
export async function caughtUp(bus: Bus, app: string, topics: string[], ms = 30_000): Promise<void> {
  await until(`${app} caught up on ${topics.join(', ')}`, async () => (await bus.lag(app, topics)) === 0, ms);
}

/** The output topic as a table: the last value per key (JSON-decoded). */
export async function table<V = unknown>(bus: Bus, topic: string): Promise<Map<string, V>> {
  const out = new Map<string, V>();
  const positions = await bus.positions([topic]);
  const records: InRecord[] = [];
  for (const p of positions) {
    for (let from = 0; from < p.end; ) {
      const page = await bus.readPartition(topic, p.partition, { from });
      records.push(...page.records);
      from = page.next;
      if (page.next >= page.end) break;
    }
  }
  // Per partition in offset order: the last record of a key is its current value.
  for (const r of records) out.set(r.key, JSON.parse(r.value) as V);
  return out;
}

/** Every record of an output topic with its source position, for counting duplicates. */
export async function outputs(bus: Bus, topic: string): Promise<Array<{ key: string; value: unknown; source: string }>> {
  const all: Array<{ key: string; value: unknown; source: string }> = [];
  for (const p of await bus.positions([topic])) {
    const page = await bus.readPartition(topic, p.partition, { limit: 1_000_000 });
    for (const r of page.records) all.push({ key: r.key, value: JSON.parse(r.value), source: r.headers[SOURCE_HEADER] });
  }
  return all;
}

/** Closes a processor after the test (idempotent with an earlier close). */
export function closing(t: TestContext, p: Processor): Processor {
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await p.close();
  };
  t.after(close);
  return { groups: p.groups, stats: () => p.stats(), close };
}
