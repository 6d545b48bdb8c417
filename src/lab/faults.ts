/**
 * Fault scenarios under a steady load: payments killed (SIGKILL) and restarted by the
 * supervisor, slowed down by added latency, or stopped for longer than the saga's step
 * deadline (the orders waiting on it are cancelled as TIMEOUT and compensated; those placed
 * later complete once it is back). What counts: no accepted order is lost, how many fail or
 * time out, and how long the system takes to catch up once the fault is over.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { FaultEvent, FaultResult, TimelinePoint } from './lab-result.ts';
import { createOrderRun, type OrderRun } from './order-run.ts';
import { pace } from './pacer.ts';
import type { LabTarget } from './step.ts';

export type Scenario = FaultResult['scenario'];

export interface FaultTiming {
  /** Seconds into the load when the fault starts. */
  at: number;
  /** kill-restart: seconds until the supervisor restarts the service. */
  restartAfter: number;
  /**
   * The orders service's saga step deadline (ORDERS_STEP_DEADLINE_MS) the lab starts the
   * system with; outage-past-deadline keeps the service down for this plus restartAfter.
   */
  deadline: number;
  /** latency: seconds the latency stays on. */
  latencyFor: number;
  latencyMs: number;
  /** Most seconds to wait after the load for accepted orders to complete. */
  drainSeconds: number;
}

// deadline: the orders service's own default, so the ladder measures the system as shipped.
export const defaultTiming: FaultTiming = { at: 10, restartAfter: 10, deadline: 30, latencyFor: 15, latencyMs: 200, drainSeconds: 60 };

const FAULTY = 'payments' as const;
// Ctrl-C cuts a wait short; what follows the wait still runs (the latency is removed).
const sleep = (ms: number, signal?: AbortSignal) => delay(Math.max(0, ms), undefined, { signal }).catch(() => undefined);

export async function runFault(target: LabTarget, scenario: Scenario, rate: number, seconds: number, timing: FaultTiming = defaultTiming, signal?: AbortSignal): Promise<FaultResult> {
  const origin = performance.now();
  const since = () => Math.round((performance.now() - origin) / 100) / 10;
  const events: FaultEvent[] = [];
  const run = createOrderRun({ arch: target.arch, client: target.client, tracker: target.tracker, mix: target.mix, origin });
  const stopProgress = target.progress.watch(`${target.arch} fault ${scenario}`, run, origin, () => null);
  let faultEnd: number | null = null;
  const fault = (async () => {
    await sleep(timing.at * 1000, signal);
    if (signal?.aborted) return;
    if (scenario === 'kill-restart' || scenario === 'outage-past-deadline') {
      const restartAfter = scenario === 'kill-restart' ? timing.restartAfter : timing.deadline + timing.restartAfter;
      const restartsBefore = target.system.restarts(FAULTY);
      events.push({ t: since(), what: `kill -9 ${FAULTY}${scenario === 'kill-restart' ? '' : `, down for ${restartAfter} s (step deadline ${timing.deadline} s)`}` });
      // Resolves once the service is back (the supervisor's crash), or at once where it returns nothing.
      await Promise.resolve(target.system.crash(FAULTY, restartAfter * 1000));
      await untilBack(target, restartsBefore, (restartAfter + 60) * 1000);
      faultEnd = performance.now();
      events.push({ t: since(), what: `${FAULTY} restarted and healthy` });
    } else {
      await target.system.setLatency(FAULTY, timing.latencyMs);
      events.push({ t: since(), what: `+${timing.latencyMs} ms latency on ${FAULTY}` });
      try {
        await sleep(timing.latencyFor * 1000, signal);
      } finally {
        await target.system.setLatency(FAULTY, 0);
      }
      faultEnd = performance.now();
      events.push({ t: since(), what: `latency on ${FAULTY} removed` });
    }
  })();
  let loadEnd: number;
  let lastCompletion: number | null;
  try {
    await pace({ rate, seconds, send: run.send, overload: run.overload, maxInFlight: target.maxInFlight, signal });
    loadEnd = performance.now();
    events.push({ t: since(), what: 'load stopped' });
    await fault;
    lastCompletion = await run.drain(timing.drainSeconds * 1000, signal);
  } finally {
    stopProgress();
    await fault.catch(() => undefined);
  }
  const t = run.totals();
  const endSecond = faultEnd === null ? null : (faultEnd - origin) / 1000;
  return {
    scenario,
    service: FAULTY,
    ...(scenario === 'latency' ? { latencyMs: timing.latencyMs } : {}),
    ...(scenario === 'outage-past-deadline' ? { deadlineSeconds: timing.deadline } : {}),
    rate,
    seconds,
    offered: t.offered,
    accepted: t.accepted,
    completed: t.completed,
    lost: t.pending,
    timedOut: t.timedOut,
    failed: t.failed,
    errors: t.errors,
    recoverSeconds: endSecond === null ? null : recoverSeconds(timeline(run), rate, endSecond),
    drainSeconds: t.pending > 0 || lastCompletion === null ? (t.pending > 0 ? null : 0) : Math.round(Math.max(0, lastCompletion - loadEnd) / 100) / 10,
    events,
    timeline: timeline(run),
  };
}

/** Until the supervisor restarted the service and it is ready again. */
async function untilBack(target: LabTarget, restartsBefore: number, timeoutMs: number): Promise<void> {
  const until = performance.now() + timeoutMs;
  while (performance.now() < until) {
    if (target.system.restarts(FAULTY) > restartsBefore) {
      const ok = await fetch(`${target.system.urls[FAULTY]}/health/ready`, { signal: AbortSignal.timeout(1000) }).then((r) => r.ok, () => false);
      if (ok) return;
    }
    await sleep(100);
  }
}

export function timeline(run: OrderRun): TimelinePoint[] {
  return run.seconds.map((s, t) => ({
    t,
    offered: s.offered,
    accepted: s.accepted,
    completed: s.completed,
    errors: s.errors,
    completionP99: s.completion.count() > 0 ? Math.round(s.completion.percentile(99) * 10) / 10 : null,
  }));
}

/**
 * Seconds from the fault's end until the system is back to normal: the first second, from
 * the one the fault ended in, that starts three in a row where completions keep pace with
 * arrivals (≥ 90 % of the orders offered that second) AND the orders completing then took
 * under 1 s (p99). Pace alone would call a system recovered while it is still working off
 * the backlog of the fault, completing many orders per second, each of them late.
 */
export function recoverSeconds(points: TimelinePoint[], rate: number, faultEndSecond: number): number | null {
  const from = Math.floor(faultEndSecond);
  const normal = (p: TimelinePoint) => p.completed >= 0.9 * Math.min(rate, p.offered) && (p.completionP99 ?? 0) < 1000;
  for (let i = from; i + 2 < points.length; i++) {
    if ([0, 1, 2].every((k) => normal(points[i + k]))) return Math.max(0, Math.round((i - faultEndSecond) * 10) / 10);
  }
  return null;
}
