/**
 * Per-record bookkeeping of what the members of one Kafka consumer group were handed, and
 * what at-least-once delivery allows of it, stated precisely and checked record by record (a
 * Set of values would hide both duplicates and reordering).
 *
 * Deliveries are logged in the order the handlers are called; every member of the group runs
 * in this process, so one log orders them all, together with the offset commits the broker
 * acknowledged (seen on the client's diagnostics channel, nothing faked). Per partition:
 *  - continuation: a member handed offset o right after it was handed o-1 of the partition,
 *    with no other member handed the partition in between;
 *  - anything else is a (re)start of the partition at o (a new owner after a rebalance, or a
 *    stream resumed from the committed offsets), allowed only from where the group stands:
 *    o ≥ the highest offset whose commit was acknowledged before it (a replay of records
 *    nobody committed, never of committed ones) and o ≤ the highest offset handed out + 1
 *    (nothing skipped);
 *  - a duplicate is a record handed out at or below the highest offset handed out before it:
 *    it can only be part of such a replay, and is counted;
 *  - at the end every offset from 0 to the partition's end was handed out (none lost).
 * Order per key follows, as a key lives in one partition: each member handles a key's records
 * in offset order, and a replay only repeats a suffix of what was handed out; the first copy
 * of each record (what a consumer with an inbox applies) comes in offset order.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { consumerCommitsChannel } from '@platformatic/kafka';
import type { InRecord, PartitionPosition } from '#platform/bus/bus.ts';

interface Delivery {
  seq: number;
  member: string;
  partition: number;
  offset: bigint;
  key: string;
  value: string;
}

interface CommitEvent {
  options?: { offsets?: Array<{ topic: string; partition: number; offset: bigint }> };
  error?: unknown;
}

export interface DeliveryReport {
  /** Records handed out more than once (each extra copy counts one). */
  duplicates: number;
  /** Per partition, the offsets at which a member (re)started it, and the committed offset then. */
  restarts: Array<{ member: string; partition: number; offset: bigint; committed: bigint }>;
}

/** Watches one topic's deliveries and acknowledged offset commits (`topic` as the broker names it). */
export function deliveryLog(t: TestContext, topic: string) {
  let seq = 0;
  const deliveries: Delivery[] = [];
  const commits: Array<{ seq: number; partition: number; offset: bigint }> = [];
  const onCommit = (message: unknown) => {
    const event = message as CommitEvent;
    if (event.error) return;
    for (const o of event.options?.offsets ?? []) if (o.topic === topic) commits.push({ seq: seq++, partition: o.partition, offset: BigInt(o.offset) });
  };
  consumerCommitsChannel.asyncStart.subscribe(onCommit);
  t.after(() => consumerCommitsChannel.asyncStart.unsubscribe(onCommit));

  const committedBefore = (partition: number, at: number) =>
    commits.reduce((max, c) => (c.partition === partition && c.seq < at && c.offset > max ? c.offset : max), 0n);

  return {
    /** Call first thing in the handler of `member`. */
    add(member: string, batch: InRecord[]): void {
      for (const r of batch) deliveries.push({ seq: seq++, member, partition: r.partition, offset: BigInt(r.offset), key: r.key, value: r.value });
    },
    count: (member?: string) => deliveries.filter((d) => member === undefined || d.member === member).length,
    /** Distinct records handed out so far. */
    distinct: () => new Set(deliveries.map((d) => `${d.partition}:${d.offset}`)).size,
    deliveries: () => [...deliveries],
    /** Asserts the rules above against the partitions' end offsets; reports duplicates and restarts. */
    check(ends: bigint[]): DeliveryReport {
      const max = ends.map(() => -1n);
      const lastBy = new Map<string, bigint>();
      const lastMember = ends.map((): string | undefined => undefined);
      const report: DeliveryReport = { duplicates: 0, restarts: [] };
      for (const d of deliveries) {
        const p = d.partition;
        const at = `${d.member}:${p}`;
        const continues = lastMember[p] === d.member && lastBy.get(at) === d.offset - 1n;
        if (!continues) {
          const committed = committedBefore(p, d.seq);
          report.restarts.push({ member: d.member, partition: p, offset: d.offset, committed });
          assert.ok(d.offset <= max[p] + 1n, `partition ${p}: ${d.member} started at ${d.offset} while only up to ${max[p]} was handed out (records skipped)`);
          assert.ok(d.offset >= committed, `partition ${p}: ${d.member} started at ${d.offset}, below the committed offset ${committed} (a replay of committed records)`);
        }
        if (d.offset <= max[p]) report.duplicates++;
        else max[p] = d.offset;
        lastBy.set(at, d.offset);
        lastMember[p] = d.member;
      }
      ends.forEach((end, p) => assert.equal(max[p] + 1n, end, `partition ${p}: handed out up to ${max[p]} of ${end} records (records lost)`));
      return report;
    },
  };
}

/** The end offset of each partition, indexed by partition, from Bus.positions. */
export function endsOf(positions: PartitionPosition[]): bigint[] {
  const ends = positions.map(() => 0n);
  for (const p of positions) ends[p.partition] = BigInt(p.end);
  return ends;
}
