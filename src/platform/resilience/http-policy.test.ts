import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defineError, isOrderflowError } from '../errors.ts';
import { createHttpPolicy } from './http-policy.ts';

const refused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
const NotFound = defineError('ORD_ERR_TEST_NOT_FOUND', 404);

test('a refused call comes out as a coded dependency error naming the upstream', async () => {
  const policy = createHttpPolicy({ name: 'inventory', timeoutMs: 1_000 });
  await assert.rejects(policy.execute(async () => { throw refused(); }), (err) => {
    assert.ok(isOrderflowError(err, 'PLT_ERR_DEPENDENCY_UNAVAILABLE'));
    assert.equal(err.statusCode, 503);
    assert.match(err.message, /inventory is unreachable \(ECONNREFUSED\)/);
    return true;
  });
});

test('a call that outlives its timeout is aborted and answered as unavailable', async () => {
  const policy = createHttpPolicy({ name: 'payments', timeoutMs: 30 });
  let aborted = false;
  const started = Date.now();
  await assert.rejects(
    policy.execute((signal) => new Promise((resolve) => {
      signal.addEventListener('abort', () => { aborted = true; });
      setTimeout(resolve, 2_000).unref();
    })),
    (err) => isOrderflowError(err, 'PLT_ERR_DEPENDENCY_UNAVAILABLE') && /within 30 ms/.test(err.message),
  );
  assert.ok(Date.now() - started < 1_000, 'it did not wait for the slow call');
  assert.ok(aborted, 'the signal told the call to stop');
});

test('idempotent calls are retried and the others are not', async () => {
  const policy = createHttpPolicy({ name: 'orders', timeoutMs: 1_000, retries: 2, retryDelayMs: 1, breaker: false });
  let calls = 0;
  const flaky = async () => {
    calls++;
    if (calls < 3) throw refused();
    return 'ok';
  };
  assert.equal(await policy.execute(flaky, { idempotent: true }), 'ok');
  assert.equal(calls, 3);

  calls = 0;
  await assert.rejects(policy.execute(flaky));
  assert.equal(calls, 1, 'a POST-like call ran once');
});

test('the breaker opens after consecutive failures and then fails fast without calling', async () => {
  const policy = createHttpPolicy({ name: 'shipping', timeoutMs: 1_000, breaker: { consecutiveFailures: 3, halfOpenAfterMs: 60_000 } });
  let calls = 0;
  const down = async () => {
    calls++;
    throw refused();
  };
  for (let i = 0; i < 3; i++) await assert.rejects(policy.execute(down));
  assert.equal(policy.breakerState(), 'open');
  await assert.rejects(policy.execute(down), (err) => isOrderflowError(err, 'PLT_ERR_DEPENDENCY_UNAVAILABLE') && /circuit open/.test(err.message));
  assert.equal(calls, 3, 'the open circuit did not call the upstream');
});

test('a coded client error passes through untouched and does not trip the breaker', async () => {
  const policy = createHttpPolicy({ name: 'orders', timeoutMs: 1_000, retries: 2, retryDelayMs: 1, breaker: { consecutiveFailures: 1, halfOpenAfterMs: 60_000 } });
  let calls = 0;
  await assert.rejects(policy.execute(async () => { calls++; throw NotFound('no such order'); }, { idempotent: true }), (err) => isOrderflowError(err, 'ORD_ERR_TEST_NOT_FOUND'));
  assert.equal(calls, 1, 'not retried');
  assert.equal(policy.breakerState(), 'closed');
});

test('a failure result is retried, counted by the breaker, and returned when retries are spent', async () => {
  const policy = createHttpPolicy({ name: 'inventory', timeoutMs: 1_000, retries: 1, retryDelayMs: 1, breaker: { consecutiveFailures: 2, halfOpenAfterMs: 60_000 }, isFailureResult: (r) => r === 503 });
  let calls = 0;
  assert.equal(await policy.execute(async () => { calls++; return 503; }, { idempotent: true }), 503);
  assert.equal(calls, 2);
  assert.equal(policy.breakerState(), 'open');
});

test('an open circuit reports half-open once its wait is over, before any call, and the next call is the trial', async () => {
  const policy = createHttpPolicy({ name: 'payments', timeoutMs: 1_000, breaker: { consecutiveFailures: 2, halfOpenAfterMs: 50 } });
  let up = false;
  const call = async () => {
    if (!up) throw refused();
    return 'ok';
  };
  for (let i = 0; i < 2; i++) await assert.rejects(policy.execute(call));
  assert.equal(policy.breakerState(), 'open');
  await new Promise((r) => setTimeout(r, 80));
  // A caller shedding load while the circuit is open would otherwise never call again.
  assert.equal(policy.breakerState(), 'half-open');
  up = true;
  assert.equal(await policy.execute(call), 'ok');
  assert.equal(policy.breakerState(), 'closed');
});
