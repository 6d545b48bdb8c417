/**
 * When a step is healthy, when the system is saturated, and where the knee is. Pure.
 */
import type { StepResult } from './lab-result.ts';

export const HEALTHY_P99_MS = 1000;
export const HEALTHY_ERROR_RATIO = 0.01;

type StepFigures = Pick<StepResult, 'targetRate' | 'completed' | 'completedRate' | 'errorRatio' | 'completion'>;

/**
 * Completion p99 under 1 s and under 1 % errors. Orders left unfinished after the step's
 * drain are errors (`not-completed`), so a step whose completions fall behind its
 * acceptances cannot pass as healthy.
 */
export function healthy(step: StepFigures): boolean {
  return step.completed > 0 && step.completion.p99 < HEALTHY_P99_MS && step.errorRatio < HEALTHY_ERROR_RATIO;
}

/** Past this, higher rates only measure a queue: completions lag arrivals, latency or errors explode. */
export function saturated(step: StepFigures): boolean {
  return step.completedRate < 0.9 * step.targetRate || step.completion.p99 > 5000 || step.errorRatio > 0.1;
}

/** Stop after the first saturated step, or after two unhealthy steps in a row. */
export function shouldStop(steps: StepFigures[]): boolean {
  const last = steps.at(-1);
  if (!last) return false;
  if (saturated(last)) return true;
  const before = steps.at(-2);
  return before !== undefined && !healthy(before) && !healthy(last);
}

/** The highest target rate of a healthy step, or null when no step was healthy. */
export function knee<S extends StepFigures>(steps: S[]): { rate: number; step: S } | null {
  let best: S | null = null;
  for (const s of steps) if (healthy(s) && (best === null || s.targetRate > best.targetRate)) best = s;
  return best ? { rate: best.targetRate, step: best } : null;
}

/** knee(a) / knee(b) for each ordered pair of architectures that both have a knee, e.g. 'events/rest'. */
export function kneeRatios(knees: Array<{ arch: string; knee: number | null }>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const a of knees) {
    for (const b of knees) {
      if (a === b || a.knee === null || b.knee === null || b.knee === 0) continue;
      out[`${a.arch}/${b.arch}`] = Math.round((a.knee / b.knee) * 100) / 100;
    }
  }
  return out;
}
