import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chunkSizes } from './outbox.ts';

test('chunkSizes splits rows into power-of-two chunks', () => {
  assert.deepEqual(chunkSizes(0), []);
  assert.deepEqual(chunkSizes(1), [1]);
  assert.deepEqual(chunkSizes(500), [256, 128, 64, 32, 16, 4]);
  assert.deepEqual(chunkSizes(600), [256, 256, 64, 16, 8]);
});
