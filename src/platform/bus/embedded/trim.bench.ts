/**
 * What trimming a backlog costs the publishers, and what it does to the files:
 *   node src/platform/bus/embedded/trim.bench.ts [records=300000] [partitions=8]
 * Fills the log with a backlog a group has committed (records of some 600 bytes, as the
 * saga's), then trims all of it in one pass on its own connection (as a service's trim would)
 * while another connection keeps publishing single records at a steady pace and a consumer
 * polls. Reports the pass, the publishers' waits during it, and the sizes of the file and
 * its WAL before, during (highest) and after: does the WAL stay bounded without an explicit
 * wal_checkpoint(TRUNCATE), and does the file reuse the freed pages?
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OutRecord } from '#platform/bus/bus.ts';
import { openEmbeddedLog } from './embedded-log.ts';

const total = Number(process.argv[2] ?? 300_000);
const partitions = Number(process.argv[3] ?? 8);
const dir = mkdtempSync(join(tmpdir(), 'embedded-trim-bench-'));
const file = join(dir, 'bus.sqlite');
const value = JSON.stringify({ id: '0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b', payload: { items: [{ productId: 'p', quantity: 2 }] }, pad: 'x'.repeat(380) });
const rec = (i: number): OutRecord => ({ topic: 'backlog', key: `order-${i % 5000}`, value, headers: { type: 'OrderPlaced', traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' } });

const size = (f: string) => {
  try {
    return statSync(f).size;
  } catch {
    return 0;
  }
};
const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]?.toFixed(2) ?? '-';

const publisher = openEmbeddedLog({ file });
const consumer = openEmbeddedLog({ file, commitIntervalMs: 10 });
// Everything is past the retention for this clock: the pass trims all that is committed.
const trimmer = openEmbeddedLog({ file, retention: { retentionMs: 1, intervalMs: 3_600_000, now: () => Date.now() + 1000 } });
try {
  await publisher.ensureTopics([{ name: 'backlog', partitions }, { name: 'live', partitions }]);
  for (let i = 0; i < total; i += 500) await publisher.publish(Array.from({ length: Math.min(500, total - i) }, (_, j) => rec(i + j)));
  let handled = 0;
  const sub = await consumer.subscribe({ groupId: 'g', topics: ['backlog', 'live'], handle: async (b) => void (handled += b.length) });
  while (handled < total || (await consumer.lag('g', ['backlog'])) > 0) await new Promise((r) => setTimeout(r, 20));
  const before = { db: size(file), wal: size(`${file}-wal`) };
  console.log(`backlog   ${total} records committed: file ${mib(before.db)}, wal ${mib(before.wal)}`);

  const waits: number[] = [];
  let maxWal = before.wal;
  let trimming = true;
  const live = (async () => {
    for (let i = 0; trimming; i++) {
      const t0 = performance.now();
      await publisher.publish([{ ...rec(i), topic: 'live' }]);
      waits.push(performance.now() - t0);
      maxWal = Math.max(maxWal, size(`${file}-wal`));
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  const t0 = performance.now();
  const trimmed = await trimmer.trim();
  const passMs = performance.now() - t0;
  trimming = false;
  await live;
  console.log(`trim      ${trimmed} records in ${(passMs / 1000).toFixed(1)} s (${Math.round(trimmed / (passMs / 1000)).toLocaleString('en')} records/s, chunks of 1000)`);
  console.log(`publish   ${waits.length} single publishes meanwhile: p50 ${pct(waits, 50)} ms, p99 ${pct(waits, 99)} ms, max ${Math.max(...waits).toFixed(2)} ms`);
  console.log(`wal       highest during the pass ${mib(maxWal)}, after ${mib(size(`${file}-wal`))}`);

  for (let i = 0; i < total; i += 500) await publisher.publish(Array.from({ length: Math.min(500, total - i) }, (_, j) => rec(i + j)));
  while (handled < 2 * total || (await consumer.lag('g', ['backlog'])) > 0) await new Promise((r) => setTimeout(r, 20));
  console.log(`refill    ${total} records again: file ${mib(size(file))} (was ${mib(before.db)}: freed pages reused), wal ${mib(size(`${file}-wal`))}`);
  await sub.close();
} finally {
  await trimmer.close();
  await consumer.close();
  await publisher.close();
  rmSync(dir, { recursive: true, force: true });
}
