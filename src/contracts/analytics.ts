/**
 * What analytics' stream processors publish (src/services/analytics/pipeline.ts). These
 * records are not messages with an envelope: each value is the record itself, keyed as
 * below, and carries its source position in the x-stream-source header (platform/streams).
 * They are upserts or keyed events, so a consumer keeping the last value per key holds the
 * current table, whatever is delivered twice.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { Cents, OrderLine, Uuid } from './shared.ts';

export interface StreamRecordContract<S extends TSchema = TSchema> {
  topic: string;
  owner: 'analytics';
  /** What the record key is. */
  key: string;
  description: string;
  schema: S;
}

const Millis = Type.Integer({ description: 'ms since the epoch' });

export const OrderOutcomeRecord = {
  topic: 'analytics.order-outcomes', owner: 'analytics', key: 'the order id',
  description: 'An order\'s outcome with its placement\'s time and lines (OrderConfirmed carries only the order id): for the saga\'s latency and the products sold.',
  schema: Type.Object({
    orderId: Uuid,
    status: Type.Union([Type.Literal('CONFIRMED'), Type.Literal('CANCELLED')]),
    reason: Type.Optional(Type.String()),
    placedAt: Millis,
    at: Millis,
    totalCents: Cents,
    items: Type.Array(OrderLine),
  }),
} as const satisfies StreamRecordContract;

export const ConversionRecord = {
  topic: 'analytics.conversions', owner: 'analytics', key: 'views-orders|<view position>|<order position>: one per match',
  description: 'A product view followed by an order of that product by the same customer within 30 minutes.',
  schema: Type.Object({ productId: Uuid, viewedAt: Millis, orderedAt: Millis, orderId: Uuid }),
} as const satisfies StreamRecordContract;

export const WindowRecord = {
  topic: 'analytics.windows', owner: 'analytics', key: '<aggregation>|all|<window start ms>: one per window, the last value is current',
  description: 'A window of an aggregation (sales-1m, sales-1h, products-1m, products-1h, conversion-1m, conversion-1h) with its full value; final once the window closed.',
  schema: Type.Object({
    name: Type.String(),
    key: Type.String(),
    start: Millis,
    end: Millis,
    value: Type.Unknown({ description: 'sales: {placed, confirmed, revenueCents, cancelled: {reason: n}, latency: a DDSketch}; products: {productId: {units, revenueCents, views}}; conversion: {productId: {views, converted}}' }),
    final: Type.Boolean(),
  }),
} as const satisfies StreamRecordContract;

export const streamRecords: readonly StreamRecordContract[] = [OrderOutcomeRecord, ConversionRecord, WindowRecord];

export type OrderOutcome = Static<typeof OrderOutcomeRecord.schema>;
export type Conversion = Static<typeof ConversionRecord.schema>;
