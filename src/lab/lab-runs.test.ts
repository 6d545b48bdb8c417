/**
 * The console's lab runs, as processes: progress kept, one at a time, reports found, a run
 * that fails or is stopped said so, runs of an earlier `up` still listed. The lab command is
 * replaced by small scripts here to make it fail or hang on purpose; the real
 * `orderflow lab --quick` runs from the console in test/browser/console.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { isOrderflowError } from '#platform/errors.ts';
import { createLabRuns, type LabRunRequest, type LabRuns } from './lab-runs.ts';

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'orderflow-lab-runs-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A stand-in for the lab: prints lines (one rewritten with \r, as a progress bar does), writes what the lab writes, exits with `code`. */
const script = (opts: { code?: number; hang?: boolean }) => (_req: LabRunRequest, out: string) => ({
  file: process.execPath,
  args: ['-e', `
    const { mkdirSync, writeFileSync } = require('node:fs');
    console.log('starting the events system');
    process.stdout.write('step 20/s 10%\\rstep 20/s 100%\\n');
    const dir = ${JSON.stringify(out)} + '/2026-12-05T10-00-00';
    mkdirSync(dir, { recursive: true });
    writeFileSync(dir + '/summary.md', '# lab');
    writeFileSync(dir + '/report.json', '{}');
    console.error('a warning on stderr');
    ${opts.hang ? 'setInterval(() => {}, 1000);' : `process.exit(${opts.code ?? 0});`}
  `],
});

async function finished(runs: LabRuns, id: string) {
  for (let i = 0; i < 200; i++) {
    const run = runs.get(id);
    if (run.status !== 'running') return run;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`lab run ${id} did not finish`);
}

test('a run keeps its output as progress, lists the reports it wrote and serves only those', async (t) => {
  const dir = tempDir(t);
  const runs = createLabRuns({ dir, command: script({}) });
  t.after(() => runs.close());
  const started = runs.start({ arch: 'events', faults: false });
  assert.equal(started.status, 'running');
  const run = await finished(runs, started.id);
  assert.deepEqual([run.status, run.exitCode], ['passed', 0]);
  assert.deepEqual(run.progress, ['starting the events system', 'step 20/s 100%', 'a warning on stderr']);
  assert.deepEqual(run.reports, ['summary.md', 'report.json']);
  assert.match(runs.reportPath(run.id, 'summary.md'), /summary\.md$/);
  for (const name of ['report.html', '../run.json', 'run.json']) {
    assert.throws(() => runs.reportPath(run.id, name), (e: Error) => isOrderflowError(e) && e.code === 'PLT_ERR_LAB_REPORT_NOT_FOUND', name);
  }
  assert.throws(() => runs.get('../../etc'), (e: Error) => isOrderflowError(e) && e.code === 'PLT_ERR_LAB_RUN_NOT_FOUND');
});

test('one run at a time: a second is refused while the first runs, and stopping ends it as stopped', async (t) => {
  const dir = tempDir(t);
  const runs = createLabRuns({ dir, command: script({ hang: true }) });
  const first = runs.start({ arch: 'rest', faults: true });
  assert.throws(() => runs.start({ arch: 'events', faults: false }), (e: Error) => isOrderflowError(e) && e.code === 'PLT_ERR_LAB_BUSY' && e.message.includes(first.id));
  await runs.close();
  assert.equal(runs.get(first.id).status, 'stopped');
});

test('a run that fails says so with its exit code; runs of an earlier `up` are listed, newest first, one it left running as stopped', async (t) => {
  const dir = tempDir(t);
  const before = createLabRuns({ dir, command: script({ code: 3 }) });
  const failed = await finished(before, before.start({ arch: 'choreography', faults: false }).id);
  assert.deepEqual([failed.status, failed.exitCode], ['failed', 3]);
  // An `up` that goes away while its run is still going (its run.json still says running).
  const gone = createLabRuns({ dir, command: script({ hang: true }) });
  const abandoned = gone.start({ arch: 'events', faults: false });
  // A new `up` over the same folder.
  const after = createLabRuns({ dir, command: script({}) });
  const listed = after.list();
  assert.deepEqual(listed.map((r) => r.id), [abandoned.id, failed.id], 'newest first');
  assert.deepEqual([listed[0].status, listed[1].status, listed[1].arch, listed[1].exitCode], ['stopped', 'failed', 'choreography', 3]);
  assert.ok(listed[1].progress.includes('starting the events system'));
  await gone.close();
});
