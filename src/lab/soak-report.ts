/**
 * The soak's output: a table per sample on stderr while it runs, and summary.md with the
 * verdict at the end (report.json keeps every sample).
 */
import { markdownTable } from './report/markdown.ts';
import type { Table } from './report/tables.ts';
import type { SoakSample, SoakVerdict } from './soak-sample.ts';

export interface SoakReport {
  startedAt: string;
  finishedAt: string;
  command: string;
  deployment: 'embedded' | 'distributed';
  machine: { cpus: number; cpuModel: string; memoryGiB: number; node: string };
  settings: {
    arch: string;
    rate: number;
    minutes: number;
    sampleSeconds: number;
    logRetentionMinutes: number;
    logTrimIntervalSeconds: number;
    inboxRetentionMinutes: number;
    inboxPurgeIntervalSeconds: number;
    partitions: number;
  };
  samples: SoakSample[];
  verdict: SoakVerdict;
}

const MiB = 2 ** 20;
const count = (n: number) => n.toLocaleString('en-US');
const size = (n: number) => (n >= MiB ? `${(n / MiB).toFixed(1)} MiB` : `${(n / 1024).toFixed(0)} KiB`);
const signed = (n: number, f: (n: number) => string) => (n > 0 ? `+${f(n)}` : n < 0 ? `-${f(-n)}` : '0');

/** One sample as a table: every series, its value, and its change since the previous sample. */
export function sampleTable(s: SoakSample, previous: SoakSample | undefined): string {
  const rows: string[][] = [];
  for (const [name, n] of Object.entries(s.rows)) rows.push([name, 'rows', count(n), previous ? signed(n - (previous.rows[name] ?? 0), count) : '']);
  for (const [name, n] of Object.entries(s.bytes)) rows.push([name, 'bytes', size(n), previous ? signed(n - (previous.bytes[name] ?? 0), size) : '']);
  const table: Table = { headers: ['Series', 'Of', 'Now', 'Change'], numeric: [false, false, true, true], rows };
  const head = `t = ${(s.t / 60).toFixed(1)} min: ${count(s.orders.accepted)} orders accepted, ${count(s.orders.failed)} failed, lag ${s.lag ?? '-'}`;
  return `${head}\n${markdownTable(table)}`;
}

export function verdictTable(v: SoakVerdict): Table {
  return {
    headers: ['Series', 'Of', 'First', 'Last', 'Max, middle third', 'Max, last third', 'Growth', 'Verdict'],
    numeric: [false, false, true, true, true, true, true, false],
    rows: v.series.map((s) => {
      const f = s.kind === 'rows' ? count : size;
      const growth = Number.isFinite(s.growth) ? `${(s.growth * 100).toFixed(1)} %` : 'from 0';
      return [s.name, s.kind, f(s.first), f(s.last), f(s.middleMax), f(s.lastMax), growth, s.growsByDesign ? 'data, grows by design' : s.flat ? 'flat' : 'GROWS'];
    }),
  };
}

export function verdictLine(v: SoakVerdict): string {
  if (!v.judged) return 'too short to judge: fewer than 3 samples';
  const growing = v.series.filter((s) => !s.flat).map((s) => s.name);
  return v.flat
    ? `flat: every bounded table and file stayed within ${(v.tolerance * 100).toFixed(0)} % of its middle-third high over the last third`
    : `NOT flat: ${growing.join(', ')} kept growing`;
}

export function renderSoakMarkdown(r: SoakReport): string {
  const st = r.settings;
  const last = r.samples[r.samples.length - 1];
  return [
    `# orderflow soak: ${r.startedAt.slice(0, 16).replace('T', ' ')} UTC, ${r.deployment}`,
    '',
    `- command: \`${r.command.replace(/`/g, "'")}\``,
    `- machine: ${r.machine.cpus} × ${r.machine.cpuModel}, ${r.machine.memoryGiB} GiB, Node ${r.machine.node}`,
    `- load: ${st.arch}, ${st.rate} orders/s for ${st.minutes} min, ${st.partitions} partitions; a sample every ${st.sampleSeconds} s`,
    `- retentions: embedded log ${st.logRetentionMinutes} min (trim every ${st.logTrimIntervalSeconds} s), inbox ${st.inboxRetentionMinutes} min (purge every ${st.inboxPurgeIntervalSeconds} s)`,
    last ? `- orders: ${count(last.orders.offered)} offered, ${count(last.orders.accepted)} accepted, ${count(last.orders.failed)} failed; lag at the end ${last.lag ?? '-'}` : '- no sample',
    '',
    `**Verdict: ${verdictLine(r.verdict)}.**`,
    '',
    'Orders, their events, reservations, payments and shipments are the business\'s data and grow with',
    'the orders, as do the service database files that hold them; everything else must stay flat.',
    '',
    markdownTable(verdictTable(r.verdict)),
    '',
  ].join('\n');
}
