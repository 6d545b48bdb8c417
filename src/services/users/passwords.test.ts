import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createPasswords, defaultPasswordCost } from './passwords.ts';

test('the default cost is argon2id at 19 MiB, 2 passes, 1 lane; a hash verifies its password only', async () => {
  const passwords = createPasswords();
  const hashed = await passwords.hash('correct horse battery');
  assert.match(hashed, /^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);
  assert.equal(await passwords.verify(hashed, 'correct horse battery'), true);
  assert.equal(await passwords.verify(hashed, 'correct horse batterY'), false);
  assert.equal(await passwords.verify('not a hash', 'x'), false, 'a malformed hash is a failed login, not a crash');
  assert.notEqual(await passwords.hash('correct horse battery'), hashed, 'salted');
  assert.equal(passwords.outdated(hashed), false);
  assert.equal(createPasswords({ ...defaultPasswordCost, timeCost: 3 }).outdated(hashed), true, 'a raised cost asks for a rehash');
});

test('a login for an unknown email spends about the time of a real verify', async () => {
  const passwords = createPasswords();
  const hashed = await passwords.hash('correct horse battery');
  await passwords.burn('warm up');
  const time = async (fn: () => Promise<unknown>) => {
    const start = performance.now();
    for (let i = 0; i < 5; i++) await fn();
    return performance.now() - start;
  };
  const real = await time(() => passwords.verify(hashed, 'wrong password'));
  const burnt = await time(() => passwords.burn('wrong password'));
  assert.ok(burnt > real / 3 && burnt < real * 3, `verify ${real.toFixed(0)} ms, burn ${burnt.toFixed(0)} ms for 5`);
});
