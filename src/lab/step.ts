/**
 * One step of the ladder: the open model at one target rate for a few seconds, then a
 * drain, measured end to end (answers, completions, processes, services, lag).
 */
import type { Bus } from '#platform/bus/bus.ts';
import { serviceNames, type System } from '#runtime/system.ts';
import type { Architecture, ServiceLoad, StepResult } from './lab-result.ts';
import type { Client } from './client.ts';
import { openCostWindow } from './cost-window.ts';
import { healthy } from './knee.ts';
import type { CompletionTracker, OrderMix } from './load.ts';
import { createOrderRun } from './order-run.ts';
import { pace } from './pacer.ts';
import type { PgStatsReader } from './pg-stats.ts';
import { parseMetrics, serviceLoad, type Sample } from './prometheus.ts';
import type { Progress } from './progress.ts';
import { startSampler, type Watched } from './sampler.ts';

/** What a step or a fault scenario runs against: one started system of one architecture. */
export interface LabTarget {
  arch: Architecture;
  system: System;
  client: Client;
  /** Terminal events on orders.events; null on rest, where the answer is the completion. */
  tracker: CompletionTracker | null;
  /** The lab's own bus handle, for consumer lag; null on rest. */
  bus: Bus | null;
  mix: OrderMix;
  /** Processes beyond the five services: the lab itself, Kafka, PostgreSQL. */
  extraProcesses: Watched[];
  progress: Progress;
  maxInFlight?: number;
  /** PostgreSQL's counters for the run's databases; null on SQLite. */
  pgStats?: PgStatsReader | null;
}

export function watchedProcesses(target: LabTarget): Watched[] {
  // A service's CPU is that of all its instances (replicas).
  const services = serviceNames.map((name) => ({ name, pids: () => instancesOf(target.system, name).map((i) => target.system.pid(i.name)).filter((pid): pid is number => pid !== undefined) }));
  return [...services, ...target.extraProcesses];
}

const instancesOf = (system: System, name: string) => system.instances().filter((i) => i.service === name);

async function scrape(url: string): Promise<Sample[]> {
  try {
    const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5_000) });
    return res.ok ? parseMetrics(await res.text()) : [];
  } catch {
    // A service down (or one without /metrics yet) reads as no work done.
    return [];
  }
}

export async function scrapeAll(system: System): Promise<Map<string, Sample[]>> {
  const out = new Map<string, Sample[]>();
  // Counters and histograms sum over samples, so the instances' samples together are the service's.
  await Promise.all(serviceNames.map(async (name) => out.set(name, (await Promise.all(instancesOf(system, name).map((i) => scrape(i.metricsUrl)))).flat())));
  return out;
}

export function servicesLoad(before: Map<string, Sample[]>, after: Map<string, Sample[]>, seconds: number): ServiceLoad[] {
  return serviceNames.map((name) => serviceLoad(name, before.get(name) ?? [], after.get(name) ?? [], seconds));
}

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

export async function runStep(target: LabTarget, targetRate: number, seconds: number, opts: { label: string; drainMs?: number; signal?: AbortSignal }): Promise<StepResult> {
  const watched = watchedProcesses(target);
  // The cost window runs from before the load to the end of the drain, so that the work
  // of every order counted is inside it.
  const window = await openCostWindow({ watched, scrape: () => scrapeAll(target.system), pgStats: target.pgStats });
  const before = window.before;
  const scrapedAt = performance.now();
  const sampler = startSampler({ watched, bus: target.bus, arch: target.arch });
  const origin = performance.now();
  const run = createOrderRun({ arch: target.arch, client: target.client, tracker: target.tracker, mix: target.mix, origin });
  const stopProgress = target.progress.watch(opts.label, run, origin, sampler.lag);
  let usage;
  let services: ServiceLoad[];
  let cost: StepResult['cost'] = null;
  try {
    await pace({ rate: targetRate, seconds, send: run.send, overload: run.overload, maxInFlight: target.maxInFlight, signal: opts.signal });
    usage = await sampler.stop();
    const after = await scrapeAll(target.system);
    services = servicesLoad(before, after, (performance.now() - scrapedAt) / 1000);
    await run.drain(opts.drainMs ?? 30_000, opts.signal);
    cost = await window.close(run.totals().completed);
  } finally {
    stopProgress();
    await sampler.stop();
  }
  const t = run.totals();
  const errors = { ...t.errors };
  if (t.pending > 0) errors['not-completed'] = t.pending;
  const errorCount = Object.values(errors).reduce((a, b) => a + b, 0);
  const step: StepResult = {
    targetRate,
    seconds,
    offered: t.offered,
    accepted: t.accepted,
    completed: t.completed,
    offeredRate: round(t.offered / seconds),
    acceptedRate: round(t.accepted / seconds),
    // Completions inside the load window: a backlog finished during the drain is no throughput.
    completedRate: round(run.seconds.slice(0, Math.ceil(seconds)).reduce((a, s) => a + s.completed, 0) / seconds),
    errors,
    errorRatio: t.offered > 0 ? round(errorCount / t.offered, 5) : 0,
    http: run.http.summary(),
    completion: run.completion.summary(),
    processes: usage.processes,
    services,
    lag: usage.lag,
    healthy: false,
    cost,
    views: t.views,
  };
  step.healthy = healthy(step);
  return step;
}
