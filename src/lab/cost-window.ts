/**
 * The counting window of a per-order cost, shared by the lab's steps and the bench's runs:
 * opened just before the load (CPU time, the services' /metrics, PostgreSQL's counters),
 * closed once the load's orders are done, divided by the orders completed.
 */
import type { StepCost } from './lab-result.ts';
import { stepCost } from './cost.ts';
import { cpuDelta, cpuSnapshot } from './cpu-time.ts';
import type { PgStatsReader } from './pg-stats.ts';
import type { Sample } from './prometheus.ts';
import type { Watched } from './sampler.ts';

export interface CostWindow {
  /** The services' /metrics as read when the window opened (the step's load figures start here too). */
  readonly before: Map<string, Sample[]>;
  close(orders: number): Promise<StepCost | null>;
}

export async function openCostWindow(o: { watched: Watched[]; scrape: () => Promise<Map<string, Sample[]>>; pgStats?: PgStatsReader | null }): Promise<CostWindow> {
  const cpuBefore = cpuSnapshot(o.watched);
  const [before, pgBefore] = await Promise.all([o.scrape(), o.pgStats?.read() ?? null]);
  const openedAt = performance.now();
  const reaping = new Set(o.watched.filter((w) => w.reapsChildren).map((w) => w.name));
  return {
    before,
    async close(orders) {
      const cpuAfter = cpuSnapshot(o.watched);
      const [after, pgAfter] = await Promise.all([o.scrape(), o.pgStats?.read() ?? null]);
      return stepCost({
        orders,
        seconds: (performance.now() - openedAt) / 1000,
        cpuMs: cpuDelta(cpuBefore, cpuAfter, reaping),
        before,
        after,
        pgBefore,
        pgAfter,
      });
    },
  };
}
