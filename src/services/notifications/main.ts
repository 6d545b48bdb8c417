/** The notifications service's composition root. */
import { closeOnSignals, startServiceHost } from '#platform/service/host.ts';
import { startRetention } from '#platform/db/retention.ts';
import { allTopics, Topics, checkMessage } from '#contracts/index.ts';
import { loadConfig } from './config.ts';
import { startFeed } from './feed.ts';
import { createHandlers } from './handlers.ts';
import { registerRoutes } from './http.ts';
import { startMailer, type Mailer } from './mailer.ts';
import { createSmtpTransport } from './smtp.ts';
import { deleteOlder, migrations } from './store.ts';

const config = loadConfig();
const host = await startServiceHost({ name: 'notifications', platform: config.platform, migrations, topics: allTopics, validate: checkMessage });
closeOnSignals(host);
const feed = startFeed({ db: host.db, pollMs: config.feedPollMs, log: host.log });
host.onClose(() => feed.stop());

let mailer: Mailer | undefined;
if (config.mail) {
  const smtp = createSmtpTransport(config.mail.smtpUrl, config.mail.sendTimeoutMs);
  mailer = startMailer({
    db: host.db, send: smtp.send, from: config.mail.from, retry: config.mail.retry, pollMs: config.mail.pollMs, batch: config.mail.batch,
    // A claim outlives a send's every wait (connection, greeting, the message) with room to spare.
    leaseMs: config.mail.sendTimeoutMs * 4, log: host.log, metrics: host.app.metrics,
  });
  host.onClose(async () => {
    await mailer?.stop();
    smtp.close();
  });
  host.log.info({ smtp: new URL(config.mail.smtpUrl).host, from: config.mail.from }, 'e-mail goes out over SMTP');
} else {
  host.log.warn('SMTP_URL is not set: the e-mail channel is off (in-app notifications only; no e-mail is queued)');
}

const purge = startRetention({
  name: 'notifications',
  log: host.log,
  intervalMs: 3_600_000,
  horizon: () => new Date(host.clock.now().getTime() - config.retentionDays * 86_400_000).toISOString(),
  deleteOlder: (before, limit) => deleteOlder(host.db, before, limit),
});
host.onClose(() => purge.stop());

registerRoutes(host.app, { db: host.db, feed, clock: host.clock, heartbeatMs: config.heartbeatMs, maxStreams: config.maxStreams });
await host.listen(config.port, config.host);

// The same events in the events architecture and the choreography. In rest, orders calls
// the others over HTTP: it announces the order's facts (placed, confirmed, cancelled), but
// payments and shipping publish nothing, so there is no shipment or refund to tell (README).
const topics = config.platform.arch === 'rest'
  ? [Topics.usersEvents, Topics.ordersEvents, Topics.cartEvents]
  : [Topics.usersEvents, Topics.ordersEvents, Topics.shippingEvents, Topics.paymentsEvents, Topics.cartEvents];
await host.consume({
  groupId: 'notifications',
  topics,
  handlers: createHandlers({
    dialect: host.db.dialect, ids: host.ids, clock: host.clock, email: mailer !== undefined,
    onNotified: () => {
      feed.wake();
      mailer?.wake();
    },
  }),
});
