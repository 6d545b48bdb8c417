import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { encode, newEnvelope } from '#platform/bus/envelope.ts';
import { archiveFile } from '#platform/bus/archive.ts';
import { main } from '../cli.ts';

async function captured(t: TestContext, argv: string[]): Promise<{ code: number; out: string }> {
  const out: string[] = [];
  // Strings only: the test runner reports to its parent through stdout, in buffers.
  const write = process.stdout.write.bind(process.stdout);
  t.mock.method(process.stdout, 'write', (chunk: unknown, ...rest: unknown[]) => (typeof chunk === 'string' ? out.push(chunk) > 0 : (write as (...a: unknown[]) => boolean)(chunk, ...rest)));
  t.mock.method(process.stderr, 'write', () => true);
  try {
    return { code: await main(argv), out: out.join('') };
  } finally {
    t.mock.restoreAll();
  }
}

test('orderflow archive status: per topic its lines, distinct ids, duplicates and torn lines', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'orderflow-archive-cli-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const dir = join(dataDir, 'archive');
  mkdirSync(dir);
  const line = (i: number) => encode('orders.events', newEnvelope({ type: 'OrderPlaced', key: `o${i}`, payload: { i } })).value;
  const [a, b, c] = [1, 2, 3].map(line);
  writeFileSync(archiveFile(dir, 'orders.events'), `${a}\n${b}\n${b}\n${c.slice(0, 20)}`);
  writeFileSync(archiveFile(dir, 'client.events'), `${c}\n`);

  const json = await captured(t, ['archive', 'status', '--data-dir', dataDir, '--json']);
  assert.equal(json.code, 0);
  const report = JSON.parse(json.out) as { dir: string; topics: Array<Record<string, unknown>> };
  assert.equal(report.dir, dir);
  assert.deepEqual(report.topics.map((s) => [s.topic, s.lines, s.distinct, s.duplicates, s.torn]), [['client.events', 1, 1, 0, 0], ['orders.events', 4, 2, 1, 1]]);
  const text = await captured(t, ['archive', 'status', '--dir', dir]);
  assert.match(text.out, /^orders\.events\s+4\s+2\s+1\s+1\s+\d+$/m);
  assert.match((await captured(t, ['archive', 'status', '--dir', join(dataDir, 'none')])).out, /^no archive in /);
  assert.equal((await captured(t, ['archive', 'list'])).code, 2);
  assert.equal((await captured(t, ['archive', 'status', '--bogus'])).code, 2);
});
