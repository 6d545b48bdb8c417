// A hand-built LabReport for the report's tests and for looking at the page by eye:
// three architectures, four steps each (the last past the knee), two faults each.
import type { ArchResult, Architecture, FaultResult, LabReport, LatencySummary, ProcessUsage, StepCost, StepResult } from '#lab/lab-result.ts';

function latency(p50: number, p99: number, max = p99 * 2.5): LatencySummary {
  return { count: 1000, mean: p50 * 1.2, p50, p90: (p50 + p99) / 2, p99, p999: (p99 + max) / 2, max };
}

const SERVICES = ['gateway', 'orders', 'inventory', 'payments', 'shipping'];

function processes(rate: number, arch: Architecture): ProcessUsage[] {
  const names = [...SERVICES, 'lab'];
  return names.map((name, i) => {
    const cpu = name === 'lab' ? rate / 40 : (rate / (arch === 'rest' ? 10 : 14)) * (name === 'orders' ? 1.6 : 1) + i;
    return { name, cpuPercent: { mean: cpu, max: cpu * 1.4 }, rssMb: { mean: 90 + i * 6 + rate / 50, max: 100 + i * 6 + rate / 40 } };
  });
}

/** Costs that fall with the rate, as fixed per-request work spreads over more orders. */
function cost(arch: Architecture, rate: number, orders: number): StepCost {
  const rest = arch === 'rest';
  const f = 100 / rate;
  const cpu: Record<string, number> = { gateway: 0.5, orders: 2 * f + 1, inventory: f + 0.5, payments: f + 0.5, shipping: f + 0.5, lab: 0.3 };
  if (!rest) cpu.kafka = 3 * f;
  cpu.postgres = 2 * f + 1;
  const system = Object.entries(cpu).filter(([n]) => n !== 'lab').reduce((a, [, v]) => a + v, 0);
  const kafka: Record<string, number> = rest ? {} : { Fetch: 8 * f, Produce: 6, OffsetCommit: 5 * f, Heartbeat: 0.5 * f, Metadata: 0.01 };
  return {
    orders,
    seconds: 32,
    cpuMsPerOrder: cpu,
    systemCpuMsPerOrder: system,
    dbStatementsPerOrder: { client: rest ? 20 : 95, server: rest ? 20 : 94 },
    dbCommitsPerOrder: { client: rest ? 6 : 40, server: rest ? 6 : 41 },
    dbTransactionsPerOrder: rest ? 4 : 14,
    dbRollbacksPerOrder: { client: 0, server: 0 },
    kafkaRequestsPerOrder: kafka,
    kafkaRequestsTotalPerOrder: Object.values(kafka).reduce((a, b) => a + b, 0),
  };
}

function step(arch: Architecture, targetRate: number, completionP99: number, errorRatio: number, lagMax: number): StepResult {
  const seconds = 30;
  const offered = targetRate * seconds;
  const errors: Record<string, number> = errorRatio ? { 'http-503': Math.round(offered * errorRatio * 0.7), timeout: Math.round(offered * errorRatio * 0.3) } : {};
  const failed = Object.values(errors).reduce((a, b) => a + b, 0);
  const completed = offered - failed;
  const rest = arch === 'rest';
  return {
    targetRate,
    seconds,
    offered,
    accepted: offered - failed,
    completed,
    offeredRate: targetRate * 0.998,
    acceptedRate: (offered - failed) / seconds,
    completedRate: completed / seconds,
    errors,
    errorRatio,
    http: rest ? latency(completionP99 / 4, completionP99) : latency(3.2, 9 + completionP99 / 40),
    completion: latency(completionP99 / 4, completionP99),
    processes: processes(targetRate, arch),
    services: SERVICES.map((service, i) => ({
      service,
      requestsPerSecond: targetRate * (service === 'orders' ? 4 : service === 'gateway' ? 1 : 2),
      avgMs: 0.8 + i * 0.35 + completionP99 / 500,
      p99Ms: 4 + i * 1.5 + completionP99 / 50,
    })),
    lag: rest ? null : { max: lagMax, end: Math.round(lagMax / 10) },
    healthy: completionP99 < 1000 && errorRatio < 0.01,
    cost: cost(arch, targetRate, completed),
  };
}

function timeline(seconds: number, rate: number, dipFrom: number, dipTo: number): FaultResult['timeline'] {
  return Array.from({ length: seconds }, (_, t) => {
    const dip = t >= dipFrom && t < dipTo;
    const catchUp = t >= dipTo && t < dipTo + 4;
    return {
      t,
      offered: rate,
      accepted: dip ? rate * 0.6 : rate,
      completed: dip ? rate * 0.1 : catchUp ? rate * 1.8 : rate,
      errors: dip ? rate * 0.4 : 0,
      // No order completes in the first second of the outage: a gap in the p99 line.
      completionP99: t === dipFrom ? null : dip ? 4000 + (t - dipFrom) * 900 : catchUp ? 6000 : 120,
    };
  });
}

