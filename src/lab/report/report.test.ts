import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fixtureReport } from './fixture.ts';
import { renderHtml, renderMarkdown, writeReport } from './report.ts';

test('writeReport writes report.json, report.html and summary.md into a folder it creates', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'orderflow-report-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const dir = join(root, 'lab-results', '2025-06-02T09-15-00');
  const report = fixtureReport();

  const paths = await writeReport(dir, report);

  assert.deepEqual(paths, { json: join(dir, 'report.json'), html: join(dir, 'report.html'), markdown: join(dir, 'summary.md') });
  assert.deepEqual(JSON.parse(await readFile(paths.json, 'utf8')), JSON.parse(JSON.stringify(report)));
  assert.equal(await readFile(paths.html, 'utf8'), renderHtml(report));
  assert.equal(await readFile(paths.markdown, 'utf8'), renderMarkdown(report));
});

test('writeReport overwrites the files of an earlier run in the same folder', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'orderflow-report-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeReport(dir, fixtureReport());
  const second = { ...fixtureReport(), command: 'orderflow lab --rates 50' };

  const paths = await writeReport(dir, second);

  assert.match(await readFile(paths.markdown, 'utf8'), /orderflow lab --rates 50/);
  assert.equal(JSON.parse(await readFile(paths.json, 'utf8')).command, 'orderflow lab --rates 50');
});
