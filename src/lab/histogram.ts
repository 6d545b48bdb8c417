/**
 * Latency histograms: node's native HdrHistogram (node:perf_hooks createHistogram), fed
 * integer microseconds so sub-millisecond answers keep their resolution, read in
 * milliseconds. Histograms merge exactly, so per-second ones add up to a step's.
 */
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';
import type { LatencySummary } from './lab-result.ts';

export interface LatencyHistogram {
  /** Records one latency in milliseconds (negative or zero counts as 1 µs). */
  record(ms: number): void;
  /** Adds every value of `other` into this one. */
  add(other: LatencyHistogram): void;
  count(): number;
  /** p in 0..100; 0 when empty. */
  percentile(p: number): number;
  summary(): LatencySummary;
  reset(): void;
  /** The underlying native histogram. */
  readonly native: RecordableHistogram;
}

const MICROS_PER_MS = 1000;

export function createLatencyHistogram(): LatencyHistogram {
  const h = createHistogram({ lowest: 1, highest: 3_600_000_000, figures: 3 });
  const ms = (us: number) => us / MICROS_PER_MS;
  const self: LatencyHistogram = {
    native: h,
    record(value) {
      const us = Math.round(value * MICROS_PER_MS);
      h.record(Math.min(3_600_000_000, Math.max(1, Number.isFinite(us) ? us : 1)));
    },
    add(other) {
      h.add(other.native);
    },
    count: () => h.count,
    percentile: (p) => (h.count === 0 ? 0 : ms(h.percentile(p))),
    summary() {
      if (h.count === 0) return emptySummary();
      return { count: h.count, mean: ms(h.mean), p50: ms(h.percentile(50)), p90: ms(h.percentile(90)), p99: ms(h.percentile(99)), p999: ms(h.percentile(99.9)), max: ms(h.max) };
    },
    reset: () => h.reset(),
  };
  return self;
}

export function emptySummary(): LatencySummary {
  return { count: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 };
}

/** One histogram holding every value of the given ones. */
export function mergeHistograms(histograms: LatencyHistogram[]): LatencyHistogram {
  const out = createLatencyHistogram();
  for (const h of histograms) out.add(h);
  return out;
}
