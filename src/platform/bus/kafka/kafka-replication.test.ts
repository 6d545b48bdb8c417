import assert from 'node:assert/strict';
import { test } from 'node:test';
import { replicationFor } from './kafka-replication.ts';

test('three copies where there are three brokers or more, acknowledged on two; fewer brokers, a copy on each, acknowledged on one', () => {
  assert.deepEqual(replicationFor(1), { factor: 1, minInsync: 1 });
  assert.deepEqual(replicationFor(2), { factor: 2, minInsync: 1 });
  assert.deepEqual(replicationFor(3), { factor: 3, minInsync: 2 });
  assert.deepEqual(replicationFor(7), { factor: 3, minInsync: 2 });
  // No broker up (metadata without brokers): one copy, so the broker's own error says why creation fails.
  assert.deepEqual(replicationFor(0), { factor: 1, minInsync: 1 });
});

test('a replication factor that is set wins over the cluster size', () => {
  assert.deepEqual(replicationFor(3, 1), { factor: 1, minInsync: 1 });
  assert.deepEqual(replicationFor(1, 3), { factor: 3, minInsync: 2 });
  assert.deepEqual(replicationFor(9, 5), { factor: 5, minInsync: 2 });
});
