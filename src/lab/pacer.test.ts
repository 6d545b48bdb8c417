import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dueTime, pace, type Clock } from './pacer.ts';

/** A clock that only moves when the pacer sleeps, or when a test says time passed. */
function fakeClock(): Clock & { advance(ms: number): void } {
  let t = 1000;
  return {
    now: () => t,
    sleep: async (ms) => { t += ms; },
    advance: (ms) => { t += ms; },
  };
}

test('the pacer sends rate × seconds requests, each at its exact due time', async () => {
  const clock = fakeClock();
  const dues: number[] = [];
  const sentAt: number[] = [];
  const r = await pace({ rate: 200, seconds: 2, clock, send: (d) => { dues.push(d); sentAt.push(clock.now()); }, overload: () => assert.fail('no overload') });
  assert.equal(r.offered, 400);
  assert.equal(dues.length, 400);
  dues.forEach((d, i) => assert.equal(d, r.start + i * 5));
  assert.deepEqual(sentAt, dues, 'an on-time generator sends each request at its due time');
  assert.equal(r.maxLateMs, 0);
});

test('due times do not drift over a long run at an awkward rate', () => {
  // 3 per second is 333.33 ms apart: adding the step up would drift; multiplying does not.
  assert.equal(dueTime(0, 3, 30_000), 10_000_000);
  assert.equal(dueTime(5, 7, 7 * 3600), 5 + 3_600_000);
});

test('a generator that falls behind catches up with the original due times', async () => {
  const clock = fakeClock();
  const dues: number[] = [];
  let stalled = false;
  const r = await pace({
    rate: 100,
    seconds: 1,
    clock,
    send(d) {
      dues.push(d);
      // One 250 ms stall at the 10th request, as a GC pause would cause.
      if (dues.length === 10 && !stalled) {
        stalled = true;
        clock.advance(250);
      }
    },
    overload: () => assert.fail('no overload'),
  });
  assert.equal(dues.length, 100);
  dues.forEach((d, i) => assert.equal(d, r.start + i * 10, `request ${i} keeps its due time`));
  assert.equal(r.maxLateMs, 240, 'the 11th request, due at 100 ms, went out at 340 ms');
});

test('the pacer does not wait for answers: requests keep going out while earlier ones hang', async () => {
  const clock = fakeClock();
  let sent = 0;
  const never = new Promise<void>(() => {});
  const r = await pace({ rate: 50, seconds: 1, clock, send: () => { sent++; return never; }, overload: () => assert.fail('no overload') });
  assert.equal(sent, 50);
  assert.equal(r.overloaded, 0);
});

test('beyond the in-flight cap a request is counted as overload instead of being sent', async () => {
  const clock = fakeClock();
  const overloaded: number[] = [];
  let sent = 0;
  const never = new Promise<void>(() => {});
  const r = await pace({ rate: 100, seconds: 1, maxInFlight: 30, clock, send: () => { sent++; return never; }, overload: (d) => overloaded.push(d) });
  assert.equal(sent, 30);
  assert.equal(r.overloaded, 70);
  assert.equal(overloaded.length, 70);
  assert.equal(overloaded[0], r.start + 300, 'the first overloaded request keeps its due time');
});

test('answered requests free their in-flight slot', async () => {
  const clock = fakeClock();
  let sent = 0;
  const r = await pace({ rate: 100, seconds: 1, maxInFlight: 1, clock, send: () => { sent++; return Promise.resolve(); }, overload: () => {} });
  assert.equal(sent + r.overloaded, 100);
  assert.ok(sent > 50, `most requests went out (${sent})`);
});

test('an aborted pacer stops sending', async () => {
  const clock = fakeClock();
  const ac = new AbortController();
  let sent = 0;
  const r = await pace({ rate: 100, seconds: 10, clock, signal: ac.signal, send: () => { if (++sent === 5) ac.abort(); }, overload: () => {} });
  assert.equal(r.offered, 5);
});
