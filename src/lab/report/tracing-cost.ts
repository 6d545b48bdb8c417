// What tracing costs, when a run has each architecture both untraced and traced (lab
// --tracing both): per architecture and rate, the system's CPU per order and the completion
// latency side by side. Built once for the markdown and the HTML, like tables.ts.
import { type ArchResult, type LabReport, type StepResult } from '#lab/lab-result.ts';
import { perOrder } from './cost-tables.ts';
import { NA, isNum, num } from './format.ts';
import { type Table, kneeValue, ratioText } from './tables.ts';

/** Each architecture that ran both ways: its untraced and its traced result. */
export function tracingPairs(report: LabReport): Array<{ off: ArchResult; on: ArchResult }> {
  const archs = report.archs ?? [];
  return archs.flatMap((on) => {
    if (on.variant !== 'tracing') return [];
    const off = archs.find((a) => a.arch === on.arch && !a.variant);
    return off ? [{ off, on }] : [];
  });
}

const systemCpu = (s: StepResult | undefined): number | undefined => (isNum(s?.cost?.systemCpuMsPerOrder) ? s.cost.systemCpuMsPerOrder : undefined);

/**
 * A row per architecture and rate that either run measured (a rate only one reached, the
 * other having stopped at saturation, reads n/a on the other side); null without a pair.
 */
export function tracingCostTable(report: LabReport): Table | null {
  const pairs = tracingPairs(report);
  if (pairs.length === 0) return null;
  const headers = [
    'Arch', 'Rate/s', 'CPU ms/order off', 'CPU ms/order on', 'CPU on/off', 'of which Zipkin',
    'Done p50 ms off', 'Done p50 ms on', 'Done p99 ms off', 'Done p99 ms on',
  ];
  const rows = pairs.flatMap(({ off, on }) => {
    const rates = [...new Set([...(off.steps ?? []), ...(on.steps ?? [])].map((s) => s.targetRate))].sort((a, b) => a - b);
    return rates.map((rate) => {
      const a = (off.steps ?? []).find((s) => s.targetRate === rate);
      const b = (on.steps ?? []).find((s) => s.targetRate === rate);
      const cpuOff = systemCpu(a);
      const cpuOn = systemCpu(b);
      return [
        off.arch, num(rate), perOrder(cpuOff), perOrder(cpuOn),
        cpuOff !== undefined && cpuOn !== undefined && cpuOff > 0 ? ratioText(cpuOn / cpuOff) : NA,
        perOrder(b?.cost?.cpuMsPerOrder?.zipkin),
        num(a?.completion?.p50), num(b?.completion?.p50), num(a?.completion?.p99), num(b?.completion?.p99),
      ];
    });
  });
  return { headers, numeric: headers.map((_, i) => i > 0), rows };
}

/** "events: untraced 800 orders/s; traced 600 orders/s" per pair. */
export function tracingKneeLines(report: LabReport): string[] {
  return tracingPairs(report).map(({ off, on }) => `${off.arch}: untraced ${kneeValue(off)}; traced ${kneeValue(on)}`);
}

export const TRACING_COST_NOTE =
  'Each architecture ran untraced, then traced, back to back in this run and at the same rates; traced, every service exported its spans to Zipkin ' +
  '(sampled as OTEL_TRACES_SAMPLER says: by default every order). CPU ms per order is the system\'s, as in the cost tables: the services, the bus and ' +
  'database servers, and, traced, Zipkin\'s own process as the tracing backend ("of which Zipkin"); the load generator is left out. ' +
  'Done = completion latency, from the intended send time to the terminal status. A rate that only one run reached reads n/a on the other side. ' +
  'A service drops the spans that overflow its export queue (OTEL_BSP_MAX_QUEUE_SIZE, 2048 by default, passed on from the lab\'s environment), so at high rates "on" may not have exported every span.';
