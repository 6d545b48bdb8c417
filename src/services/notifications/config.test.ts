import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isOrderflowError } from '#platform/errors.ts';
import { loadConfig } from './config.ts';

test('without SMTP_URL the e-mail channel is off; with it, mail is sent there with bounded retries', () => {
  assert.equal(loadConfig({}).mail, undefined);
  assert.equal(loadConfig({}).port, 8087);
  const c = loadConfig({ SMTP_URL: 'smtp://127.0.0.1:1025', NOTIFICATIONS_MAIL_MAX_ATTEMPTS: '3' });
  assert.deepEqual([c.mail?.smtpUrl, c.mail?.from, c.mail?.retry.maxAttempts], ['smtp://127.0.0.1:1025', 'orderflow <no-reply@orderflow.local>', 3]);
});

test('a malformed SMTP_URL or setting is refused at start with PLT_ERR_CONFIG', () => {
  for (const env of [{ SMTP_URL: 'http://mail:25' }, { SMTP_URL: 'mail:25' }, { SMTP_URL: 'smtp://127.0.0.1:1025', NOTIFICATIONS_MAIL_MAX_ATTEMPTS: '0' }, { NOTIFICATIONS_SSE_HEARTBEAT_MS: 'soon' }]) {
    assert.throws(() => loadConfig(env), (err) => isOrderflowError(err, 'PLT_ERR_CONFIG'), JSON.stringify(env));
  }
});
