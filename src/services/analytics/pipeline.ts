/**
 * Analytics' stream processing, on the platform's streams layer (platform/streams): three
 * processors, each a consumer group with its tasks, changelogs and exactly-once state.
 *
 *   orders.events ──▶ lifecycle (by order) ──▶ analytics.order-outcomes ─┐
 *   client.events ─┬▶ conversion (join by customer, 30 min) ──▶ analytics.conversions ─┤
 *   orders.events ─┘                                                                    ├▶ windows ──▶ analytics.windows
 *   orders.events (placed), client.events (views) ──────────────────────────────────────┘
 *
 * - lifecycle: keeps each placed order until its outcome, then emits the outcome with its
 *   placement time and lines (OrderConfirmed carries only the order id), for the saga's
 *   latency and the products sold.
 * - conversion: a view (of a customer: an anonymous view has no order to meet) joined with
 *   that customer's orders placed within 30 minutes after it; a match when the order holds
 *   the viewed product.
 * - windows: every figure re-keyed to one group ('all') and aggregated in tumbling windows
 *   of 1 minute and 1 hour (figures.ts). One group is one partition: enough for thousands
 *   of orders a second; a per-product key would spread it when it is not.
 *
 * Conversions are counted at the view's time, and a view's conversion can come up to 30
 * minutes later, so the conversion windows wait that long plus the grace before they close.
 *
 * Each task takes its inputs in event-time order (platform/streams/input-buffers.ts), and the
 * windows processor names lifecycle and conversion as the upstream of their topics: it waits
 * for them, a stage behind, rather than run ahead on views and placements. So a backlog or a
 * burst counts as if it had come live; the grace is for facts that come late from outside.
 */
import type { Bus, InRecord } from '#platform/bus/bus.ts';
import { decode } from '#platform/bus/envelope.ts';
import type { Logger } from '#platform/log.ts';
import { windowedAggregate } from '#platform/streams/aggregate.ts';
import { windowedJoin } from '#platform/streams/join.ts';
import { input, startProcessor, type Processor } from '#platform/streams/processor.ts';
import { createDeadlines } from '#platform/streams/state-store.ts';
import type { OperatorSpec } from '#platform/streams/task.ts';
import { tumbling } from '#platform/streams/windows.ts';
import { ConversionRecord, OrderOutcomeRecord, Topics, WindowRecord } from '#contracts/index.ts';
import { factOf, type Conversion, type Fact, type Outcome } from './domain/facts.ts';
import { PipelineBusy } from './errors.ts';
import { conversion, products, sales, timeOf, type Figure } from './domain/figures.ts';

/** The topics the processors publish; their records are described in contracts/analytics.ts. */
export const AnalyticsTopics = {
  outcomes: OrderOutcomeRecord.topic,
  conversions: ConversionRecord.topic,
  windows: WindowRecord.topic,
} as const;

/** The window sizes served, by their name in the API. */
export const windowSizes = { '1m': 60_000, '1h': 3_600_000 } as const;
export type WindowName = keyof typeof windowSizes;

export const CONVERSION_WINDOW_MS = 30 * 60_000;
/** A placed order with no outcome after this long (event time) is forgotten by the lifecycle. */
const FORGET_PLACED_AFTER_MS = 2 * 24 * 3_600_000;
/** Producers' duplicates (a relay's at-least-once) are recognised by message id within this time. */
const DEDUPE_WITHIN_MS = 3_600_000;

export interface PipelineOptions {
  bus: Bus;
  partitions: number;
  /** How late (event time) a fact may arrive and still count in its window. */
  graceMs: number;
  log?: Logger;
}

/** A message of an order or client topic as a fact; undefined for anything else (a record that is not an envelope included). */
function factOfRecord(r: InRecord): Fact | undefined {
  try {
    return factOf(decode(r));
  } catch {
    return undefined;
  }
}

const json = <T>(r: InRecord): T | undefined => {
  try {
    return JSON.parse(r.value) as T;
  } catch {
    return undefined;
  }
};

