import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { LabReport } from '#lab/lab-result.ts';
import { cutShortReport, fixtureReport } from './fixture.ts';
import { renderHtml } from './html.ts';

const count = (s: string, part: string) => s.split(part).length - 1;

/** Charts: 3 across architectures, CPU and memory per architecture, 2 per fault scenario. */
const chartCount = (r: LabReport) => 3 + 2 * r.archs.length + 2 * r.archs.reduce((n, a) => n + a.faults.length, 0);

function assertSelfContained(html: string): void {
  assert.doesNotMatch(html, /src\s*=\s*["']?\s*(https?:)?\/\//i, 'no external src');
  assert.doesNotMatch(html, /<link/i, 'no linked stylesheet or font');
  assert.doesNotMatch(html, /href\s*=\s*["']?\s*(https?:)?\/\//i, 'no external href');
  assert.doesNotMatch(html, /@import|url\(/i, 'no CSS that loads anything');
  assert.doesNotMatch(html, /<script/i, 'no scripts at all');
}

test('the page is one self-contained file with inline CSS and inline SVG', () => {
  const html = renderHtml(fixtureReport());
  assertSelfContained(html);
  assert.match(html, /^<!doctype html>/);
  assert.match(html, /<style>[\s\S]+<\/style>/);
  assert.match(html, /<\/html>\n$/);
});

test('the page has one svg per chart: three overall, two per architecture and two per fault', () => {
  const report = fixtureReport();
  const html = renderHtml(report);
  assert.equal(count(html, '<svg'), chartCount(report));
  assert.equal(count(html, '<svg'), 3 + 6 + 12);
  assert.equal(count(html, '</svg>'), count(html, '<svg'));
  for (const title of ['Completion latency', 'HTTP answer latency p99', 'Completed against offered rate', 'events: CPU per process', 'rest: resident memory per process', 'choreography: kill-restart on inventory at 100 orders/s: rates', 'rest: latency +200 ms on shipping at 100 orders/s: completion p99']) {
    assert.ok(html.includes(title), title);
  }
});

test('the page has the same tables as the summary', () => {
  const html = renderHtml(fixtureReport());
  assert.equal(count(html, '<th>Service</th><th class="num">Requests/s</th><th class="num">Avg</th><th class="num">p99</th>'), 3);
  assert.match(html, /<td>end to end \(POST → terminal\)<\/td><td class="num">100<\/td><td class="num">18 ms<\/td><td class="num">60 ms<\/td>/);
  assert.equal(count(html, '<th class="num">Target/s</th>'), 3);
  assert.equal(count(html, '<th>Arch</th>'), 1);
  assert.match(html, /events \/ rest: 4\.0×/);
});

test('text from the report is escaped wherever it lands', () => {
  const report = fixtureReport();
  report.command = 'orderflow lab --note "<script>alert(1)</script>"';
  report.archs[0].kneeStep!.services[0].service = '<script>evil()</script>';
  report.archs[0].steps[0].processes[0].name = '<script>p</script>';
  report.archs[0].faults[0].service = '<img src=x onerror=alert(1)>';
  report.archs[0].faults[0].events[0].what = 'kill <script>';
  report.machine.cpuModel = 'AMD & "Co" <x>';
  const html = renderHtml(report);
  assert.doesNotMatch(html, /<script|<img|<x>/i);
  assert.match(html, /&lt;script&gt;evil\(\)&lt;\/script&gt;/);
  assert.match(html, /&lt;img src=x onerror=alert\(1\)&gt;/);
  assert.match(html, /AMD &amp; &quot;Co&quot; &lt;x&gt;/);
});

test('a run cut short renders every chart with no NaN', () => {
  const report = cutShortReport();
  const html = renderHtml(report);
  assertSelfContained(html);
  assert.doesNotMatch(html, /NaN|undefined|Infinity/);
  assert.equal(count(html, '<svg'), chartCount(report));
  assert.match(html, /no data/);
  assert.match(html, /no healthy step/);
});

test('a report read back from JSON, with nulls where numbers were NaN, renders the same', () => {
  const report = fixtureReport();
  report.archs[1].steps[3].completion.p99 = Number.NaN;
  report.archs[1].faults[0].timeline[3].completionP99 = null;
  const html = renderHtml(JSON.parse(JSON.stringify(report)));
  assert.doesNotMatch(html, /NaN/);
  assert.equal(count(html, '<svg'), chartCount(report));
});

test('one architecture and no faults make a page too', () => {
  const report = fixtureReport();
  report.archs = [{ ...report.archs[0], faults: [] }];
  report.kneeRatios = {};
  const html = renderHtml(report);
  assert.equal(count(html, '<svg'), 5);
  assert.match(html, /No fault scenarios were run/);
  assert.doesNotMatch(html, /Knee ratios/);
});

test('a report with no architectures still renders its overall charts, empty', () => {
  const html = renderHtml({ ...fixtureReport(), archs: [], kneeRatios: {} });
  assert.equal(count(html, '<svg'), 3);
  assert.doesNotMatch(html, /NaN/);
});

test('the page shows the per-order cost tables of each architecture', () => {
  const html = renderHtml(fixtureReport());
  assert.equal(count(html, '<h3>Cost per order</h3>'), 3);
  assert.equal(count(html, '<th class="num">System</th>'), 3);
  assert.equal(count(html, '<th class="num">Kafka requests</th>'), 2);
});
