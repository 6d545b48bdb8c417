/**
 * What analytics keeps per window, as aggregations (accumulators that survive JSON, for the
 * changelog) and how a window's accumulator reads in an answer. Pure.
 *
 * - sales: orders placed, confirmed (and their revenue), cancellations by reason, and the
 *   saga's latency (placed to outcome) as a sketch, read as p50/p99. An order counts as
 *   placed in the window of its placement and as confirmed or cancelled in the window of
 *   its outcome.
 * - products: per product, units and revenue of confirmed orders, and views.
 * - conversion: per product, views, and those views followed by an order of the product by
 *   the same customer within 30 minutes (by the view's time).
 */
import { latencySketch, quantile, type Aggregator, type Sketch } from '#platform/streams/windows.ts';
import type { Conversion, Fact, Outcome } from './facts.ts';

/** What flows into the windows: a fact of the order topics or the client's, an order's outcome, or a conversion. */
export type Figure = { kind: 'fact'; fact: Fact } | { kind: 'outcome'; outcome: Outcome } | { kind: 'conversion'; conversion: Conversion };

export interface Sales {
  placed: number;
  confirmed: number;
  revenueCents: number;
  cancelled: Record<string, number>;
  latency: Sketch;
}

const latency = latencySketch<number>((ms) => ms);

export const sales: Aggregator<Figure, Sales> = {
  init: () => ({ placed: 0, confirmed: 0, revenueCents: 0, cancelled: {}, latency: latency.init() }),
  add(s, f) {
    if (f.kind === 'fact' && f.fact.kind === 'placed') s.placed++;
    if (f.kind !== 'outcome') return s;
    const o = f.outcome;
    if (o.status === 'CONFIRMED') {
      s.confirmed++;
      s.revenueCents += o.totalCents;
    } else {
      const reason = o.reason ?? 'UNKNOWN';
      s.cancelled[reason] = (s.cancelled[reason] ?? 0) + 1;
    }
    s.latency = latency.add(s.latency, o.at - o.placedAt);
    return s;
  },
};

/** The time a figure counts at, in the windows. */
export function timeOf(f: Figure): number {
  if (f.kind === 'fact') return f.fact.at;
  if (f.kind === 'outcome') return f.outcome.at;
  return f.conversion.viewedAt;
}

export interface ProductFigures {
  units: number;
  revenueCents: number;
  views: number;
}

export const products: Aggregator<Figure, Record<string, ProductFigures>> = {
  init: () => ({}),
  add(acc, f) {
    const of = (id: string) => (acc[id] ??= { units: 0, revenueCents: 0, views: 0 });
    if (f.kind === 'fact' && f.fact.kind === 'viewed') of(f.fact.productId).views++;
    if (f.kind === 'outcome' && f.outcome.status === 'CONFIRMED') {
      for (const line of f.outcome.items) {
        const p = of(line.productId);
        p.units += line.quantity;
        p.revenueCents += line.quantity * line.unitPriceCents;
      }
    }
    return acc;
  },
};

export interface ConversionFigures {
  views: number;
  converted: number;
}

export const conversion: Aggregator<Figure, Record<string, ConversionFigures>> = {
  init: () => ({}),
  add(acc, f) {
    if (f.kind === 'fact' && f.fact.kind === 'viewed') (acc[f.fact.productId] ??= { views: 0, converted: 0 }).views++;
    if (f.kind === 'conversion') (acc[f.conversion.productId] ??= { views: 0, converted: 0 }).converted++;
    return acc;
  },
};

/** A sales window as answered. */
export function salesView(s: Sales) {
  const p = (q: number) => {
    const v = quantile(s.latency, q);
    return v === undefined ? null : Math.round(v);
  };
  return { placed: s.placed, confirmed: s.confirmed, revenueCents: s.revenueCents, cancelled: s.cancelled, sagaLatencyMs: { p50: p(0.5), p99: p(0.99) } };
}

/** Products over several windows, summed, best first by units then revenue; at most `limit`. */
export function topProducts(windows: Array<Record<string, ProductFigures>>, limit: number) {
  const total = new Map<string, ProductFigures>();
  for (const w of windows) {
    for (const [id, f] of Object.entries(w)) {
      const t = total.get(id) ?? { units: 0, revenueCents: 0, views: 0 };
      total.set(id, { units: t.units + f.units, revenueCents: t.revenueCents + f.revenueCents, views: t.views + f.views });
    }
  }
  return [...total.entries()]
    .map(([productId, f]) => ({ productId, ...f }))
    .sort((a, b) => b.units - a.units || b.revenueCents - a.revenueCents || b.views - a.views || a.productId.localeCompare(b.productId))
    .slice(0, limit);
}

/** Conversion per product over several windows, summed; the rate is converted / views (null without views). */
export function conversionRates(windows: Array<Record<string, ConversionFigures>>) {
  const total = new Map<string, ConversionFigures>();
  for (const w of windows) {
    for (const [id, f] of Object.entries(w)) {
      const t = total.get(id) ?? { views: 0, converted: 0 };
      total.set(id, { views: t.views + f.views, converted: t.converted + f.converted });
    }
  }
  return [...total.entries()]
    .map(([productId, f]) => ({ productId, views: f.views, converted: f.converted, rate: f.views > 0 ? Math.round((f.converted / f.views) * 10_000) / 10_000 : null }))
    .sort((a, b) => b.converted - a.converted || b.views - a.views || a.productId.localeCompare(b.productId));
}
