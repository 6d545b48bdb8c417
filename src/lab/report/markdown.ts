import { archLabel, type LabReport } from '#lab/lab-result.ts';
import { costNote, cpuCostTable, roundTripTable } from './cost-tables.ts';
import {
  type Table, dateText, durationText, faultsTable, kneeRatioLines, kneeText, kneeValue, machineText, scenarioLabel,
  serviceTable, settingsText, stepErrorLines, stepsTable,
} from './tables.ts';
import { TRACING_COST_NOTE, tracingCostTable, tracingKneeLines } from './tracing-cost.ts';

/**
 * A markdown table. Padded tables line up in a terminal; the per-service table is left
 * unpadded so its header reads exactly `| Service | Requests/s | Avg | p99 |`, the form
 * readers (and scripts) look for.
 */
export function markdownTable(table: Table, pad = true): string {
  const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
  const cells = [table.headers, ...table.rows].map((r) => r.map(cell));
  const widths = table.headers.map((_, i) => (pad ? Math.max(3, ...cells.map((r) => (r[i] ?? '').length)) : 3));
  const fit = (s: string, i: number) => {
    if (!pad) return s;
    return table.numeric[i] ? s.padStart(widths[i]) : s.padEnd(widths[i]);
  };
  const line = (r: string[]) => `| ${r.map((s, i) => fit(s ?? '', i)).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (table.numeric[i] ? `${'-'.repeat(w + 1)}:` : `${'-'.repeat(w + 2)}`)).join('|')}|`;
  return [line(cells[0]), rule, ...cells.slice(1).map(line)].join('\n');
}

export function renderMarkdown(report: LabReport): string {
  const out: string[] = [];
  const archs = report.archs ?? [];
  out.push(`# orderflow lab: ${dateText(report.startedAt)}, ${report.deployment ?? 'n/a'}`);
  out.push('');
  out.push(`- deployment: ${report.deployment ?? 'n/a'}`);
  out.push(`- machine: ${machineText(report)}`);
  out.push(`- command: \`${(report.command ?? '').replace(/`/g, "'")}\``);
  out.push(`- settings: ${settingsText(report)}`);
  out.push(`- duration: ${durationText(report)} (${report.startedAt} to ${report.finishedAt})`);
  out.push('');

  out.push('## Knees');
  out.push('');
  out.push('The knee is the highest rate whose completion p99 stayed under 1 s with errors under 1 %.');
  out.push('');
  if (archs.length === 0) out.push('No architecture was measured.');
  for (const a of archs) out.push(`- ${archLabel(a)}: ${kneeValue(a)}`);
  const ratios = kneeRatioLines(report);
  if (ratios.length) {
    out.push('');
    out.push(archs.some((a) => a.variant) ? 'Knee ratios (untraced runs):' : 'Knee ratios:');
    out.push('');
    for (const r of ratios) out.push(`- ${r}`);
  }
  out.push('');

  const tracing = tracingCostTable(report);
  if (tracing) {
    out.push('## Tracing cost');
    out.push('');
    out.push(TRACING_COST_NOTE);
    out.push('');
    out.push(markdownTable(tracing));
    out.push('');
    out.push('Knees:');
    out.push('');
    for (const k of tracingKneeLines(report)) out.push(`- ${k}`);
    out.push('');
  }

  for (const a of archs) {
    out.push(`## ${archLabel(a)}`);
    out.push('');
    out.push(kneeText(a));
    out.push('');
    const services = serviceTable(a);
    if (services) {
      out.push(`Per service at the knee step (${a.kneeStep?.targetRate ?? 'n/a'} orders/s):`);
      out.push('');
      out.push(markdownTable(services, false));
    } else {
      out.push('No per-service table: no step was healthy.');
    }
    out.push('');
    if ((a.steps ?? []).length) {
      out.push('Steps (latency in ms from the intended send time; CPU % of one core, summed over the system\'s processes):');
      out.push('');
      out.push(markdownTable(stepsTable(a)));
      const errs = stepErrorLines(a);
      if (errs.length) {
        out.push('');
        out.push('Errors by kind:');
        out.push('');
        for (const e of errs) out.push(`- ${e}`);
      }
    } else {
      out.push('No steps were run.');
    }
    out.push('');
    const cpu = cpuCostTable(a);
    const trips = roundTripTable(a);
    if (cpu && trips) {
      out.push('Cost per order: CPU ms by process:');
      out.push('');
      out.push(markdownTable(cpu));
      out.push('');
      out.push('Cost per order: database statements and commits, Kafka requests by API:');
      out.push('');
      out.push(markdownTable(trips));
      out.push('');
      out.push(costNote(report.deployment, a));
      out.push('');
    }
  }

  out.push('## Fault scenarios');
  out.push('');
  const faults = faultsTable(report);
  if (faults.rows.length) {
    out.push('Lost = accepted and never terminal (must be 0). Recover = from the fault\'s end until completions keep pace with arrivals and are on time again (p99 under 1 s, three seconds in a row); drain = from the end of the load until the last accepted order was terminal.');
    out.push('');
    out.push(markdownTable(faults));
    const lost = archs.flatMap((a) => (a.faults ?? []).filter((f) => f.lost > 0).map((f) => `${archLabel(a)} ${scenarioLabel(f)} on ${f.service}: ${f.lost}`));
    if (lost.length) {
      out.push('');
      out.push(`**Lost orders** (accepted, never terminal): ${lost.join('; ')}`);
    }
  } else {
    out.push('No fault scenarios were run.');
  }
  out.push('');
  return out.join('\n');
}
