/**
 * The lab server `orderflow up` runs for the gateway, over real HTTP: a run started, followed
 * to its end and its report read; a second refused while one runs; unknown runs and reports
 * are 404 envelopes. The lab itself is replaced by a small script (as in lab-runs.test.ts);
 * the real quick lab runs from the console in test/browser/console.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { silentLogger } from '#platform/log.ts';
import { createLabRuns } from '#lab/lab-runs.ts';
import { startLabServer } from './lab-server.ts';

test('the lab server starts a run, refuses a second meanwhile, and serves the reports the run wrote', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'orderflow-lab-server-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const runs = createLabRuns({
    dir,
    command: (_req, out) => ({ file: process.execPath, args: ['-e', `
      const { mkdirSync, writeFileSync } = require('node:fs');
      const d = ${JSON.stringify(out)} + '/2026-12-05T10-00-00';
      mkdirSync(d, { recursive: true });
      console.log('measuring');
      setTimeout(() => { writeFileSync(d + '/summary.md', '# the lab'); process.exit(0); }, 300);
    `] }),
  });
  const server = await startLabServer({ dir, log: silentLogger, runs });
  t.after(() => server.close());
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${server.url}${path}`, { method, ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }) });
    const text = await res.text();
    return { status: res.status, type: res.headers.get('content-type'), text, body: res.headers.get('content-type')?.startsWith('application/json') ? JSON.parse(text) : undefined };
  };

  const started = await call('POST', '/lab/runs', { arch: 'choreography' });
  assert.deepEqual([started.status, started.body.status, started.body.arch, started.body.faults], [202, 'running', 'choreography', false]);
  const busy = await call('POST', '/lab/runs', {});
  assert.deepEqual([busy.status, busy.body.error.code], [409, 'PLT_ERR_LAB_BUSY']);
  let run = started.body;
  for (let i = 0; i < 100 && run.status === 'running'; i++) {
    await new Promise((r) => setTimeout(r, 50));
    run = (await call('GET', `/lab/runs/${run.id}`)).body;
  }
  assert.deepEqual([run.status, run.progress, run.reports], ['passed', ['measuring'], ['summary.md']]);
  const summary = await call('GET', `/lab/runs/${run.id}/reports/summary.md`);
  assert.deepEqual([summary.status, summary.type, summary.text], [200, 'text/markdown; charset=utf-8', '# the lab']);
  assert.equal((await call('GET', `/lab/runs/${run.id}/reports/report.html`)).body.error.code, 'PLT_ERR_LAB_REPORT_NOT_FOUND');
  assert.equal((await call('GET', '/lab/runs/0190f5b2-7c4e-7d2a-9f00-ffffffffffff')).body.error.code, 'PLT_ERR_LAB_RUN_NOT_FOUND');
  assert.deepEqual((await call('GET', '/lab/runs')).body.runs.map((r: { id: string }) => r.id), [run.id]);
});
