import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { architectures } from '#platform/config.ts';
import { zipkinSkip } from '#test/infra.ts';
import { tracingEnv } from './system-env.ts';
import type { LabReport } from './lab-result.ts';
import { DEFAULT_RATES, parseLabArgs, plannedRuns, runLab, timestamp } from './lab.ts';
import { silentProgress } from './progress.ts';

describe('lab options', () => {
  test('by default every architecture runs the embedded ladder with faults', () => {
    const o = parseLabArgs([], {})!;
    assert.deepEqual(o.archs, ['events', 'choreography', 'rest']);
    assert.deepEqual(o.rates, DEFAULT_RATES);
    assert.deepEqual(o.faults, ['kill-restart', 'latency', 'outage-past-deadline']);
    assert.equal(o.stepSeconds, 15);
    assert.equal(o.viewsPerOrder, 2, 'shoppers browse before they order');
    assert.equal(parseLabArgs(['--views', '0'], {})!.viewsPerOrder, 0);
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

  test('tracing is off by default: one untraced run per architecture, with tracing turned off even if the environment turns it on', () => {
    const o = parseLabArgs(['--arch', 'events,rest'], { ZIPKIN_URL: 'http://127.0.0.1:9411' })!;
    assert.equal(o.tracing, 'off');
    assert.equal(o.zipkinUrl, undefined);
    assert.deepEqual(plannedRuns(o), [{ arch: 'events' }, { arch: 'rest' }]);
    assert.deepEqual(tracingEnv(undefined), { OTEL_TRACES_EXPORTER: 'none' });
  });

  test('--tracing on|both without ZIPKIN_URL is refused, naming how to start Zipkin', () => {
    for (const mode of ['on', 'both']) {
      assert.throws(() => parseLabArgs(['--tracing', mode], {}), { code: 'PLT_ERR_CONFIG', message: new RegExp(`--tracing ${mode} needs Zipkin: start it \\(npm run infra:zipkin\\) and export ZIPKIN_URL`) });
    }
    assert.throws(() => parseLabArgs(['--tracing', 'sometimes'], { ZIPKIN_URL: 'http://127.0.0.1:9411' }), { code: 'PLT_ERR_CONFIG', message: /--tracing takes off, on, both; got "sometimes"/ });
    assert.throws(() => parseLabArgs(['--tracing', 'on'], { ZIPKIN_URL: 'not a url' }), { code: 'PLT_ERR_CONFIG', message: /ZIPKIN_URL must be a URL/ });
  });

  test('--tracing both plans each architecture twice, untraced then traced, at the same rates', () => {
    const o = parseLabArgs(['--tracing', 'both', '--arch', 'events,choreography', '--rates', '100,200'], { ZIPKIN_URL: 'http://127.0.0.1:9411/' })!;
    assert.equal(o.zipkinUrl, 'http://127.0.0.1:9411');
    assert.deepEqual(o.rates, [100, 200]);
    assert.deepEqual(plannedRuns(o), [{ arch: 'events' }, { arch: 'events', variant: 'tracing' }, { arch: 'choreography' }, { arch: 'choreography', variant: 'tracing' }]);
    assert.deepEqual(plannedRuns({ ...o, tracing: 'on' }), [{ arch: 'events', variant: 'tracing' }, { arch: 'choreography', variant: 'tracing' }]);
    assert.deepEqual(tracingEnv({ url: o.zipkinUrl! }), { OTEL_TRACES_EXPORTER: 'zipkin', OTEL_EXPORTER_ZIPKIN_ENDPOINT: 'http://127.0.0.1:9411/api/v2/spans' });
  });

  test('a Zipkin that does not answer stops the lab before any system starts', async (t) => {
    const out = mkdtempSync(join(tmpdir(), 'orderflow-lab-test-'));
    t.after(() => rmSync(out, { recursive: true, force: true }));
    const options = parseLabArgs(['--quick', '--arch', 'rest', '--tracing', 'on', '--out', out], { ZIPKIN_URL: 'http://127.0.0.1:1' })!;
    const said: string[] = [];
    await assert.rejects(runLab(options, { say: (l) => said.push(l), progress: silentProgress, command: 'orderflow lab' }), { code: 'PLT_ERR_CONFIG', message: /Zipkin at ZIPKIN_URL=http:\/\/127\.0\.0\.1:1 does not answer .*npm run infra:zipkin/ });
    assert.deepEqual(said, []);
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
    // Two views per order went to the log alongside the orders (analytics' browsing).
    for (const step of result.steps) assert.ok(step.views!.accepted >= step.offered, `step ${step.targetRate}/s browsed: ${JSON.stringify(step.views)}`);
    assert.ok(result.knee === null || options.rates.includes(result.knee));
    assert.deepEqual(result.faults.map((f) => f.scenario), ['kill-restart', 'latency', 'outage-past-deadline']);
    for (const f of result.faults) {
      assert.equal(f.lost, 0, `${f.scenario}: accepted orders never terminal: ${JSON.stringify(f.errors)}`);
      assert.ok(f.accepted > 0 && f.timeline.length > 0);
    }
    assert.ok(result.faults[0].events.some((e) => e.what.includes('kill -9')));
    const outage = result.faults[2];
    assert.equal(outage.deadlineSeconds, 5);
    // rest refuses orders while payments is down (circuit open) rather than leave them waiting.
    if (arch !== 'rest') assert.ok((outage.timedOut ?? 0) > 0, `orders waiting on payments past the deadline time out: ${JSON.stringify(outage)}`);
  });
}

// Tracing on for real: the lab starts the services with the OTEL variables, so the Zipkin at
// ZIPKIN_URL (shared: other runs may write to it too) holds spans of all five services from
// this run's time window, and its own CPU is counted as the system's.
test('a quick traced lab run of events exports every service\'s spans to Zipkin and counts its CPU', { skip: zipkinSkip(), timeout: 240_000 }, async (t) => {
  const zipkinUrl = process.env.ZIPKIN_URL!.replace(/\/+$/, '');
  const out = mkdtempSync(join(tmpdir(), 'orderflow-lab-test-'));
  t.after(() => rmSync(out, { recursive: true, force: true }));
  const options = { ...parseLabArgs(['--quick', '--arch', 'events', '--tracing', 'on', '--no-faults', '--out', out], { ZIPKIN_URL: zipkinUrl })!, warmupSeconds: 0 };
  const started = Date.now();
  const said: string[] = [];
  const run = await runLab(options, { say: (l) => said.push(l), progress: silentProgress, command: 'orderflow lab --quick --arch events --tracing on --no-faults' });
  assert.deepEqual(run.failures.map((f) => String((f.error as Error).stack ?? f.error)), [], said.join('\n'));

  const [result] = run.report.archs;
  assert.equal(result.variant, 'tracing');
  assert.equal(run.report.settings.tracing, 'on');
  for (const step of result.steps) {
    assert.ok(step.completed > 0);
    assert.ok(step.processes.some((p) => p.name === 'zipkin'), 'Zipkin is sampled with the system');
    assert.ok(step.cost && step.cost.cpuMsPerOrder.zipkin > 0, `Zipkin's CPU per order: ${JSON.stringify(step.cost?.cpuMsPerOrder)}`);
  }
  assert.match(readFileSync(run.paths.markdown, 'utf8'), /^## events \+ tracing$/m);

  const services = ['gateway', 'orders', 'inventory', 'payments', 'shipping'];
  const names = (await (await fetch(`${zipkinUrl}/api/v2/services`)).json()) as string[];
  for (const s of services) assert.ok(names.includes(s), `${s} in ${JSON.stringify(names)}`);
  // The services flush their spans on shutdown; Zipkin may take a moment to index them.
  for (const s of services) {
    let traces: unknown[] = [];
    for (let tries = 0; tries < 50 && traces.length === 0; tries++) {
      if (tries > 0) await new Promise((resolve) => setTimeout(resolve, 200));
      const now = Date.now();
      const res = await fetch(`${zipkinUrl}/api/v2/traces?serviceName=${s}&endTs=${now}&lookback=${now - started + 1000}&limit=1`);
      assert.equal(res.status, 200);
      traces = (await res.json()) as unknown[];
    }
    assert.ok(traces.length > 0, `a trace with ${s}'s spans since the run started`);
  }
});
