import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClusterMetadata, ExtendedGroupProtocolSubscription } from '@platformatic/kafka';
import { copartitionedAssigner } from './kafka-subscription.ts';

test('the co-partitioned assignor gives partition p of every topic to the same member, where round robin would split them', () => {
  const members = new Map<string, ExtendedGroupProtocolSubscription>(['m-c', 'm-a', 'm-b'].map((memberId) => [memberId, { memberId, version: 0 } as ExtendedGroupProtocolSubscription]));
  const metadata = { topics: new Map([['views', { partitionsCount: 4 }], ['orders', { partitionsCount: 4 }]]) } as unknown as ClusterMetadata;
  const out = copartitionedAssigner('m-a', members, new Set(['views', 'orders']), metadata);
  const owner = new Map<string, string>();
  for (const m of out) for (const a of m.assignments.values()) for (const p of a.partitions) owner.set(`${a.topic}:${p}`, m.memberId);
  for (let p = 0; p < 4; p++) assert.equal(owner.get(`views:${p}`), owner.get(`orders:${p}`), `partition ${p}`);
  assert.deepEqual([0, 1, 2, 3].map((p) => owner.get(`views:${p}`)), ['m-a', 'm-b', 'm-c', 'm-a']);
});
