import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { v7 as uuidv7 } from 'uuid';
import type { Db } from '#platform/db/db.ts';
import { migrate } from '#platform/db/migrate.ts';
import { silentLogger } from '#platform/log.ts';
import { message, OrderConfirmed, OrderPlaced, UserRegistered } from '#contracts/index.ts';
import { mailpitSkip } from '#test/infra.ts';
import { dbVariants, deferrer } from '#test/support/db.ts';
import { runHandler } from '#test/support/handlers.ts';
import { mailpit } from '#test/support/mailpit.ts';
import { startSmtpRefuser } from '#test/support/smtp-refuser.ts';
import { createHandlers } from './handlers.ts';
import { startMailer, type Send } from './mailer.ts';
import { createSmtpTransport } from './smtp.ts';
import { insertEmail, listEmails } from './email-queue.ts';
import { migrations, upsertCustomer } from './store.ts';
import { closedPort } from '#test/sockets.ts';

const skip = mailpitSkip();
const retry = { maxAttempts: 3, baseMs: 1_000, maxMs: 60_000 };

/** A clock the test moves, so that backoffs come due without waiting for them. */
function testClock() {
  let now = Date.parse('2026-03-01T10:00:00Z');
  return { now: () => new Date(now), advance: (ms: number) => void (now += ms) };
}

