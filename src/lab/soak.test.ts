import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadPlatformConfig } from '#platform/config.ts';
import { isOrderflowError } from '#platform/errors.ts';
import { parseSoakArgs, soakEnv } from './soak.ts';

test('the soak runs 30 minutes at 50 orders/s by default, with retentions of minutes', () => {
  const o = parseSoakArgs([])!;
  assert.deepEqual(
    [o.arch, o.minutes, o.rate, o.sampleSeconds, o.logRetentionMinutes, o.inboxRetentionMinutes, o.distributed],
    ['events', 30, 50, 60, 2, 5, undefined],
  );
  assert.equal(parseSoakArgs(['--help']), null);
});

test('the services read the soak\'s short retentions from its environment', () => {
  const o = parseSoakArgs(['--log-retention-minutes', '1', '--inbox-retention-minutes', '3', '--purge-seconds', '10'])!;
  const cfg = loadPlatformConfig(soakEnv(o, 'soak_test'));
  assert.deepEqual(cfg.embeddedLog, { retentionMinutes: 1, trimIntervalMs: 10_000, groupExpiryHours: 168 });
  assert.deepEqual(cfg.inbox, { retentionHours: 3 / 60, purgeIntervalMs: 10_000 });
  assert.equal(cfg.bus, 'embedded');
});

test('an inbox that forgets before the log does is refused: a redelivery would be applied twice', () => {
  for (const args of [['--inbox-retention-minutes', '2'], ['--arch', 'saga'], ['--rate', '0'], ['--log-retention-minutes', '0.5']]) {
    assert.throws(() => parseSoakArgs(args), (err) => isOrderflowError(err, 'PLT_ERR_CONFIG'), args.join(' '));
  }
});
