import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cutShortReport, fixtureReport } from './fixture.ts';
import { renderMarkdown } from './markdown.ts';

const SERVICE_HEADER = '| Service | Requests/s | Avg | p99 |';

/** The lines of the markdown table that starts at the line equal to header. */
function tablesAfter(md: string, header: string): string[][] {
  const lines = md.split('\n');
  return lines.flatMap((l, i) => {
    if (l !== header) return [];
    const rows: string[] = [];
    for (let j = i + 2; j < lines.length && lines[j].startsWith('|'); j++) rows.push(lines[j]);
    return [rows];
  });
}

test('the summary has a per-service table for each architecture, from its knee step', () => {
  const report = fixtureReport();
  const md = renderMarkdown(report);
  const tables = tablesAfter(md, SERVICE_HEADER);
  assert.equal(tables.length, report.archs.length);
  for (const [i, a] of report.archs.entries()) {
    const names = tables[i].map((r) => r.split('|')[1].trim());
    assert.deepEqual(names, [...a.kneeStep!.services.map((s) => s.service), 'end to end (POST → terminal)']);
    assert.match(tables[i][0], /\| \d[\d.]* ms \| \d[\d.]* ms \|$/, 'avg and p99 carry their unit');
  }
  // rest's knee step is 100/s; its end-to-end row is the knee step's completion.
  const rest = tables[2].at(-1)!;
  assert.equal(rest, '| end to end (POST → terminal) | 100 | 18 ms | 60 ms |');
});

test('the summary names each knee and the knee ratios', () => {
  const md = renderMarkdown(fixtureReport());
  assert.match(md, /^- events: 400 orders\/s$/m);
  assert.match(md, /^- rest: 100 orders\/s$/m);
  assert.match(md, /^knee: 400 orders\/s$/m);
  assert.match(md, /events \/ rest: 4\.0×/);
  assert.match(md, /events \/ choreography: 1\.0×/);
});

test('the summary opens with the date, deployment, machine and command', () => {
  const md = renderMarkdown(fixtureReport());
  assert.match(md.split('\n')[0], /^# orderflow lab: 2025-06-02 09:15 UTC, embedded$/);
  assert.match(md, /AMD EPYC 7B13/);
  assert.match(md, /`orderflow lab --archs events,choreography,rest --rates 100,200,400,800`/);
});

test('the steps and fault tables have a row per step and per scenario', () => {
  const report = fixtureReport();
  const md = renderMarkdown(report);
  const stepTables = md.split('\n').filter((l) => /^\| Target\/s /.test(l));
  assert.equal(stepTables.length, 3);
  const faultHeader = md.split('\n').find((l) => l.startsWith('| Arch '))!;
  assert.match(faultHeader, /Scenario .*Service .*Rate\/s .*Accepted .*Completed .*Lost .*Failed .*Recover s .*Drain s/);
  const faultRows = tablesAfter(md, faultHeader)[0];
  assert.equal(faultRows.length, 6);
  assert.match(faultRows[1], /latency \+200 ms .*\| +n\/a \| +n\/a \|$/);
});

test('a run cut short reads n/a and no healthy step, never NaN', () => {
  const md = renderMarkdown(cutShortReport());
  assert.doesNotMatch(md, /NaN|undefined|Infinity/);
  assert.match(md, /- events: no healthy step/);
  assert.match(md, /No steps were run\./);
  assert.match(md, /No per-service table/);
  assert.equal(tablesAfter(md, SERVICE_HEADER).length, 0);
  assert.match(md, /n\/a/);
});

test('a report with no architectures still renders', () => {
  const md = renderMarkdown({ ...fixtureReport(), archs: [], kneeRatios: {} });
  assert.match(md, /No architecture was measured/);
  assert.match(md, /No fault scenarios were run/);
});

test('lost orders are called out under the fault table', () => {
  const report = fixtureReport();
  report.archs[2].faults[0].lost = 3;
  assert.match(renderMarkdown(report), /\*\*Lost orders\*\* \(accepted, never terminal\): rest kill-restart on payments: 3/);
  assert.doesNotMatch(renderMarkdown(fixtureReport()), /Lost orders\*\*/);
});

test('a knee at the top of the rate ladder is told as a lower bound', () => {
  const report = fixtureReport();
  const arch = report.archs[0];
  arch.steps = arch.steps.filter((s) => s.healthy);
  arch.knee = arch.steps.at(-1)!.targetRate;
  const md = renderMarkdown(report);
  assert.match(md, new RegExp(`- ${arch.arch}: ≥ ${arch.knee} orders/s \\(the rate ladder ended before saturation\\)`));
});

test('each architecture has per-order cost tables: CPU by process with the system total, and round trips by Kafka API', () => {
  const report = fixtureReport();
  const md = renderMarkdown(report);
  const lines = md.split('\n');
  const cpuHeaders = lines.filter((l) => /^\| Rate\/s +\| Completed\/s /.test(l));
  assert.equal(cpuHeaders.length, 3);
  assert.match(cpuHeaders[0], /\| gateway +\| orders +\| inventory +\| payments +\| shipping +\| kafka +\| postgres +\| System +\| lab \(load\) \|$/);
  // rest has no broker in its order path: no kafka column, no Kafka request columns.
  assert.doesNotMatch(cpuHeaders[2], /kafka/);
  const events = report.archs[0].steps[0];
  const firstRow = lines[lines.indexOf(cpuHeaders[0]) + 2].split('|').map((c) => c.trim());
  assert.equal(firstRow[1], String(events.targetRate));
  assert.equal(Number(firstRow.at(-3)), Number(events.cost!.systemCpuMsPerOrder.toFixed(1)));
  const tripHeaders = lines.filter((l) => l.includes('| DB statements '));
  assert.equal(tripHeaders.length, 3);
  assert.match(tripHeaders[0], /BEGIN…COMMIT \| Kafka requests \| Produce +\| Fetch +\| OffsetCommit \| Heartbeat \| Metadata \|$/);
  assert.match(tripHeaders[2], /BEGIN…COMMIT \|$/);
  assert.match(md, /Per order = counted from just before a step's load/);
});

test('a report from before the lab counted costs has no cost tables and no n/a rows for them', () => {
  const report = fixtureReport();
  for (const a of report.archs) for (const s of a.steps) delete s.cost;
  const md = renderMarkdown(report);
  assert.doesNotMatch(md, /Cost per order/);
  assert.doesNotMatch(md, /NaN|undefined/);
});

test('on SQLite (no server counts) the round-trip table has no server columns, and says what the embedded log leaves out', () => {
  const report = fixtureReport();
  report.deployment = 'embedded';
  for (const a of report.archs) for (const s of a.steps) {
    s.cost!.dbStatementsPerOrder.server = null;
    s.cost!.dbCommitsPerOrder.server = null;
  }
  const md = renderMarkdown(report);
  const header = md.split('\n').find((l) => l.includes('| DB statements '))!;
  assert.match(header, /\| DB statements \| DB commits \| BEGIN…COMMIT \|/);
  assert.match(md, /Embedded: the log runs inside the service processes/);
});
