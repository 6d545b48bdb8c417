import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isOrderflowError } from '../errors.ts';
import { encode, newEnvelope } from './envelope.ts';
import { archiveFile, archiveFileStats, archivedTopics, envelopesOfLine, readArchive } from './archive.ts';

const line = (i: number, payload: unknown = { i }) => encode('orders.events', newEnvelope({ type: 'OrderPlaced', key: `o${i}`, payload })).value;
const idOf = (l: string) => JSON.parse(l).id as string;

test('a line is one envelope; a foreign or empty line is skipped', () => {
  const a = line(1);
  assert.deepEqual(envelopesOfLine('t', a).envelopes.map((e) => e.id), [idOf(a)]);
  assert.deepEqual(envelopesOfLine('t', ''), { envelopes: [], torn: 0 });
  assert.deepEqual(envelopesOfLine('t', 'null'), { envelopes: [], torn: 1 }, 'Connect writes a null value as "null"');
  assert.deepEqual(envelopesOfLine('t', '{"id":"x"}'), { envelopes: [], torn: 1 }, 'JSON that is not an envelope');
});

test('after a crash: a torn fragment before a whole envelope, two envelopes run together, an id inside a payload', () => {
  const a = line(1);
  const b = line(2, { items: [{ id: 'p1', quantity: 1 }], note: '{"id":"not a start' });
  const c = line(3);
  // Connect appends the redelivery right after the torn bytes.
  const r1 = envelopesOfLine('t', a.slice(0, 50) + b);
  assert.deepEqual([r1.envelopes.map((e) => e.id), r1.torn], [[idOf(b)], 1]);
  // A whole envelope whose newline was not written.
  const r2 = envelopesOfLine('t', b + c);
  assert.deepEqual([r2.envelopes.map((e) => e.id), r2.torn], [[idOf(b), idOf(c)], 0]);
  // A fragment cut inside the payload's own {"id":", then a whole one.
  const cut = b.indexOf('{"id":"p1"') + 4;
  const r3 = envelopesOfLine('t', b.slice(0, cut) + c);
  assert.deepEqual([r3.envelopes.map((e) => e.id), r3.torn], [[idOf(c)], 1]);
  assert.deepEqual(envelopesOfLine('t', a.slice(0, 30)), { envelopes: [], torn: 1 });
});

test('readArchive: file order, each id once, a torn last line skipped and counted; a missing file is empty', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'archive-read-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const [a, b, c, d] = [1, 2, 3, 4].map((i) => line(i));
  writeFileSync(archiveFile(dir, 'orders.events'), [a, b, c, b, c, d].join('\n') + '\n' + line(5).slice(0, 60));
  const reader = readArchive(dir, 'orders.events');
  const seen: string[] = [];
  for await (const e of reader) seen.push(e.id);
  assert.deepEqual(seen, [a, b, c, d].map(idOf));
  assert.deepEqual(reader.stats, { lines: 7, distinct: 4, duplicates: 2, torn: 1 });
  const stats = await archiveFileStats(dir, 'orders.events');
  assert.deepEqual([stats.file, stats.distinct, stats.duplicates, stats.torn], [archiveFile(dir, 'orders.events'), 4, 2, 1]);
  assert.ok(stats.bytes > 0);

  const none = readArchive(dir, 'client.events');
  for await (const _ of none) assert.fail('nothing to read');
  assert.deepEqual(none.stats, { lines: 0, distinct: 0, duplicates: 0, torn: 0 });
  assert.deepEqual(archivedTopics(dir), ['orders.events']);
  assert.deepEqual(archivedTopics(join(dir, 'absent')), []);
});

test('a topic that cannot be a file name is refused with a coded error', () => {
  for (const bad of ['../etc/passwd', 'a/b', '', '.hidden']) {
    assert.throws(() => archiveFile('/tmp', bad), (err) => isOrderflowError(err, 'PLT_ERR_ARCHIVE_TOPIC'), bad);
  }
});
