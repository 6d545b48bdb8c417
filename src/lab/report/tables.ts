// The report's tables as plain rows of text, built once and rendered twice (markdown and
// HTML), so summary.md and report.html can never disagree about a number.
import { archLabel, type ArchResult, type FaultResult, type LabReport, type StepResult } from '#lab/lab-result.ts';
import { NA, errorKinds, isNum, ms, num, percent } from './format.ts';

export interface Table {
  headers: string[];
  /** Per column: numbers are right-aligned. */
  numeric: boolean[];
  rows: string[][];
}

export const END_TO_END = 'end to end (POST → terminal)';

/** The load generator is not part of the system under test, so it is left out of CPU totals. */
const LOAD_GENERATOR = 'lab';

/** Per service at the knee step, plus the end-to-end row; null when there is no knee step. */
export function serviceTable(arch: ArchResult): Table | null {
  const step = arch.kneeStep;
  if (!step) return null;
  const rows = (step.services ?? []).map((s) => [s.service, num(s.requestsPerSecond), ms(s.avgMs), ms(s.p99Ms)]);
  rows.push([END_TO_END, num(step.completedRate), ms(step.completion?.mean), ms(step.completion?.p99)]);
  return { headers: ['Service', 'Requests/s', 'Avg', 'p99'], numeric: [false, true, true, true], rows };
}

export function stepsTable(arch: ArchResult): Table {
  const headers = [
    'Target/s', 'Offered/s', 'Completed/s', 'Errors',
    'HTTP p50 ms', 'HTTP p99 ms', 'Done p50 ms', 'Done p99 ms', 'Done p99.9 ms', 'Done max ms',
    'Lag max', 'CPU %', 'Healthy',
  ];
  const rows = (arch.steps ?? []).map((s) => [
    num(s.targetRate), num(s.offeredRate), num(s.completedRate), percent(s.errorRatio),
    num(s.http?.p50), num(s.http?.p99),
    num(s.completion?.p50), num(s.completion?.p99), num(s.completion?.p999), num(s.completion?.max),
    s.lag ? num(s.lag.max) : NA, num(systemCpu(s)),
    s.healthy ? (s === arch.kneeStep ? 'yes (knee)' : 'yes') : 'no',
  ]);
  return { headers, numeric: headers.map((_, i) => i < 12), rows };
}

/** Sum of the mean CPU of the system's processes, in % of one core; null when none was sampled. */
export function systemCpu(step: StepResult): number | null {
  const procs = (step.processes ?? []).filter((p) => p.name !== LOAD_GENERATOR && isNum(p.cpuPercent?.mean));
  return procs.length ? procs.reduce((sum, p) => sum + p.cpuPercent.mean, 0) : null;
}

/** "1200/s: http-503: 12, timeout: 3" for each step that had errors. */
export function stepErrorLines(arch: ArchResult): string[] {
  return (arch.steps ?? [])
    .map((s) => [s, errorKinds(s.errors)] as const)
    .filter(([, kinds]) => kinds !== '')
    .map(([s, kinds]) => `${num(s.targetRate)}/s: ${kinds}`);
}

export function scenarioLabel(f: FaultResult): string {
  if (f.scenario === 'latency') return isNum(f.latencyMs) ? `latency +${num(f.latencyMs)} ms` : 'latency';
  if (f.scenario === 'outage-past-deadline') return isNum(f.deadlineSeconds) ? `outage past the ${num(f.deadlineSeconds)} s deadline` : 'outage past the deadline';
  return f.scenario;
}

export function faultsTable(report: LabReport): Table {
  const headers = ['Arch', 'Scenario', 'Service', 'Rate/s', 'Accepted', 'Completed', 'Timed out', 'Lost', 'Failed', 'Recover s', 'Drain s'];
  const rows = (report.archs ?? []).flatMap((a) =>
    (a.faults ?? []).map((f) => [
      archLabel(a), scenarioLabel(f), f.service, num(f.rate), num(f.accepted), num(f.completed), num(f.timedOut),
      num(f.lost), num(f.failed), num(f.recoverSeconds), num(f.drainSeconds),
    ]),
  );
  return { headers, numeric: headers.map((_, i) => i >= 3), rows };
}

/**
 * "800 orders/s", "no healthy step", or "≥ 3000 orders/s (…)" when the ladder ran out
 * before the architecture saturated: its last step was still healthy, so the knee is only
 * a lower bound.
 */
export function kneeValue(arch: ArchResult): string {
  if (!isNum(arch.knee)) return 'no healthy step';
  const last = (arch.steps ?? []).at(-1);
  if (last?.healthy && last.targetRate === arch.knee) return `≥ ${num(arch.knee)} orders/s (the rate ladder ended before saturation)`;
  return `${num(arch.knee)} orders/s`;
}

export function kneeText(arch: ArchResult): string {
  return `knee: ${kneeValue(arch)}`;
}

/** "events / rest: 2.6×" per pair. */
export function kneeRatioLines(report: LabReport): string[] {
  return Object.entries(report.kneeRatios ?? {}).map(([pair, ratio]) => `${pair.split('/').join(' / ')}: ${ratioText(ratio)}`);
}

/** "2.6×", "0.85×", "12×". */
export function ratioText(ratio: unknown): string {
  if (!isNum(ratio)) return NA;
  return `${ratio >= 10 ? ratio.toFixed(0) : ratio.toFixed(ratio >= 1 ? 1 : 2)}×`;
}

/** "2 × Intel Xeon, 24 GiB, Node v24.1.0, linux". */
export function machineText(report: LabReport): string {
  const m = report.machine;
  if (!m) return NA;
  return `${num(m.cpus)} × ${m.cpuModel}, ${num(m.memoryGiB)} GiB, Node ${m.node}, ${m.platform}`;
}

// The lab runs the faults of each architecture at half its own knee unless told a rate;
// then faultRate is 0 and the rates are in the faults table.
function faultsText(report: LabReport): string {
  const s = report.settings;
  const ran = (report.archs ?? []).some((a) => (a.faults ?? []).length > 0);
  if (!ran) return 'no fault scenarios';
  const at = s.faultRate > 0 ? `${num(s.faultRate)} orders/s` : "half of each architecture's knee";
  return `faults at ${at} for ${num(s.faultSeconds)} s`;
}

export function settingsText(report: LabReport): string {
  const s = report.settings;
  if (!s) return NA;
  return [
    `rates ${(s.rates ?? []).map(num).join(', ') || NA} orders/s`,
    `${num(s.stepSeconds)} s per step after ${num(s.warmupSeconds)} s warm-up`,
    faultsText(report),
    `${num(s.partitions)} partitions`,
    ...(s.tracing === 'on' ? ['traced (spans to Zipkin)'] : s.tracing === 'both' ? ['each architecture untraced, then traced (spans to Zipkin)'] : []),
  ].join('; ');
}

/** The date part of startedAt, "2025-05-01 14:03 UTC", or the raw text when it does not parse. */
export function dateText(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso || NA;
  return `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

export function durationText(report: LabReport): string {
  const ms = new Date(report.finishedAt).getTime() - new Date(report.startedAt).getTime();
  if (!Number.isFinite(ms) || ms < 0) return NA;
  const min = Math.floor(ms / 60_000);
  const sec = Math.round((ms % 60_000) / 1000);
  return min ? `${min} min ${sec} s` : `${sec} s`;
}
