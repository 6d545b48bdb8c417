// Which charts the report shows, built from a LabReport with the generic chart functions.
import { archLabel, type ArchResult, type FaultResult, type LabReport, type StepResult } from '#lab/lab-result.ts';
import { barChart } from './bar-chart.ts';
import { isNum } from './format.ts';
import { type Marker, type Series, lineChart } from './line-chart.ts';
import { colorFor } from './svg.ts';
import { scenarioLabel } from './tables.ts';

const byRate = (a: ArchResult): StepResult[] => [...(a.steps ?? [])].sort((x, y) => (x.offeredRate ?? 0) - (y.offeredRate ?? 0));

function kneeMarkers(report: LabReport): Marker[] {
  return (report.archs ?? [])
    .map((a, i) => ({ a, i }))
    .filter(({ a }) => isNum(a.kneeStep?.offeredRate))
    .map(({ a, i }) => ({ x: a.kneeStep!.offeredRate, label: `knee ${archLabel(a)}`, color: colorFor(archLabel(a), i) }));
}

/** (1) Completion latency p50 and p99 against offered rate, per architecture, log y. */
export function completionLatencyChart(report: LabReport): string {
  const series: Series[] = (report.archs ?? []).flatMap((a, i) => {
    const color = colorFor(archLabel(a), i);
    const steps = byRate(a);
    return [
      { name: `${archLabel(a)} p99`, color, points: steps.map((s) => ({ x: s.offeredRate, y: s.completion?.p99 })) },
      { name: `${archLabel(a)} p50`, color, dashed: true, points: steps.map((s) => ({ x: s.offeredRate, y: s.completion?.p50 })) },
    ];
  });
  return lineChart({
    title: 'Completion latency (POST to terminal status) against offered rate',
    xLabel: 'offered orders/s', xZero: true, yLabel: 'ms', logY: true, series, markers: kneeMarkers(report),
  });
}

/** (2) HTTP answer latency p99 against offered rate. */
export function httpLatencyChart(report: LabReport): string {
  const series: Series[] = (report.archs ?? []).map((a, i) => ({
    name: `${archLabel(a)} p99`,
    color: colorFor(archLabel(a), i),
    points: byRate(a).map((s) => ({ x: s.offeredRate, y: s.http?.p99 })),
  }));
  return lineChart({ title: 'HTTP answer latency p99 (POST /api/orders) against offered rate', xLabel: 'offered orders/s', xZero: true, yLabel: 'ms', logY: true, series });
}

/** (3) Completed rate against offered rate, with the ideal y = x. */
export function throughputChart(report: LabReport): string {
  const series: Series[] = (report.archs ?? []).map((a, i) => ({
    name: archLabel(a),
    color: colorFor(archLabel(a), i),
    points: byRate(a).map((s) => ({ x: s.offeredRate, y: s.completedRate })),
  }));
  const offered = (report.archs ?? []).flatMap((a) => (a.steps ?? []).map((s) => s.offeredRate)).filter(isNum);
  if (offered.length) {
    const top = Math.max(...offered);
    series.push({ name: 'ideal (completed = offered)', color: '#9ca3af', dashed: true, dots: false, points: [{ x: 0, y: 0 }, { x: top, y: top }] });
  }
  return lineChart({ title: 'Completed against offered rate', xLabel: 'offered orders/s', xZero: true, yLabel: 'completed orders/s', series, markers: kneeMarkers(report) });
}

function usageChart(a: ArchResult, what: 'cpu' | 'memory'): string {
  const bars = (a.steps ?? []).map((s) => ({
    label: `${s.targetRate}/s`,
    segments: (s.processes ?? []).map((p) => ({ name: p.name, value: what === 'cpu' ? p.cpuPercent?.mean : p.rssMb?.mean })),
  }));
  return what === 'cpu'
    ? barChart({ title: `${archLabel(a)}: CPU per process (mean over each step)`, xLabel: 'target orders/s', yLabel: '% of one core', bars })
    : barChart({ title: `${archLabel(a)}: resident memory per process (mean over each step)`, xLabel: 'target orders/s', yLabel: 'MiB', bars });
}

/** (4) CPU per process, stacked per step. */
export const cpuChart = (a: ArchResult): string => usageChart(a, 'cpu');
/** (5) Memory per process, stacked per step. */
export const memoryChart = (a: ArchResult): string => usageChart(a, 'memory');

function faultMarkers(f: FaultResult): Marker[] {
  return (f.events ?? []).filter((e) => isNum(e.t)).map((e) => ({ x: e.t, label: e.what, color: '#b91c1c' }));
}

function faultTitle(a: ArchResult, f: FaultResult): string {
  return `${archLabel(a)}: ${scenarioLabel(f)} on ${f.service} at ${f.rate} orders/s`;
}

/** (6a) A fault scenario's rates over time, with its events as vertical markers. */
export function faultRatesChart(a: ArchResult, f: FaultResult): string {
  const tl = f.timeline ?? [];
  const line = (name: string, color: string, pick: (p: FaultResult['timeline'][number]) => number | null, dashed = false): Series => ({
    name, color, dashed, dots: false, points: tl.map((p) => ({ x: p.t, y: pick(p) })),
  });
  return lineChart({
    title: `${faultTitle(a, f)}: rates`,
    xLabel: 'seconds since the load started', yLabel: 'orders/s',
    series: [
      line('offered/s', '#9ca3af', (p) => p.offered, true),
      line('accepted/s', '#2563eb', (p) => p.accepted),
      line('completed/s', '#059669', (p) => p.completed),
      line('errors/s', '#dc2626', (p) => p.errors),
    ],
    markers: faultMarkers(f),
  });
}

/** (6b) A fault scenario's completion p99 per second, log y. */
export function faultLatencyChart(a: ArchResult, f: FaultResult): string {
  return lineChart({
    title: `${faultTitle(a, f)}: completion p99`,
    xLabel: 'seconds since the load started', yLabel: 'ms', logY: true,
    series: [{ name: 'completion p99', color: '#7c3aed', dots: false, points: (f.timeline ?? []).map((p) => ({ x: p.t, y: p.completionP99 })) }],
    markers: faultMarkers(f),
  });
}
