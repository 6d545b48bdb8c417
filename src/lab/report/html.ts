import { archLabel, type LabReport } from '#lab/lab-result.ts';
import { costNote, cpuCostTable, roundTripTable } from './cost-tables.ts';
import { errorKinds, escapeHtml } from './format.ts';
import {
  completionLatencyChart, cpuChart, faultLatencyChart, faultRatesChart, httpLatencyChart, memoryChart, throughputChart,
} from './html-charts.ts';
import {
  type Table, dateText, durationText, faultsTable, kneeRatioLines, kneeText, kneeValue, machineText,
  scenarioLabel, serviceTable, settingsText, stepErrorLines, stepsTable,
} from './tables.ts';
import { TRACING_COST_NOTE, tracingCostTable, tracingKneeLines } from './tracing-cost.ts';

// Everything inline: the page must open from a file, offline, forever (no CDN, no fonts).
const CSS = `
:root { color-scheme: light; --fg: #111827; --muted: #6b7280; --line: #e5e7eb; --bg-alt: #f9fafb; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1100px; padding: 24px; font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); }
h1 { font-size: 24px; margin: 0 0 8px; } h2 { font-size: 20px; margin: 32px 0 8px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 16px; margin: 20px 0 8px; }
.meta { color: var(--muted); margin: 0 0 4px; } .meta b { color: var(--fg); font-weight: 600; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: var(--bg-alt); padding: 1px 4px; border-radius: 3px; }
table { border-collapse: collapse; margin: 8px 0 16px; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 8px; border-bottom: 1px solid var(--line); text-align: left; white-space: nowrap; }
th { background: var(--bg-alt); font-weight: 600; } td.num, th.num { text-align: right; }
tbody tr:nth-child(even) { background: var(--bg-alt); }
.scroll { overflow-x: auto; }
.knees { display: flex; flex-wrap: wrap; gap: 12px; margin: 8px 0; }
.knee { border: 1px solid var(--line); border-radius: 6px; padding: 8px 14px; }
.knee .arch { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.knee .value { font-size: 18px; font-weight: 600; }
.bad { color: #b91c1c; font-weight: 600; }
svg.chart { display: block; max-width: 100%; height: auto; margin: 12px 0; font-family: system-ui, sans-serif; }
svg .chart-title { font-size: 14px; font-weight: 600; fill: var(--fg); }
svg .tick { font-size: 11px; fill: #4b5563; } svg .axis-label, svg .legend { font-size: 12px; fill: #374151; }
svg .marker { font-size: 11px; } svg .no-data { font-size: 14px; fill: var(--muted); }
svg .grid { stroke: #eef0f3; } svg .axis { stroke: #9ca3af; }
`;

export function htmlTable(table: Table): string {
  const cls = (i: number) => (table.numeric[i] ? ' class="num"' : '');
  const head = table.headers.map((h, i) => `<th${cls(i)}>${escapeHtml(h)}</th>`).join('');
  const body = table.rows.map((r) => `<tr>${r.map((c, i) => `<td${cls(i)}>${escapeHtml(c)}</td>`).join('')}</tr>`).join('\n');
  return `<div class="scroll"><table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table></div>`;
}

const p = (s: string) => `<p>${escapeHtml(s)}</p>`;