/** Keeps each placed order until its outcome; emits the outcome with the placement's facts. */
function lifecycle(output: string): OperatorSpec {
  return {
    name: 'lifecycle',
    topics: [Topics.ordersEvents],
    stores: ['placed'],
    outputs: [output],
    instantiate(ctx) {
      const placed = ctx.store<Extract<Fact, { kind: 'placed' }>>('placed');
      const forget = createDeadlines();
      return {
        process(rec) {
          const f = rec.value as Fact;
          if (f.kind === 'placed') {
            placed.put(f.orderId, f);
            forget.add(f.at + FORGET_PLACED_AFTER_MS, f.orderId);
            return;
          }
          if (f.kind !== 'confirmed' && f.kind !== 'cancelled') return;
          const p = placed.get(f.orderId);
          if (!p) return; // placed before analytics' history began
          const outcome: Outcome = {
            orderId: f.orderId, status: f.kind === 'confirmed' ? 'CONFIRMED' : 'CANCELLED', ...(f.kind === 'cancelled' ? { reason: f.reason } : {}),
            placedAt: p.at, at: f.at, totalCents: p.totalCents, items: p.items,
          };
          ctx.emit(output, f.orderId, outcome);
          placed.delete(f.orderId);
        },
        advance() {
          for (const orderId of forget.due(ctx.watermark)) placed.delete(orderId);
        },
        restored() {
          for (const [orderId, p] of placed.entries()) forget.add(p.at + FORGET_PLACED_AFTER_MS, orderId);
        },
      };
    },
  };
}

const factInput = (topic: string, rekey?: (f: Fact) => string | undefined) =>
  input<Fact>({ topic, decode: factOfRecord, time: (f) => f.at, dedupe: { id: (f) => f.id, withinMs: DEDUPE_WITHIN_MS }, ...(rekey ? { rekey } : {}) });

/** Starts the three processors; close them in any order. */
export async function startPipeline(o: PipelineOptions): Promise<Processor[]> {
  const { bus, partitions, graceMs, log } = o;
  const started: Processor[] = [];
  try {
    const lifecycleProcessor = await startProcessor({
      bus, app: 'analytics-lifecycle', partitions, log,
      inputs: [factInput(Topics.ordersEvents)],
      operators: [lifecycle(AnalyticsTopics.outcomes)],
    });
    started.push(lifecycleProcessor);

    const conversionProcessor = await startProcessor({
      bus, app: 'analytics-conversion', partitions, log,
      inputs: [
        factInput(Topics.clientEvents, (f) => (f.kind === 'viewed' ? f.customerId : undefined)),
        factInput(Topics.ordersEvents, (f) => (f.kind === 'placed' ? f.customerId : undefined)),
      ],
      operators: [windowedJoin<Fact, Fact>({
        name: 'views-orders', left: { topic: Topics.clientEvents }, right: { topic: Topics.ordersEvents },
        beforeMs: 0, afterMs: CONVERSION_WINDOW_MS, graceMs, output: AnalyticsTopics.conversions,
        join(view, order) {
          const v = view.value;
          const p = order.value;
          if (v.kind !== 'viewed' || p.kind !== 'placed' || !p.items.some((i) => i.productId === v.productId)) return undefined;
          const c: Conversion = { productId: v.productId, viewedAt: v.at, orderedAt: p.at, orderId: p.orderId };
          return c;
        },
      })],
    });
    started.push(conversionProcessor);

    const all = () => 'all';
    const figures = [
      input<Figure>({ topic: Topics.ordersEvents, decode: (r) => wrapFact(r, 'placed'), time: timeOf, rekey: all, dedupe: { id: (f) => (f.kind === 'fact' ? f.fact.id : ''), withinMs: DEDUPE_WITHIN_MS } }),
      input<Figure>({ topic: Topics.clientEvents, decode: (r) => wrapFact(r, 'viewed'), time: timeOf, rekey: all, dedupe: { id: (f) => (f.kind === 'fact' ? f.fact.id : ''), withinMs: DEDUPE_WITHIN_MS } }),
      // Written by the processors above, a stage behind the order and client topics: not
      // caught up until those are (platform/streams/caught-up.ts).
      input<Figure>({ topic: AnalyticsTopics.outcomes, decode: (r) => wrap(json<Outcome>(r), 'outcome'), time: timeOf, rekey: all, upstream: lifecycleProcessor.groups }),
      input<Figure>({ topic: AnalyticsTopics.conversions, decode: (r) => wrap(json<Conversion>(r), 'conversion'), time: timeOf, rekey: all, upstream: conversionProcessor.groups }),
    ];
    const topics = figures.map((f) => f.topic);
    const operators = Object.entries(windowSizes).flatMap(([name, size]) => [
      windowedAggregate({ name: `sales-${name}`, topics, windows: tumbling(size, { graceMs }), aggregator: sales, output: AnalyticsTopics.windows, groupBy: all, filter: (f) => f.kind === 'outcome' || (f.kind === 'fact' && f.fact.kind === 'placed') }),
      windowedAggregate({ name: `products-${name}`, topics, windows: tumbling(size, { graceMs }), aggregator: products, output: AnalyticsTopics.windows, groupBy: all, filter: (f) => f.kind === 'outcome' || (f.kind === 'fact' && f.fact.kind === 'viewed') }),
      windowedAggregate({ name: `conversion-${name}`, topics, windows: tumbling(size, { graceMs: graceMs + CONVERSION_WINDOW_MS }), aggregator: conversion, output: AnalyticsTopics.windows, groupBy: all, filter: (f) => f.kind === 'conversion' || (f.kind === 'fact' && f.fact.kind === 'viewed') }),
    ]);
    // Large batches: a batch writes every window it changed, whole, to the changelog and the output; at
    // thousands of figures a second, 200 a batch rewrote the same few windows fifty times a second.
    started.push(await startProcessor({ bus, app: 'analytics-windows', partitions, log, inputs: figures, operators, maxBatch: 2_000 }));
    return started;
  } catch (err) {
    for (const p of started) await p.close().catch(() => undefined);
    throw err;
  }
}

