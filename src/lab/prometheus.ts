/**
 * Just enough of the Prometheus text format to read the services' /metrics: samples with
 * labels, histograms (_bucket, _sum, _count) and counters, and the per-service load of a
 * step from two scrapes (requests/s, mean and p99 handling time).
 */
import type { ServiceLoad } from './lab-result.ts';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\S+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?\s*/g;

export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = SAMPLE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    if (m[2]) for (const l of m[2].matchAll(LABEL)) labels[l[1]] = l[2].replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    out.push({ name: m[1], labels, value: parseValue(m[3]) });
  }
  return out;
}

function parseValue(v: string): number {
  if (v === '+Inf') return Infinity;
  if (v === '-Inf') return -Infinity;
  return Number(v);
}

export interface Histogram {
  /** Cumulative counts by upper bound, ascending; the last bound is Infinity. */
  buckets: Array<{ le: number; count: number }>;
  sum: number;
  count: number;
}

type Filter = (labels: Record<string, string>) => boolean;
const all: Filter = () => true;

/** The histogram `name` summed over every label set the filter keeps. */
export function histogram(samples: Sample[], name: string, keep: Filter = all): Histogram {
  const byLe = new Map<number, number>();
  let sum = 0;
  let count = 0;
  for (const s of samples) {
    if (s.name === `${name}_bucket`) {
      const { le, ...rest } = s.labels;
      if (le !== undefined && keep(rest)) byLe.set(parseValue(le), (byLe.get(parseValue(le)) ?? 0) + s.value);
    } else if (s.name === `${name}_sum` && keep(s.labels)) sum += s.value;
    else if (s.name === `${name}_count` && keep(s.labels)) count += s.value;
  }
  const buckets = [...byLe].map(([le, c]) => ({ le, count: c })).sort((a, b) => a.le - b.le);
  return { buckets, sum, count };
}

/** The counter `name` (with or without its _total suffix) summed over the label sets the filter keeps. */
export function counter(samples: Sample[], name: string, keep: Filter = all): number {
  const names = new Set([name, name.endsWith('_total') ? name.slice(0, -6) : `${name}_total`]);
  let total = 0;
  for (const s of samples) if (names.has(s.name) && keep(s.labels)) total += s.value;
  return total;
}

/** after − before, bucket by bucket (a restarted process starts from zero: then `after` alone). */
export function histogramDelta(before: Histogram, after: Histogram): Histogram {
  if (after.count < before.count) return after;
  const prev = new Map(before.buckets.map((b) => [b.le, b.count]));
  return {
    buckets: after.buckets.map((b) => ({ le: b.le, count: b.count - (prev.get(b.le) ?? 0) })),
    sum: after.sum - before.sum,
    count: after.count - before.count,
  };
}

/**
 * The q-quantile (0..1) of a histogram, interpolated linearly inside its bucket as
 * Prometheus' histogram_quantile does; in the histogram's unit. 0 when empty.
 */
export function quantile(h: Histogram, q: number): number {
  if (h.count <= 0 || h.buckets.length === 0) return 0;
  const rank = q * h.count;
  let prevLe = 0;
  let prevCount = 0;
  for (const b of h.buckets) {
    if (b.count >= rank) {
      // Beyond the last finite bound nothing is known but that bound.
      if (b.le === Infinity) return prevLe;
      const inBucket = b.count - prevCount;
      return inBucket <= 0 ? b.le : prevLe + (b.le - prevLe) * ((rank - prevCount) / inBucket);
    }
    prevLe = b.le;
    prevCount = b.count;
  }
  return prevLe;
}

export const HTTP_HISTOGRAM = 'orderflow_http_request_duration_seconds';
export const BATCH_HISTOGRAM = 'orderflow_message_batch_duration_seconds';
export const MESSAGES_COUNTER = 'orderflow_messages_handled_total';

/**
 * The HTTP requests a service's load is made of: the gateway's public /api/ routes; for the
 * others every route but the probes (/health/* from the supervisor, /metrics from the lab).
 */
export function countedRoute(service: string): Filter {
  return (labels) => {
    const route = labels.route ?? '';
    if (service === 'gateway') return route.startsWith('/api/');
    return !route.startsWith('/health') && route !== '/metrics';
  };
}

/** One service's work between two scrapes of its /metrics, `seconds` apart. */
export function serviceLoad(service: string, before: Sample[], after: Sample[], seconds: number): ServiceLoad {
  const keep = countedRoute(service);
  const http = histogramDelta(histogram(before, HTTP_HISTOGRAM, keep), histogram(after, HTTP_HISTOGRAM, keep));
  const batch = histogramDelta(histogram(before, BATCH_HISTOGRAM), histogram(after, BATCH_HISTOGRAM));
  const m0 = counter(before, MESSAGES_COUNTER);
  const m1 = counter(after, MESSAGES_COUNTER);
  const messages = m1 >= m0 ? m1 - m0 : m1;
  const handled = http.count + batch.count;
  const round = (n: number) => Math.round(n * 100) / 100;
  return {
    service,
    requestsPerSecond: seconds > 0 ? round((http.count + messages) / seconds) : 0,
    avgMs: handled > 0 ? round(((http.sum + batch.sum) / handled) * 1000) : 0,
    p99Ms: round(Math.max(quantile(http, 0.99), quantile(batch, 0.99)) * 1000),
  };
}
