import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixtureReport, tracingFixtureReport } from './fixture.ts';
import { renderHtml } from './html.ts';
import { renderMarkdown } from './markdown.ts';
import { tracingCostTable } from './tracing-cost.ts';

const TRACING_HEADER = /^\| Arch +\| Rate\/s \| CPU ms\/order off \| CPU ms\/order on \| CPU on\/off \| of which Zipkin \| Done p50 ms off \| Done p50 ms on \| Done p99 ms off \| Done p99 ms on \|$/;

/** The cells of the rows of the markdown table under the first line matching header. */
function rowsAfter(md: string, header: RegExp): string[][] {
  const lines = md.split('\n');
  const at = lines.findIndex((l) => header.test(l));
  assert.ok(at >= 0, `a line matching ${header}`);
  const rows: string[][] = [];
  for (let j = at + 2; j < lines.length && lines[j].startsWith('|'); j++) rows.push(lines[j].split('|').slice(1, -1).map((c) => c.trim()));
  return rows;
}

test('a run with both variants labels them events and events + tracing, in the knees and the sections', () => {
  const md = renderMarkdown(tracingFixtureReport());
  assert.match(md, /^- events: 400 orders\/s$/m);
  assert.match(md, /^- events \+ tracing: 200 orders\/s$/m);
  assert.match(md, /^- rest \+ tracing: 100 orders\/s$/m);
  assert.deepEqual(md.split('\n').filter((l) => l.startsWith('## ') && !/Knees|Fault|Tracing/.test(l)), ['## events', '## events + tracing', '## rest', '## rest + tracing']);
  assert.match(md, /each architecture untraced, then traced \(spans to Zipkin\)/, 'the settings say so');
  // The variant is a label, not a new architecture: knee ratios pair untraced runs only, and say so.
  assert.match(md, /^Knee ratios \(untraced runs\):$/m);
  assert.doesNotMatch(md, /tracing \/|\/ events \+/);
});

test('the tracing cost table pairs each architecture off and on, rate by rate, with the CPU ratio and Zipkin\'s share', () => {
  const report = tracingFixtureReport();
  const md = renderMarkdown(report);
  assert.match(md, /^## Tracing cost$/m);
  const rows = rowsAfter(md, TRACING_HEADER);
  assert.deepEqual(rows.map((r) => `${r[0]} ${r[1]}`), ['events 100', 'events 200', 'events 400', 'events 800', 'rest 100', 'rest 200', 'rest 400', 'rest 800']);

  const [events, eventsTraced] = report.archs;
  const off = events.steps[0];
  const on = eventsTraced.steps[0];
  const [, , cpuOff, cpuOn, ratio, zipkin, p50Off, p50On, p99Off, p99On] = rows[0];
  assert.equal(Number(cpuOff), Number(off.cost!.systemCpuMsPerOrder.toFixed(1)));
  assert.equal(Number(cpuOn), Number(on.cost!.systemCpuMsPerOrder.toFixed(1)));
  assert.equal(ratio, '1.5×');
  assert.equal(zipkin, '0.4');
  assert.deepEqual([p50Off, p50On, p99Off, p99On].map(Number), [off.completion.p50, on.completion.p50, off.completion.p99, on.completion.p99]);
  // Traced events stopped at 400/s: its 800/s has no traced side.
  assert.deepEqual(rows[3].slice(3, 6), ['n/a', 'n/a', 'n/a']);
  assert.notEqual(rows[3][2], 'n/a');

  assert.match(md, /^- events: untraced 400 orders\/s; traced 200 orders\/s$/m);
  assert.match(md, /Zipkin's own process as the tracing backend/);
  assert.match(md, /Traced: System includes the CPU of the Zipkin server/);
  assert.doesNotMatch(md, /NaN|undefined/);
});

test('the CPU table of a traced run has a zipkin column, counted in System', () => {
  const md = renderMarkdown(tracingFixtureReport());
  const headers = md.split('\n').filter((l) => /^\| Rate\/s +\| Completed\/s /.test(l));
  assert.equal(headers.length, 4);
  assert.doesNotMatch(headers[0], /zipkin/);
  assert.match(headers[1], /\| postgres +\| zipkin +\| System +\| lab \(load\) \|$/);
});

test('without both variants there is no tracing cost table, and the knee ratios read as before', () => {
  assert.equal(tracingCostTable(fixtureReport()), null);
  const md = renderMarkdown(fixtureReport());
  assert.doesNotMatch(md, /Tracing cost|\+ tracing|untraced/);
  assert.match(md, /^Knee ratios:$/m);
  // Only traced runs (--tracing on): labelled, but nothing to compare them with.
  const on = tracingFixtureReport();
  on.archs = on.archs.filter((a) => a.variant);
  assert.equal(tracingCostTable(on), null);
  assert.match(renderMarkdown(on), /^## events \+ tracing$/m);
});

test('the page shows the tracing cost table and the labels too', () => {
  const html = renderHtml(tracingFixtureReport());
  assert.match(html, /<h2>Tracing cost<\/h2>/);
  assert.match(html, /<th class="num">CPU on\/off<\/th>/);
  assert.match(html, /<td>events<\/td><td class="num">100<\/td>(<td class="num">[^<]+<\/td>){2}<td class="num">1\.5×<\/td>/);
  assert.match(html, /<h2>events \+ tracing<\/h2>/);
  assert.match(html, /<div class="arch">rest \+ tracing<\/div>/);
  assert.match(html, /Knee ratios \(untraced runs\)/);
  assert.match(html, /events \+ tracing: CPU per process/);
  assert.match(html, /events \+ tracing p99/, 'the charts name the traced series');
  assert.doesNotMatch(html, /NaN|undefined/);
  assert.doesNotMatch(renderHtml(fixtureReport()), /Tracing cost/);
});
