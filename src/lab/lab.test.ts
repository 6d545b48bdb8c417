import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { architectures } from '#platform/config.ts';
import type { LabReport } from './lab-result.ts';
import { DEFAULT_RATES, parseLabArgs, runLab, timestamp } from './lab.ts';
import { silentProgress } from './progress.ts';

describe('lab options', () => {
  test('by default every architecture runs the embedded ladder with faults', () => {
    const o = parseLabArgs([], {})!;
    assert.deepEqual(o.archs, ['events', 'choreography', 'rest']);
    assert.deepEqual(o.rates, DEFAULT_RATES);
    assert.deepEqual(o.faults, ['kill-restart', 'latency']);
    assert.equal(o.stepSeconds, 15);
    assert.equal(o.kafka, undefined);
    assert.equal(o.postgres, undefined);
  });

  test('--quick is a short smoke run and --no-faults leaves the scenarios out', () => {
    const o = parseLabArgs(['--quick', '--no-faults', '--arch', 'rest'], {})!;
    assert.deepEqual(o.rates, [20, 40]);
    assert.equal(o.stepSeconds, 3);
    assert.deepEqual(o.faults, []);
    assert.deepEqual(o.archs, ['rest']);
  });

  test('--distributed takes Kafka and PostgreSQL from the environment, or the local defaults', () => {
    const o = parseLabArgs(['--distributed'], { KAFKA_BROKERS: 'k:9092' })!;
    assert.deepEqual(o.kafka, { brokers: 'k:9092' });
    assert.deepEqual(o.postgres, { url: 'postgres://postgres@127.0.0.1:5432/postgres' });
  });

  test('bad values are refused with a coded error, --help returns nothing to run', () => {
    assert.throws(() => parseLabArgs(['--arch', 'soap'], {}), { code: 'PLT_ERR_CONFIG' });
    assert.throws(() => parseLabArgs(['--rates', '10,x'], {}), { code: 'PLT_ERR_CONFIG' });
    assert.throws(() => parseLabArgs(['--bogus'], {}), { code: 'ERR_PARSE_ARGS_UNKNOWN_OPTION' });
    assert.equal(parseLabArgs(['--help'], {}), null);
  });

  test('the results folder is named by a timestamp without colons', () => {
    assert.equal(timestamp(new Date('2026-11-21T10:32:05.123Z')), '2026-11-21T10-32-05');
  });
});

// A short run of the real thing per architecture: five processes, load, faults, report.
for (const arch of architectures) {
  test(`a quick lab run of ${arch} measures completed orders, loses none under faults, and writes the report`, { timeout: 240_000 }, async (t) => {
    const out = mkdtempSync(join(tmpdir(), 'orderflow-lab-test-'));
    t.after(() => rmSync(out, { recursive: true, force: true }));
    const options = { ...parseLabArgs(['--quick', '--arch', arch, '--out', out], {})!, warmupSeconds: 0 };
    const said: string[] = [];
    const run = await runLab(options, { say: (l) => said.push(l), progress: silentProgress, command: `orderflow lab --quick --arch ${arch}` });
    assert.deepEqual(run.failures.map((f) => String((f.error as Error).stack ?? f.error)), [], said.join('\n'));

    assert.ok(existsSync(run.paths.json) && existsSync(run.paths.markdown) && existsSync(run.paths.html));
    const report = JSON.parse(readFileSync(run.paths.json, 'utf8')) as LabReport;
    assert.equal(report.deployment, 'embedded');
    assert.equal(report.archs.length, 1);
    const [result] = report.archs;
    assert.equal(result.arch, arch);
    assert.ok(result.steps.length > 0);
    for (const step of result.steps) assert.ok(step.completed > 0, `step ${step.targetRate}/s completed orders: ${JSON.stringify(step)}`);
    assert.ok(result.knee === null || options.rates.includes(result.knee));
    assert.deepEqual(result.faults.map((f) => f.scenario), ['kill-restart', 'latency']);
    for (const f of result.faults) {
      assert.equal(f.lost, 0, `${f.scenario}: accepted orders never terminal: ${JSON.stringify(f.errors)}`);
      assert.ok(f.accepted > 0 && f.timeline.length > 0);
    }
    assert.ok(result.faults[0].events.some((e) => e.what.includes('kill -9')));
  });
}