for (const variant of dbVariants('notifications_mailer')) {
  describe(`the e-mail delivery worker on ${variant.name}, against a real SMTP server`, { skip: variant.skip ?? skip }, () => {
    const open = async (t: TestContext): Promise<Db> => {
      const defer = deferrer(t);
      const dir = mkdtempSync(join(tmpdir(), 'notifications-mailer-'));
      defer(() => rmSync(dir, { recursive: true, force: true }));
      const db = await variant.open(defer, dir);
      await migrate(db, migrations);
      return db;
    };
    const transport = (t: TestContext, url: string) => {
      const smtp = createSmtpTransport(url, 2_000);
      t.after(() => smtp.close());
      return smtp;
    };
    const mailerOf = (t: TestContext, db: Db, send: Send, clock: { now(): Date }, metrics = new Registry()) => {
      const mailer = startMailer({ db, send, from: 'orderflow <no-reply@orderflow.test>', retry, pollMs: 3_600_000, batch: 10, leaseMs: 30_000, log: silentLogger, metrics, clock, random: () => 0.5 });
      t.after(() => mailer.stop());
      return mailer;
    };

    test('an order confirmed twice (a redelivery) gives one e-mail, with its event\'s Message-ID, sent once', async (t) => {
      const db = await open(t);
      const clock = testClock();
      const handlers = createHandlers({ dialect: db.dialect, ids: { newId: () => uuidv7() }, clock, email: true });
      const mp = mailpit();
      const customerId = uuidv7();
      const orderId = uuidv7();
      const email = `ntf-${customerId}@example.org`;
      await runHandler(db, handlers, message(UserRegistered, { payload: { userId: customerId, email } }));
      await runHandler(db, handlers, message(OrderPlaced, { payload: { orderId, customerId, items: [{ productId: uuidv7(), quantity: 1, unitPriceCents: 100 }], totalCents: 100, paymentMethod: 'card', shippingAddress: { country: 'FR' } } }));
      const confirmed = message(OrderConfirmed, { payload: { orderId } });
      await runHandler(db, handlers, confirmed);
      await runHandler(db, handlers, confirmed);

      const mailer = mailerOf(t, db, transport(t, process.env.SMTP_URL as string).send, clock);
      assert.equal(await mailer.pass(), 1);
      assert.equal(await mailer.pass(), 0, 'a sent e-mail is not sent again');
      const [mail] = await mp.waitFor(email);
      assert.equal(mail.MessageID, `${confirmed.message.id}.email@orderflow`);
      assert.match(mail.Subject, /is confirmed/);
      assert.match(mail.Text, new RegExp(orderId));
      assert.match(mail.HTML, /<h1>/);
      assert.equal((await mp.to(email)).length, 1);
      assert.deepEqual((await listEmails(db, { limit: 5 })).map((e) => [e.status, e.attempts]), [['sent', 1]]);
    });

    test('a refused connection is retried with backoff, then dead; a 550 is dead at once; another customer\'s mail goes out meanwhile', async (t) => {
      const db = await open(t);
      const clock = testClock();
      const mp = mailpit();
      const refuser = await startSmtpRefuser(t);
      const port = await closedPort();
      const good = transport(t, process.env.SMTP_URL as string);
      const down = transport(t, `smtp://127.0.0.1:${port}`);
      const refusing = transport(t, refuser.url);
      // Where each customer's mail goes: the fault is the server, the mailer is the same.
      const send: Send = (mail) => (mail.to.endsWith('@down.test') ? down : mail.to.endsWith('@refused.test') ? refusing : good).send(mail);
      const at = clock.now().toISOString();
      const who = { ok: uuidv7(), down: uuidv7(), refused: uuidv7() };
      const addresses = { ok: `ntf-${who.ok}@example.org`, down: `ntf-${who.down}@down.test`, refused: `ntf-${who.refused}@refused.test` };
      for (const k of ['ok', 'down', 'refused'] as const) {
        await upsertCustomer(db, who[k], addresses[k], at);
        await insertEmail(db, { id: uuidv7(), eventId: uuidv7(), customerId: who[k], kind: 'orderConfirmed', subject: `for ${k}`, text: 'hello', html: '<p>hello</p>' }, at);
      }
      const metrics = new Registry();
      const mailer = mailerOf(t, db, send, clock, metrics);
      const state = async () => Object.fromEntries((await listEmails(db, { limit: 10 })).map((e) => [e.subject.slice(4), { status: e.status, attempts: e.attempts, next: e.nextAttemptAt, error: e.lastError }]));

      assert.equal(await mailer.pass(), 3);
      await mp.waitFor(addresses.ok);
      let s = await state();
      assert.deepEqual([s.ok.status, s.down.status, s.refused.status], ['sent', 'pending', 'dead']);
      assert.match(s.refused.error ?? '', /^550 /);
      assert.equal(refuser.refused.length, 1);
      assert.match(s.down.error ?? '', /ECONNECTION|ECONNREFUSED/);
      // The first backoff: half (the jitter drawn) of 1 s from now.
      assert.equal(s.down.next, new Date(clock.now().getTime() + 500).toISOString());

      assert.equal(await mailer.pass(), 0, 'not due yet');
      clock.advance(500);
      assert.equal(await mailer.pass(), 1);
      s = await state();
      assert.deepEqual([s.down.status, s.down.attempts, s.down.next], ['pending', 2, new Date(clock.now().getTime() + 1_000).toISOString()], 'the backoff doubled');
      clock.advance(1_000);
      assert.equal(await mailer.pass(), 1);
      s = await state();
      assert.deepEqual([s.down.status, s.down.attempts], ['dead', 3]);
      assert.match(s.down.error ?? '', /^3 attempts failed/);
      assert.equal((await mp.to(addresses.ok)).length, 1);
      const counted = (await metrics.getSingleMetric('orderflow_notification_emails_total')?.get())?.values.map((v) => [v.labels.outcome, v.value]);
      assert.deepEqual(Object.fromEntries(counted ?? []), { sent: 1, dead: 2, retry: 2 });
    });

    test('an e-mail whose customer has no known address waits for it', async (t) => {
      const db = await open(t);
      const clock = testClock();
      const customerId = uuidv7();
      const at = clock.now().toISOString();
      await insertEmail(db, { id: uuidv7(), eventId: uuidv7(), customerId, kind: 'orderConfirmed', subject: 's', text: 't', html: 'h' }, at);
      const mailer = mailerOf(t, db, transport(t, process.env.SMTP_URL as string).send, clock);
      assert.equal(await mailer.pass(), 1);
      assert.deepEqual((await listEmails(db, { limit: 1 })).map((e) => [e.status, e.lastError?.startsWith('ENORECIPIENT')]), [['pending', true]]);
      const email = `ntf-${customerId}@example.org`;
      await upsertCustomer(db, customerId, email, at);
      clock.advance(60_000);
      assert.equal(await mailer.pass(), 1);
      await mailpit().waitFor(email);
      assert.equal((await listEmails(db, { limit: 1 }))[0].status, 'sent');
    });
  });
}