/** The whole report as one self-contained HTML page: inline CSS, inline SVG charts, no scripts. */
export function renderHtml(report: LabReport): string {
  const archs = report.archs ?? [];
  const title = `orderflow lab: ${dateText(report.startedAt)}, ${report.deployment ?? 'n/a'}`;
  const out: string[] = [];
  out.push('<!doctype html>', '<html lang="en">', '<head>', '<meta charset="utf-8">');
  out.push('<meta name="viewport" content="width=device-width, initial-scale=1">');
  out.push(`<title>${escapeHtml(title)}</title>`, `<style>${CSS}</style>`, '</head>', '<body>');
  out.push(`<h1>${escapeHtml(title)}</h1>`);
  const meta = (k: string, v: string) => `<p class="meta"><b>${escapeHtml(k)}</b> ${v}</p>`;
  out.push(meta('deployment', escapeHtml(report.deployment ?? 'n/a')));
  out.push(meta('machine', escapeHtml(machineText(report))));
  out.push(meta('command', `<code>${escapeHtml(report.command ?? '')}</code>`));
  out.push(meta('settings', escapeHtml(settingsText(report))));
  out.push(meta('duration', escapeHtml(`${durationText(report)} (${report.startedAt} to ${report.finishedAt})`)));

  out.push('<h2>Knees</h2>');
  out.push(p('The knee is the highest rate whose completion p99 stayed under 1 s with errors under 1 %.'));
  if (archs.length === 0) out.push(p('No architecture was measured.'));
  out.push('<div class="knees">');
  for (const a of archs) {
    out.push(`<div class="knee"><div class="arch">${escapeHtml(archLabel(a))}</div><div class="value">${escapeHtml(kneeValue(a))}</div></div>`);
  }
  out.push('</div>');
  const ratios = kneeRatioLines(report);
  if (ratios.length) out.push(`<p>Knee ratios${archs.some((a) => a.variant) ? ' (untraced runs)' : ''}: ${ratios.map(escapeHtml).join('; ')}</p>`);

  const tracing = tracingCostTable(report);
  if (tracing) {
    out.push('<h2>Tracing cost</h2>', p(TRACING_COST_NOTE), htmlTable(tracing));
    out.push(`<p>Knees:</p><ul>${tracingKneeLines(report).map((k) => `<li>${escapeHtml(k)}</li>`).join('')}</ul>`);
  }

  out.push('<h2>Latency and throughput</h2>');
  out.push(p('Latency is measured from the intended send time (coordinated omission corrected).'));
  out.push(completionLatencyChart(report), httpLatencyChart(report), throughputChart(report));

  for (const a of archs) {
    out.push(`<h2>${escapeHtml(archLabel(a))}</h2>`, p(kneeText(a)));
    const services = serviceTable(a);
    if (services) {
      out.push(`<h3>Per service at the knee step (${escapeHtml(a.kneeStep?.targetRate ?? 'n/a')} orders/s)</h3>`, htmlTable(services));
    } else {
      out.push(p('No per-service table: no step was healthy.'));
    }
    out.push('<h3>Steps</h3>');
    if ((a.steps ?? []).length) {
      out.push(p("Latency in ms from the intended send time; CPU in % of one core, summed over the system's processes."), htmlTable(stepsTable(a)));
      const errs = stepErrorLines(a);
      if (errs.length) out.push(`<p>Errors by kind:</p><ul>${errs.map((e) => `<li>${escapeHtml(e)}</li>`).join('')}</ul>`);
    } else {
      out.push(p('No steps were run.'));
    }
    const cpu = cpuCostTable(a);
    const trips = roundTripTable(a);
    if (cpu && trips) {
      out.push('<h3>Cost per order</h3>', p(costNote(report.deployment, a)));
      out.push('<p>CPU ms per order, by process:</p>', htmlTable(cpu));
      out.push('<p>Database statements and commits, Kafka requests by API, per order:</p>', htmlTable(trips));
    }
    out.push(cpuChart(a), memoryChart(a));
  }

  out.push('<h2>Fault scenarios</h2>');
  const faults = faultsTable(report);
  if (faults.rows.length) {
    out.push(p("Lost = accepted and never terminal (must be 0). Recover = from the fault's end until completions keep pace with arrivals and are on time again (p99 under 1 s, three seconds in a row); drain = from the end of the load until the last accepted order was terminal."));
    out.push(htmlTable(faults));
  } else {
    out.push(p('No fault scenarios were run.'));
  }
  for (const a of archs) {
    for (const f of a.faults ?? []) {
      out.push(`<h3>${escapeHtml(`${archLabel(a)}: ${scenarioLabel(f)} on ${f.service}`)}</h3>`);
      if (f.lost > 0) out.push(`<p class="bad">${escapeHtml(`${f.lost} accepted orders were lost`)}</p>`);
      const kinds = errorKinds(f.errors);
      if (kinds) out.push(p(`Errors by kind: ${kinds}`));
      out.push(faultRatesChart(a, f), faultLatencyChart(a, f));
    }
  }
  out.push('</body>', '</html>', '');
  return out.join('\n');
}