/** The consumer groups of the pipeline and what each reads: for a wait until it is idle. */
export function pipelineGroups(): Array<[string, string[]]> {
  const rekeyed = (app: string, topics: string[]) => topics.map((t) => `${app}.${t}.repartition`);
  const windowInputs = [Topics.ordersEvents, Topics.clientEvents, AnalyticsTopics.outcomes, AnalyticsTopics.conversions];
  return [
    ['analytics-lifecycle', [Topics.ordersEvents]],
    ['analytics-conversion.repartition', [Topics.clientEvents, Topics.ordersEvents]],
    ['analytics-conversion', rekeyed('analytics-conversion', [Topics.clientEvents, Topics.ordersEvents])],
    ['analytics-windows.repartition', windowInputs],
    ['analytics-windows', rekeyed('analytics-windows', windowInputs)],
  ];
}

/** Resolves once every group of the pipeline has consumed all there is, twice in a row 200 ms apart (one stage feeds the next). */
export async function untilIdle(bus: Bus, timeoutMs: number): Promise<void> {
  const idle = async () => (await Promise.all(pipelineGroups().map(([g, topics]) => bus.lag(g, topics)))).every((n) => n === 0);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if ((await idle()) && (await new Promise((r) => setTimeout(r, 200))) === undefined && (await idle())) return;
    if (Date.now() > deadline) throw PipelineBusy(`the analytics pipeline still had records to process after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function wrapFact(r: InRecord, kind: 'placed' | 'viewed'): Figure | undefined {
  const fact = factOfRecord(r);
  return fact?.kind === kind ? { kind: 'fact', fact } : undefined;
}

function wrap(value: Outcome | Conversion | undefined, kind: 'outcome' | 'conversion'): Figure | undefined {
  if (value === undefined) return undefined;
  return kind === 'outcome' ? { kind, outcome: value as Outcome } : { kind, conversion: value as Conversion };
}
