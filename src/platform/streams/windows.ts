/**
 * Event-time windows and the aggregations kept in them.
 *
 * A window is [start, end): a record at time t belongs to every window with
 * start <= t < end, so a record exactly at a boundary opens the next window, not the one
 * ending there. Windows are aligned to the epoch (start is a multiple of the advance), as
 * Kafka Streams' are, so every partition and every instance cuts the same windows.
 *
 * A window is open until the watermark of its task (the largest event time processed in the
 * partition) reaches end + grace; it is then final, emitted with `final: true` and
 * evicted. A record arriving for a closed window is late: dropped from that window and
 * counted, never silently.
 *
 * Accumulators must survive JSON: they are written to the changelog after every batch.
 * The latency sketch is a small DDSketch (a log-bucketed histogram): every quantile within
 * a relative error (1% by default), mergeable, bounded in size whatever the number of
 * samples, and deterministic (no sampling), which an exact sorted list bounded per window is
 * not: it must drop samples once full. No well-kept DDSketch or t-digest on npm is light
 * enough to be worth a dependency for forty lines.
 */
import { ConfigError } from '#platform/errors.ts';

/** How a stream is cut into windows: size, advance (= size for tumbling) and grace, in ms. */
export interface WindowSpec {
  readonly sizeMs: number;
  readonly advanceMs: number;
  readonly graceMs: number;
}

/** One window's bounds, [start, end). */
export interface Window {
  start: number;
  end: number;
}

/** Non-overlapping windows of `sizeMs`; events up to `graceMs` late still count. */
export function tumbling(sizeMs: number, opts: { graceMs?: number } = {}): WindowSpec {
  return hopping(sizeMs, sizeMs, opts);
}

/** Windows of `sizeMs` starting every `advanceMs` (each event in size/advance windows). */
export function hopping(sizeMs: number, advanceMs: number, opts: { graceMs?: number } = {}): WindowSpec {
  const graceMs = opts.graceMs ?? 0;
  if (!Number.isSafeInteger(sizeMs) || sizeMs <= 0) throw ConfigError(`a window size must be a whole number of ms > 0, got ${sizeMs}`);
  if (!Number.isSafeInteger(advanceMs) || advanceMs <= 0 || advanceMs > sizeMs) {
    throw ConfigError(`a window advance must be a whole number of ms in (0, size=${sizeMs}], got ${advanceMs}`);
  }
  if (!Number.isSafeInteger(graceMs) || graceMs < 0) throw ConfigError(`a grace period must be a whole number of ms >= 0, got ${graceMs}`);
  return Object.freeze({ sizeMs, advanceMs, graceMs });
}

/** The windows holding time `t`, earliest first. */
export function windowsOf(spec: WindowSpec, t: number): Window[] {
  const out: Window[] = [];
  const last = Math.floor(t / spec.advanceMs) * spec.advanceMs;
  for (let start = last; start > t - spec.sizeMs; start -= spec.advanceMs) out.push({ start, end: start + spec.sizeMs });
  return out.reverse();
}

/** True once the watermark has passed the window's end plus the grace: final, and closed to late records. */
export function isClosed(spec: WindowSpec, w: Window, watermark: number): boolean {
  return watermark >= w.end + spec.graceMs;
}

/** An aggregation: `add` folds a value into an accumulator (it may mutate and return it). */
export interface Aggregator<V, A> {
  init(): A;
  add(acc: A, value: V): A;
}

/** Counts the records. */
export function count(): Aggregator<unknown, number> {
  return { init: () => 0, add: (n) => n + 1 };
}

/** Sums a number taken from each record (e.g. revenue in cents). */
export function sum<V>(of: (value: V) => number): Aggregator<V, number> {
  return { init: () => 0, add: (n, v) => n + of(v) };
}

/** Counts per label (e.g. cancellations by reason): { [label]: count }. */
export function countBy<V>(labelOf: (value: V) => string): Aggregator<V, Record<string, number>> {
  return {
    init: () => ({}),
    add: (acc, v) => {
      const label = labelOf(v);
      acc[label] = (acc[label] ?? 0) + 1;
      return acc;
    },
  };
}

/** A user aggregation: an initial accumulator and a fold. */
export function reducer<V, A>(init: () => A, add: (acc: A, value: V) => A): Aggregator<V, A> {
  return { init, add };
}

/** A DDSketch: counts per log-bucket of the values > 0, and the values <= 0 apart. */
export interface Sketch {
  /** Relative accuracy. */
  a: number;
  n: number;
  zero: number;
  min: number;
  max: number;
  /** Bucket index (ceil(log_gamma(x))) to count. */
  b: Record<string, number>;
}

const MAX_BUCKETS = 2048;

/** A latency sketch of a number taken from each record (e.g. ms from placed to confirmed); read with `quantile`. */
export function latencySketch<V>(of: (value: V) => number, relativeAccuracy = 0.01): Aggregator<V, Sketch> {
  if (!(relativeAccuracy > 0 && relativeAccuracy < 1)) throw ConfigError(`a sketch's relative accuracy must be in (0, 1), got ${relativeAccuracy}`);
  const logGamma = Math.log((1 + relativeAccuracy) / (1 - relativeAccuracy));
  return {
    init: () => ({ a: relativeAccuracy, n: 0, zero: 0, min: Infinity, max: -Infinity, b: {} }),
    add(s, v) {
      const x = of(v);
      s.n++;
      s.min = Math.min(s.min, x);
      s.max = Math.max(s.max, x);
      if (x <= 0) s.zero++;
      else {
        const i = String(Math.ceil(Math.log(x) / logGamma));
        s.b[i] = (s.b[i] ?? 0) + 1;
        collapse(s);
      }
      return s;
    },
  };
}

// Bounded size: past MAX_BUCKETS the lowest buckets merge into one (the low quantiles lose
// accuracy first, as in DDSketch; latencies care about the high ones).
function collapse(s: Sketch): void {
  const keys = Object.keys(s.b);
  if (keys.length <= MAX_BUCKETS) return;
  const sorted = keys.map(Number).sort((x, y) => x - y);
  const keep = sorted[sorted.length - MAX_BUCKETS];
  let moved = 0;
  for (const k of sorted) {
    if (k >= keep) break;
    moved += s.b[k];
    delete s.b[k];
  }
  s.b[keep] += moved;
}

/** The q-quantile (0..1) of a sketch, within its relative accuracy; undefined when empty. */
export function quantile(s: Sketch, q: number): number | undefined {
  if (s.n === 0) return undefined;
  const gamma = (1 + s.a) / (1 - s.a);
  // Nearest rank (as HdrHistogram reads a percentile): the p99 of three samples is the largest, not the middle one.
  const rank = Math.max(0, Math.min(s.n - 1, Math.ceil(q * s.n) - 1));
  if (rank < s.zero) return Math.max(s.min, Math.min(0, s.max));
  let seen = s.zero;
  for (const i of Object.keys(s.b).map(Number).sort((x, y) => x - y)) {
    seen += s.b[i];
    if (seen > rank) return Math.min(s.max, Math.max(s.min, (2 * gamma ** i) / (gamma + 1)));
  }
  return s.max;
}
