import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { v7 as uuidv7 } from 'uuid';
import type { Db } from '#platform/db/db.ts';
import { migrate } from '#platform/db/migrate.ts';
import { silentLogger } from '#platform/log.ts';
import { dbVariants, deferrer } from '#test/support/db.ts';
import { startFeed } from './feed.ts';
import { notify } from './notify.ts';
import { claimDueEmails, insertEmail, markSent } from './email-queue.ts';
import { migrations, type FeedRow } from './store.ts';

const at = '2026-03-01T10:00:00.000Z';
const later = (ms: number) => new Date(Date.parse(at) + ms).toISOString();

for (const variant of dbVariants('notifications_store', { poolSize: 6 })) {
  describe(`the notifications store on ${variant.name}`, { skip: variant.skip }, () => {
    const open = async (t: TestContext): Promise<Db> => {
      const defer = deferrer(t);
      const dir = mkdtempSync(join(tmpdir(), 'notifications-store-'));
      defer(() => rmSync(dir, { recursive: true, force: true }));
      const db = await variant.open(defer, dir);
      await migrate(db, migrations);
      return db;
    };

    test('concurrent claims take each due e-mail once, and a leased one is not due again until its lease ends', async (t) => {
      const db = await open(t);
      for (let i = 0; i < 12; i++) await insertEmail(db, { id: uuidv7(), eventId: uuidv7(), customerId: uuidv7(), kind: 'orderConfirmed', subject: 's', text: 't', html: 'h' }, at);
      const claim = (claimId: string) => db.transaction((tx) => claimDueEmails(tx, db.dialect, { now: later(1), leaseUntil: later(60_000), claimId, limit: 5 }));
      const claims = await Promise.all(['a', 'b', 'c', 'd'].map(claim));
      const ids = claims.flat().map((e) => e.id);
      assert.equal(ids.length, 12);
      assert.equal(new Set(ids).size, 12, 'no e-mail claimed twice');
      assert.deepEqual(await claim('e'), [], 'all leased');
      // A pass whose lease ended lost its claim: its late "sent" changes nothing.
      const retaken = await db.transaction((tx) => claimDueEmails(tx, db.dialect, { now: later(60_001), leaseUntil: later(120_000), claimId: 'f', limit: 1 }));
      assert.equal(retaken[0].attempts, 2);
      const firstClaim = claims.findIndex((c) => c.some((e) => e.id === retaken[0].id));
      assert.equal(await markSent(db, retaken[0].id, ['a', 'b', 'c', 'd'][firstClaim], later(60_002)), false);
      assert.equal(await markSent(db, retaken[0].id, 'f', later(60_002)), true);
    });

    test('the feed hands a customer\'s rows committed elsewhere (no wake), in order, past where it began', async (t) => {
      const db = await open(t);
      const feed = startFeed({ db, pollMs: 20, log: silentLogger });
      t.after(() => feed.stop());
      const deps = { dialect: db.dialect, ids: { newId: () => uuidv7() }, clock: { now: () => new Date(at) }, email: false };
      const customer = uuidv7();
      const write = (kind: 'orderConfirmed' | 'orderCancelled', who = customer) =>
        db.transaction((tx) => notify(tx, deps, who, { eventId: uuidv7(), kind, data: { orderId: uuidv7() }, occurredAt: at }));
      await write('orderConfirmed');
      const got: FeedRow[] = [];
      const { from, unsubscribe } = await feed.subscribe(customer, (row) => got.push(row));
      assert.ok(from >= 1);
      // Concurrent writers (several transactions at once on PostgreSQL): seq commits in order.
      await Promise.all(Array.from({ length: 10 }, (_, i) => write(i % 2 ? 'orderConfirmed' : 'orderCancelled', i % 3 === 0 ? uuidv7() : customer)));
      const deadline = Date.now() + 5_000;
      while (got.length < 6 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.equal(got.length, 6);
      assert.ok(got.every((r) => r.customerId === customer && r.seq > from));
      assert.deepEqual(got.map((r) => r.seq), [...got.map((r) => r.seq)].sort((a, b) => a - b));
      unsubscribe();
      assert.equal(feed.size(), 0);
    });
  });
}
