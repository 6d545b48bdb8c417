import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decideRelease, mergeLines, replayReserve, reserve, type Reservation } from './reservation.ts';

const A = '00000000-0000-7000-8000-00000000000a';
const B = '00000000-0000-7000-8000-00000000000b';
const C = '00000000-0000-7000-8000-00000000000c';
const ORDER = '00000000-0000-7000-8000-0000000000ff';

const stock = (entries: Record<string, number>) => new Map(Object.entries(entries));

test('given enough stock, when reserving, then every line is held in product id order', () => {
  const decision = reserve(stock({ [A]: 5, [B]: 2 }), [
    { productId: B, quantity: 2 },
    { productId: A, quantity: 1 },
  ]);
  assert.deepEqual(decision, { ok: true, lines: [{ productId: A, quantity: 1 }, { productId: B, quantity: 2 }] });
});

test('given exactly the stock asked for, when reserving, then it is held', () => {
  assert.deepEqual(reserve(stock({ [A]: 3 }), [{ productId: A, quantity: 3 }]), { ok: true, lines: [{ productId: A, quantity: 3 }] });
});

test('given one product short, when reserving, then nothing is held and that product is named', () => {
  const decision = reserve(stock({ [A]: 5, [B]: 1 }), [
    { productId: A, quantity: 1 },
    { productId: B, quantity: 2 },
  ]);
  assert.deepEqual(decision, { ok: false, missing: [B] });
});

test('given several products short, when reserving, then all of them are named in product id order', () => {
  const decision = reserve(stock({ [A]: 0, [C]: 1 }), [
    { productId: C, quantity: 2 },
    { productId: A, quantity: 1 },
    { productId: B, quantity: 1 },
  ]);
  assert.deepEqual(decision, { ok: false, missing: [A, B, C] });
});

test('given an unknown product, when reserving, then it counts as unavailable', () => {
  assert.deepEqual(reserve(stock({}), [{ productId: A, quantity: 1 }]), { ok: false, missing: [A] });
});

test('given the same product on two lines, when reserving, then their quantities are summed against its stock', () => {
  assert.deepEqual(
    reserve(stock({ [A]: 3 }), [
      { productId: A, quantity: 2 },
      { productId: A, quantity: 2 },
    ]),
    { ok: false, missing: [A] },
  );
  assert.deepEqual(
    reserve(stock({ [A]: 4 }), [
      { productId: A, quantity: 2 },
      { productId: A, quantity: 2 },
    ]),
    { ok: true, lines: [{ productId: A, quantity: 4 }] },
  );
});

test('given a non-positive quantity, when reserving, then the line is refused', () => {
  assert.deepEqual(reserve(stock({ [A]: 10 }), [{ productId: A, quantity: 0 }]), { ok: false, missing: [A] });
});

test('mergeLines sums duplicates and sorts by product id', () => {
  assert.deepEqual(
    mergeLines([
      { productId: B, quantity: 1 },
      { productId: A, quantity: 2 },
      { productId: B, quantity: 3 },
    ]),
    [
      { productId: A, quantity: 2 },
      { productId: B, quantity: 4 },
    ],
  );
});

const reservation = (r: Partial<Reservation>): Reservation => ({ orderId: ORDER, status: 'RESERVED', lines: [], missing: [], ...r });

test('given a held reservation, when the same order asks again, then the held lines are answered again', () => {
  const lines = [{ productId: A, quantity: 2 }];
  assert.deepEqual(replayReserve(reservation({ lines }), [{ productId: B, quantity: 9 }]), { ok: true, lines });
});

test('given a refused reservation, when the same order asks again, then the same refusal is answered', () => {
  const r = reservation({ status: 'REJECTED', lines: [{ productId: A, quantity: 2 }], missing: [A] });
  assert.deepEqual(replayReserve(r, [{ productId: A, quantity: 2 }]), { ok: false, missing: [A] });
});

test('given a released reservation, when the same order asks again, then it is refused naming the products once held', () => {
  const r = reservation({ status: 'RELEASED', lines: [{ productId: A, quantity: 2 }] });
  assert.deepEqual(replayReserve(r, [{ productId: B, quantity: 1 }]), { ok: false, missing: [A] });
});

test('given a release tombstone, when a late reservation arrives, then it is refused naming the products asked for', () => {
  const r = reservation({ status: 'RELEASED', lines: [] });
  assert.deepEqual(replayReserve(r, [{ productId: B, quantity: 1 }, { productId: A, quantity: 1 }]), { ok: false, missing: [A, B] });
});

test('given a held reservation, when releasing, then its lines go back to stock', () => {
  const lines = [{ productId: A, quantity: 2 }];
  assert.deepEqual(decideRelease(reservation({ lines })), { kind: 'restore', lines });
});

test('given a released reservation, when releasing again, then nothing happens', () => {
  assert.deepEqual(decideRelease(reservation({ status: 'RELEASED', lines: [{ productId: A, quantity: 2 }] })), { kind: 'noop' });
});

test('given a refused reservation, when releasing, then nothing happens since nothing was held', () => {
  assert.deepEqual(decideRelease(reservation({ status: 'REJECTED', missing: [A] })), { kind: 'noop' });
});

test('given no reservation, when releasing, then a tombstone is recorded', () => {
  assert.deepEqual(decideRelease(undefined), { kind: 'tombstone' });
});
