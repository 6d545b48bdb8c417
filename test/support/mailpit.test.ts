import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import nodemailer, { type SendMailOptions } from 'nodemailer';
import { mailpitSkip, uniqueName } from '#test/infra.ts';
import { mailpit, mailpitUrl } from './mailpit.ts';

// The Mailpit of the run is shared with every test file running beside this one: each test
// writes to addresses of its own and never empties the mailbox (deleteAll is tested on a
// Mailpit of its own in src/runtime/infra/mailpit.test.ts).
const address = (who: string) => `${uniqueName(who).toLowerCase()}@example.test`;

describe('the Mailpit client, on a real Mailpit', { skip: mailpitSkip() }, () => {
  const send = async (mail: SendMailOptions) => {
    const transport = nodemailer.createTransport(process.env.SMTP_URL);
    try {
      return await transport.sendMail(mail);
    } finally {
      transport.close();
    }
  };

  test('an e-mail sent over SMTP is read back with its text and HTML bodies, addresses and headers', async () => {
    const to = address('customer');
    const cc = address('ops');
    const sent = await send({
      from: '"orderflow" <orders@orderflow.test>',
      to: `"Ada Lovelace" <${to}>`,
      cc,
      subject: 'Your order has shipped',
      text: 'Order 42 is on its way.',
      html: '<p>Order <b>42</b> is on its way.</p>',
      headers: { 'X-Orderflow-Order': '42' },
    });
    const box = mailpit();
    assert.equal(box.url, mailpitUrl);

    const [mail] = await box.waitFor(to);
    assert.equal(mail.Subject, 'Your order has shipped');
    assert.deepEqual(mail.From, { Name: 'orderflow', Address: 'orders@orderflow.test' });
    assert.deepEqual(mail.To, [{ Name: 'Ada Lovelace', Address: to }]);
    assert.deepEqual(mail.Cc, [{ Name: '', Address: cc }]);
    assert.equal(mail.Text.trim(), 'Order 42 is on its way.');
    assert.equal(mail.HTML.trim(), '<p>Order <b>42</b> is on its way.</p>');
    assert.deepEqual(mail.headers['X-Orderflow-Order'], ['42']);
    assert.deepEqual(mail.headers['Message-Id'] ?? mail.headers['Message-ID'], [sent.messageId]);
    assert.equal(`<${mail.MessageID}>`, sent.messageId);

    // Cc counts as a recipient; the summary in the list is the same message.
    const [summary] = await box.to(cc);
    assert.equal(summary.ID, mail.ID);
    assert.ok((await box.messages(1000)).some((m) => m.ID === mail.ID));
    assert.ok((await box.search(`subject:"Your order has shipped" to:"${to}"`)).some((m) => m.ID === mail.ID));
  });

  test('to() matches the address exactly, not every address that contains it, and Bcc too', async () => {
    const to = address('bob');
    const longer = `alice.${to}`;
    const hidden = address('auditor');
    await send({ from: 'orders@orderflow.test', to: longer, bcc: hidden, subject: 'for alice', text: 'a' });
    await send({ from: 'orders@orderflow.test', to, subject: 'for bob', text: 'b' });
    const mails = await mailpit().waitFor(to);
    assert.deepEqual(mails.map((m) => m.Subject), ['for bob']);
    assert.deepEqual((await mailpit().waitFor(longer)).map((m) => m.Subject), ['for alice']);
    assert.deepEqual((await mailpit().waitFor(hidden)).map((m) => m.Subject), ['for alice'], 'an envelope-only recipient is found as Bcc');
    assert.deepEqual(await mailpit().to(to.toUpperCase()).then((m) => m.length), 1, 'addresses compare case-insensitively');
  });

  test('waitFor gives up with a clear message when the e-mails do not come', async () => {
    const nobody = address('nobody');
    await assert.rejects(mailpit().waitFor(nobody, { timeoutMs: 300 }), /Mailpit holds 0 message\(s\) to .*nobody.*, not 1, after 300 ms/);
  });

  test('an unknown message is a clear error, not an empty one', async () => {
    await assert.rejects(mailpit().message('no-such-id'), /Mailpit answered 404 to message no-such-id/);
  });
});