function faults(arch: Architecture, rate: number): FaultResult[] {
  const killed = arch === 'rest' ? 'payments' : 'inventory';
  return [
    {
      scenario: 'kill-restart', service: killed, rate, seconds: 40,
      offered: rate * 40, accepted: rate * 36, completed: rate * 36, lost: 0, failed: rate * 4,
      errors: { 'http-503': rate * 3, timeout: rate },
      recoverSeconds: arch === 'rest' ? 1.5 : 6.2, drainSeconds: 2.4,
      events: [{ t: 10, what: `kill -9 ${killed}` }, { t: 20, what: `restart ${killed}` }],
      timeline: timeline(40, rate, 10, 20),
    },
    {
      scenario: 'latency', service: 'shipping', latencyMs: 200, rate, seconds: 40,
      offered: rate * 40, accepted: rate * 40, completed: rate * 40 - 3, lost: 0, failed: 0,
      errors: {}, recoverSeconds: null, drainSeconds: null,
      events: [{ t: 10, what: 'latency +200 ms on shipping' }, { t: 30, what: 'latency off' }],
      timeline: timeline(40, rate, 10, 30),
    },
  ];
}

function arch(name: Architecture, rates: Array<[number, number, number, number]>): ArchResult {
  const steps = rates.map(([rate, p99, err, lag]) => step(name, rate, p99, err, lag));
  const healthy = steps.filter((s) => s.healthy);
  const kneeStep = healthy.length ? healthy[healthy.length - 1] : null;
  return { arch: name, steps, knee: kneeStep?.targetRate ?? null, kneeStep, faults: faults(name, 100) };
}

export function fixtureReport(): LabReport {
  return {
    startedAt: '2025-06-02T09:15:00.000Z',
    finishedAt: '2025-06-02T09:41:30.000Z',
    command: 'orderflow lab --archs events,choreography,rest --rates 100,200,400,800',
    deployment: 'embedded',
    machine: { cpus: 2, cpuModel: 'AMD EPYC 7B13', memoryGiB: 24, node: 'v24.1.0', platform: 'linux x64' },
    settings: { rates: [100, 200, 400, 800], stepSeconds: 30, warmupSeconds: 5, faultRate: 100, faultSeconds: 40, partitions: 8 },
    archs: [
      arch('events', [[100, 140, 0, 12], [200, 180, 0, 40], [400, 420, 0.002, 300], [800, 5200, 0.08, 9000]]),
      arch('choreography', [[100, 120, 0, 10], [200, 160, 0, 35], [400, 380, 0, 240], [800, 4100, 0.05, 7000]]),
      arch('rest', [[100, 60, 0, 0], [200, 2400, 0.03, 0], [400, 9000, 0.2, 0], [800, 30000, 0.55, 0]]),
    ],
    kneeRatios: { 'events/rest': 4, 'choreography/rest': 4, 'events/choreography': 1 },
  };
}

/**
 * A run cut short: one architecture with no step done, one whose only step was unhealthy
 * with NaN latencies (null once through JSON), a fault with an empty timeline, no ratios.
 */
export function cutShortReport(): LabReport {
  const full = fixtureReport();
  const broken = step('rest', 800, Number.NaN, 0.6, 0);
  broken.http = JSON.parse(JSON.stringify(broken.http));
  broken.processes = [];
  broken.services = [];
  const [kill] = faults('events', 100);
  return {
    ...full,
    finishedAt: 'not finished',
    archs: [
      { arch: 'events', steps: [], knee: null, kneeStep: null, faults: [{ ...kill, recoverSeconds: null, drainSeconds: null, events: [], timeline: [] }] },
      { arch: 'rest', steps: [{ ...broken, healthy: false }], knee: null, kneeStep: null, faults: [] },
    ],
    kneeRatios: {},
  };
}

/**
 * A traced copy of an architecture's result: each step's system CPU 1.5× with Zipkin's
 * share, completion p50 1.2× and p99 2.5× (so a step near the knee turns unhealthy), steps
 * cut to `stepCount`.
 */
function traced(a: ArchResult, stepCount: number): ArchResult {
  const steps = a.steps.slice(0, stepCount).map((s) => {
    const zipkin = 0.4;
    const cpu = { ...s.cost!.cpuMsPerOrder, zipkin, orders: s.cost!.cpuMsPerOrder.orders + s.cost!.systemCpuMsPerOrder * 0.5 - zipkin };
    return {
      ...s,
      completion: latency(s.completion.p50 * 1.2, s.completion.p99 * 2.5),
      healthy: s.completion.p99 * 2.5 < 1000 && s.errorRatio < 0.01,
      processes: [...s.processes, { name: 'zipkin', cpuPercent: { mean: 12, max: 20 }, rssMb: { mean: 300, max: 320 } }],
      cost: { ...s.cost!, cpuMsPerOrder: cpu, systemCpuMsPerOrder: s.cost!.systemCpuMsPerOrder * 1.5 },
    };
  });
  const healthy = steps.filter((s) => s.healthy);
  const kneeStep = healthy.at(-1) ?? null;
  return { ...a, variant: 'tracing', steps, knee: kneeStep?.targetRate ?? null, kneeStep, faults: a.faults.slice(0, 1) };
}

/**
 * `lab --tracing both` over events and rest: each untraced, then traced. Traced events
 * stopped a step earlier (its 800/s has no traced side) with its knee at 200/s instead of
 * 400/s; traced rest's knee is the same 100/s.
 */
export function tracingFixtureReport(): LabReport {
  const full = fixtureReport();
  const [events, , rest] = full.archs;
  return {
    ...full,
    command: 'orderflow lab --arch events,rest --rates 100,200,400,800 --tracing both',
    settings: { ...full.settings, tracing: 'both' },
    archs: [events, traced(events, 3), rest, traced(rest, 4)],
    kneeRatios: { 'events/rest': 4, 'rest/events': 0.25 },
  };
}
