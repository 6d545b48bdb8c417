/**
 * Analytics' routes (for the gateway's admins): the read model, window by window.
 *   GET /analytics/sales?window=1m|1h&from=&to=           orders, revenue, cancellations by reason, saga latency p50/p99
 *   GET /analytics/products/top?window=&from=&to=&limit=   best sellers over the range (units, revenue, views)
 *   GET /analytics/conversion?window=&from=&to=            per product: views, views followed by an order within 30 min, rate
 * `from` and `to` are ISO times (windows starting in [from, to)); by default the last 60
 * windows. A range is at most 1,440 windows.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Db } from '#platform/db/db.ts';
import { conversionRates, salesView, topProducts, type ConversionFigures, type ProductFigures, type Sales } from './domain/figures.ts';
import { BadRange } from './errors.ts';
import { windowSizes, type WindowName } from './pipeline.ts';
import { windowsBetween } from './store.ts';

export const MAX_WINDOWS = 1_440;
const DEFAULT_WINDOWS = 60;

export const RangeQuery = Type.Object({
  window: Type.Union([Type.Literal('1m'), Type.Literal('1h')]),
  from: Type.Optional(Type.String({ minLength: 10, maxLength: 40, description: 'ISO 8601 time: the first window starting at or after it' })),
  to: Type.Optional(Type.String({ minLength: 10, maxLength: 40, description: 'ISO 8601 time: windows starting before it; now by default' })),
}, { additionalProperties: false });

export const TopQuery = Type.Composite([RangeQuery, Type.Object({ limit: Type.Optional(Type.String({ pattern: '^(100|[1-9][0-9]?)$', description: '1 to 100; 10 by default' })) })], { additionalProperties: false });

type Range = Static<typeof RangeQuery>;

export interface AnalyticsRoutesDeps {
  db: Db;
  clock: { now(): Date };
}

/** The range asked, in ms, aligned to window starts; refused when inverted or too long. */
export function rangeOf(q: Range, now: Date): { size: number; from: number; to: number } {
  const size = windowSizes[q.window as WindowName];
  const time = (s: string, name: string) => {
    const t = Date.parse(s);
    if (!/^\d{4}-\d{2}-\d{2}T/.test(s) || !Number.isFinite(t)) throw BadRange(`${name} must be an ISO 8601 time; got ${JSON.stringify(s)}`);
    return t;
  };
  const to = q.to === undefined ? now.getTime() + 1 : time(q.to, 'to');
  const from = q.from === undefined ? Math.floor(to / size) * size - (DEFAULT_WINDOWS - 1) * size : time(q.from, 'from');
  if (from >= to) throw BadRange('from must be before to');
  if ((to - from) / size > MAX_WINDOWS) throw BadRange(`a range is at most ${MAX_WINDOWS} windows of ${q.window}`);
  return { size, from, to };
}

export function registerRoutes(app: FastifyInstance, deps: AnalyticsRoutesDeps): void {
  const read = async <T>(kind: string, q: Range) => {
    const r = rangeOf(q, deps.clock.now());
    const rows = await windowsBetween(deps.db, `${kind}-${q.window}`, r.from, r.to, MAX_WINDOWS);
    return { range: { window: q.window, from: new Date(r.from).toISOString(), to: new Date(r.to).toISOString() }, rows: rows as Array<{ start: number; end: number; final: boolean; value: T }> };
  };

  app.get<{ Querystring: Range }>('/analytics/sales', { schema: { querystring: RangeQuery } }, async (req) => {
    const { range, rows } = await read<Sales>('sales', req.query);
    return { ...range, windows: rows.map((w) => ({ start: new Date(w.start).toISOString(), end: new Date(w.end).toISOString(), final: w.final, ...salesView(w.value) })) };
  });

  app.get<{ Querystring: Static<typeof TopQuery> }>('/analytics/products/top', { schema: { querystring: TopQuery } }, async (req) => {
    const { range, rows } = await read<Record<string, ProductFigures>>('products', req.query);
    return { ...range, products: topProducts(rows.map((w) => w.value), Number(req.query.limit ?? 10)) };
  });

  app.get<{ Querystring: Range }>('/analytics/conversion', { schema: { querystring: RangeQuery } }, async (req) => {
    const { range, rows } = await read<Record<string, ConversionFigures>>('conversion', req.query);
    return { ...range, products: conversionRates(rows.map((w) => w.value)) };
  });
}
