/**
 * The public API's shapes, as the gateway documents (OpenAPI, /docs) and checks them at the
 * edge. The services behind keep their own internal routes' schemas: the two differ where
 * identity enters (the public POST /api/orders takes its customer from the token).
 */
import { Type } from '@sinclair/typebox';
import { ShippingAddress as ContractAddress, Uuid } from '#contracts/shared.ts';
import { allTopics, deadLetterTopic } from '#contracts/topics.ts';

export const ErrorBody = Type.Object(
  { error: Type.Object({ code: Type.String(), message: Type.String(), details: Type.Optional(Type.Unknown()) }) }, { description: 'Every error answer: a stable code and a message for people.' },
);

export const Role = Type.Union([Type.Literal('customer'), Type.Literal('admin')]);

export const User = Type.Object({ id: Uuid, email: Type.String(), name: Type.String(), role: Role });

export const RegisterBody = Type.Object(
  {
    email: Type.String({ minLength: 3, maxLength: 254, pattern: '^[^\\s@]+@[^\\s@]+\\.[^\\s@]+$' }),
    password: Type.String({ minLength: 10, maxLength: 128, description: 'At least 10 characters, not the email.' }),
    name: Type.String({ minLength: 1, maxLength: 100, pattern: '\\S' }),
  },
  { additionalProperties: false },
);

export const LoginBody = Type.Object({ email: Type.String({ minLength: 1, maxLength: 254 }), password: Type.String({ minLength: 1, maxLength: 128 }) }, { additionalProperties: false });

export const RefreshBody = Type.Object({ refreshToken: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false });

export const TokenPair = Type.Object(
  {
    accessToken: Type.String({ description: 'An ES256 JWT: Authorization: Bearer <accessToken>.' }),
    refreshToken: Type.String({ description: 'Opaque; rotated at every use; a reused one ends the login.' }),
    expiresIn: Type.Integer({ description: 'Seconds the access token is valid.' }),
    tokenType: Type.Literal('Bearer'),
  },
);

export const Product = Type.Object(
  { id: Uuid, sku: Type.String(), name: Type.String(), priceCents: Type.Integer({ minimum: 0 }), available: Type.Integer({ minimum: 0 }) },
);

const MAX_INT = 2_147_483_647;
export const CreateProductBody = Type.Object(
  {
    sku: Type.String({ minLength: 1, maxLength: 100 }),
    name: Type.String({ minLength: 1, maxLength: 200 }),
    priceCents: Type.Integer({ minimum: 0, maximum: MAX_INT }),
    stock: Type.Integer({ minimum: 0, maximum: MAX_INT }),
  },
  { additionalProperties: false },
);

export const Status = Type.Union([Type.Literal('PENDING'), Type.Literal('CONFIRMED'), Type.Literal('CANCELLED')]);
export const Reason = Type.Union([Type.Literal('OUT_OF_STOCK'), Type.Literal('PAYMENT_DECLINED'), Type.Literal('SHIPPING_UNAVAILABLE'), Type.Literal('TIMEOUT')]);

export const PlaceOrderBody = Type.Object(
  {
    customerId: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'The caller\'s own id, or left out: it is the token\'s subject.' })),
    items: Type.Array(Type.Object({ productId: Uuid, quantity: Type.Integer({ minimum: 1, maximum: 1_000_000 }) }, { additionalProperties: false }), { minItems: 1, maxItems: 100 }),
    paymentMethod: Type.String({ minLength: 1, maxLength: 100 }),
    shippingAddress: Type.Intersect([ContractAddress, Type.Object({ country: Type.String({ pattern: '^[A-Za-z]{2}$' }) })], { maxProperties: 20 }),
  },
  { additionalProperties: false },
);

export const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Replays within 24 h answer the same order; the same key with another body is a 422.' })),
});

export const PlacedOrder = Type.Object({ id: Uuid, status: Status, reason: Type.Optional(Reason) });

export const Order = Type.Object(
  {
    id: Uuid,
    customerId: Type.String(),
    items: Type.Array(Type.Object({ productId: Uuid, quantity: Type.Integer(), unitPriceCents: Type.Integer() })),
    totalCents: Type.Integer(),
    status: Status,
    reason: Type.Optional(Reason),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
  },
);

export const OrderQuery = Type.Object({
  asOf: Type.Optional(Type.String({
    minLength: 1,
    maxLength: 64,
    description: 'An ISO 8601 time with its zone (2026-01-31T12:00:00Z): the order as it was then, replayed from its events; 404 if it did not exist yet.',
  })),
});

export const OrderHistory = Type.Object({
  events: Type.Array(Type.Object({
    type: Type.String({ description: 'OrderPlaced, StockReserved, PaymentCharged, ShipmentScheduled, OrderConfirmed, OrderCancelled; others may come.' }),
    at: Type.String({ format: 'date-time', description: 'When it happened.' }),
    version: Type.Integer({ minimum: 1, description: 'Its place in the order\'s stream: 1, 2, 3...' }),
    data: Type.Object({}, { additionalProperties: true, description: 'What the event recorded (OrderPlaced: the order as placed; OrderCancelled: the reason...).' }),
    service: Type.String({ description: 'Who did it: the service that emitted the message the event is named after (StockReserved: inventory; OrderPlaced, OrderCancelled: orders).' }),
    traceId: Type.Optional(Type.String({ pattern: '^[0-9a-f]{32}$', description: 'The trace of the work that recorded it, when tracing was on: with Zipkin, <zipkinUrl>/zipkin/traces/<traceId>.' })),
  })),
}, { description: 'The order\'s events, oldest first: its audit trail.' });

export const OrderPage = Type.Object({ orders: Type.Array(Order), nextCursor: Type.Union([Uuid, Type.Null()]) });

export const OrdersQuery = Type.Object(
  {
    limit: Type.Optional(Type.String({ pattern: '^(100|[1-9][0-9]?)$', description: '1 to 100; 20 by default.' })),
    cursor: Type.Optional(Uuid),
  },
  { additionalProperties: false },
);

// The admin's search over every customer's orders (the console's Orders page).
export const AdminOrdersQuery = Type.Object(
  {
    status: Type.Optional(Status),
    customerId: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Only this customer\'s orders.' })),
    limit: Type.Optional(Type.String({ pattern: '^(100|[1-9][0-9]?)$', description: '1 to 100; 20 by default.' })),
    cursor: Type.Optional({ ...Uuid, description: 'The nextCursor of the page before.' }),
  },
  { additionalProperties: false },
);

export const OrderDetails = Type.Object(
  {
    order: Order,
    payment: Type.Union([Type.Object({ status: Type.String(), amountCents: Type.Integer() }), Type.Null()]),
    shipment: Type.Union([Type.Object({ status: Type.String(), trackingNumber: Type.Union([Type.String(), Type.Null()]) }), Type.Null()]),
  },
);

export const IdParams = Type.Object({ id: Uuid });

// The cart: the caller's own, priced from the cart's copy of the catalog.
export const CartItemParams = Type.Object({ productId: Uuid });

export const CartLineBody = Type.Object(
  { quantity: Type.Integer({ minimum: 0, maximum: 1000, description: 'How many of the product the cart holds; 0 removes the line.' }) },
  { additionalProperties: false },
);

export const Cart = Type.Object(
  {
    cartId: Type.Union([Uuid, Type.Null()], { description: 'Null until the caller first puts something in.' }),
    version: Type.Integer({ minimum: 0, description: 'Moves on with every change and checkout; a checkout is one order per version.' }),
    lines: Type.Array(Type.Object({
      productId: Uuid,
      name: Type.String(),
      quantity: Type.Integer({ minimum: 1 }),
      unitPriceCents: Type.Integer({ minimum: 0 }),
      lineTotalCents: Type.Integer({ minimum: 0 }),
      available: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], { description: 'Units available as the cart last heard; null when it cannot tell (the rest architecture).' }),
      problem: Type.Optional(Type.Union([Type.Literal('UNAVAILABLE'), Type.Literal('SHORT_OF_STOCK')], { description: 'Advice: inventory decides when the order is placed.' })),
    })),
    totalCents: Type.Integer({ minimum: 0 }),
    lastOrderId: Type.Union([Uuid, Type.Null()], { description: 'The order the last checkout placed.' }),
    updatedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  },
);

export const CheckoutBody = Type.Object(
  {
    paymentMethod: Type.String({ minLength: 1, maxLength: 100 }),
    shippingAddress: Type.Intersect([ContractAddress, Type.Object({ country: Type.String({ pattern: '^[A-Za-z]{2}$' }) })], { maxProperties: 20 }),
  },
  { additionalProperties: false },
);

export const CheckedOut = Type.Object(
  { orderId: Uuid, status: Status, reason: Type.Optional(Reason) },
  { description: 'The order the cart became. 202 in every architecture; in rest the status is already final (CONFIRMED or CANCELLED), elsewhere PENDING.' },
);

export const UpdateProductBody = Type.Object(
  {
    priceCents: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_INT, description: 'The new price, for orders placed from now on.' })),
    restock: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_INT, description: 'Units added to the stock.' })),
  },
  { additionalProperties: false, minProperties: 1 },
);

// The admin's dead letters: each consuming service answers in these shapes, the gateway gathers them.
export { DeadLettersQuery, DeadLettersAnswer as DeadLetterList, ReplayDeadLettersBody as ReplayBody, ReplayDeadLettersAnswer as Replayed } from '#platform/service/dead-letter-routes.ts';
export { DiscardDeadLettersBody as DiscardBody, DiscardDeadLettersAnswer as Discarded } from '#platform/service/dead-letter-routes.ts';

// The admin's overview (overview.ts): the console's topology, from every service's status.
const CircuitState = Type.Union([Type.Literal('closed'), Type.Literal('open'), Type.Literal('half-open')]);
export const Overview = Type.Object(
  {
    architecture: Type.Union([Type.Literal('events'), Type.Literal('choreography'), Type.Literal('rest')]),
    deployment: Type.Object({ bus: Type.Union([Type.Literal('embedded'), Type.Literal('kafka')]), store: Type.Union([Type.Literal('sqlite'), Type.Literal('postgres')]) }),
    tracing: Type.Union([Type.Object({ zipkinUrl: Type.String({ description: 'The Zipkin UI\'s base: a trace is at <zipkinUrl>/zipkin/traces/<traceId>.' }) }), Type.Null()], { description: 'null unless tracing exports to Zipkin.' }),
    services: Type.Array(Type.Object({
      name: Type.String(),
      status: Type.Union([Type.Literal('up'), Type.Literal('down')], { description: 'down: it did not answer in time (its consumers are then not shown).' }),
      instances: Type.Integer({ minimum: 1, description: 'Instances the gateway balances across.' }),
      consumers: Type.Array(Type.Object({
        groupId: Type.String(),
        topic: Type.String(),
        lag: Type.Integer({ minimum: 0, description: 'Records not yet handled by the group.' }),
        handled: Type.Integer({ minimum: 0, description: 'A running total (the group\'s committed offsets): two readings give its rate.' }),
      })),
      outboxBacklog: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], { description: 'Messages written but not yet published; null without an outbox or when down.' }),
    })),
    topics: Type.Array(Type.Object({
      name: Type.String(),
      owner: Type.String({ description: 'The service whose events, or whose commands, the topic carries (the contracts\' owner).' }),
      consumers: Type.Array(Type.String(), { description: 'The consumer groups reading it, as the services report them.' }),
    })),
    circuits: Type.Array(Type.Object({ from: Type.Literal('gateway'), to: Type.String(), state: CircuitState })),
    at: Type.String({ format: 'date-time' }),
  },
);

// Notifications (the notifications service answers in these shapes; the gateway passes them on).
const notificationKinds = ['orderConfirmed', 'orderCancelled', 'shipmentScheduled', 'paymentRefunded', 'cartAbandoned'] as const;
export const NotificationKind = Type.Union(notificationKinds.map((k) => Type.Literal(k)));
const NotificationCursor = Type.String({ pattern: '^[0-9]{1,15}$', description: 'A notification\'s cursor: the list\'s `cursor` and the stream\'s event id.' });

export const Notification = Type.Object({
  id: Uuid,
  cursor: NotificationCursor,
  kind: NotificationKind,
  subject: Type.String(),
  text: Type.String(),
  data: Type.Object({
    orderId: Type.Optional(Uuid),
    reason: Type.Optional(Type.String()),
    trackingNumber: Type.Optional(Type.String()),
    amountCents: Type.Optional(Type.Integer()),
    cartId: Type.Optional(Type.String()),
    items: Type.Optional(Type.Integer({ description: 'Units in an abandoned cart.' })),
  }),
  occurredAt: Type.String({ description: 'When the event it tells of happened.' }),
});

export const NotificationPage = Type.Object({ notifications: Type.Array(Notification), nextCursor: Type.Union([NotificationCursor, Type.Null()]) });

export const NotificationsQuery = Type.Object(
  {
    limit: Type.Optional(Type.String({ pattern: '^(100|[1-9][0-9]?)$', description: '1 to 100; 20 by default.' })),
    cursor: Type.Optional(NotificationCursor),
  },
  { additionalProperties: false },
);

export const NotificationStreamQuery = Type.Object(
  { lastEventId: Type.Optional({ ...NotificationCursor, description: 'As the Last-Event-ID header, for clients that cannot set it: what came after it is sent first.' }) },
  { additionalProperties: false },
);

const channelSwitches = (optional: boolean) => Type.Object(
  optional ? { email: Type.Optional(Type.Boolean()), inApp: Type.Optional(Type.Boolean()) } : { email: Type.Boolean(), inApp: Type.Boolean() },
  { additionalProperties: false },
);
export const NotificationPreferences = Type.Object(Object.fromEntries(notificationKinds.map((k) => [k, channelSwitches(false)])), {
  description: 'Per kind and channel, true when the customer gets it.',
});
export const NotificationPreferencesBody = Type.Object(Object.fromEntries(notificationKinds.map((k) => [k, Type.Optional(channelSwitches(true))])), {
  additionalProperties: false,
  description: 'The switches to set; a kind or channel left out is on.',
});

export const Health = Type.Object({ status: Type.String(), services: Type.Record(Type.String(), Type.Union([Type.Literal('up'), Type.Literal('down')])) });

// Each event is checked on its own by the ingestion service, so that one bad event costs
// only itself: the edge checks the batch's shape, the items are described, not validated.
export const ClientEventsBody = Type.Object(
  {
    events: Type.Array(Type.Unknown({
      description: 'A client event: {"type": "product.viewed" | "product.searched" | "cart.updated", "sessionId": string (1-100), '
        + '"at": ISO 8601 time with a zone, "id"?: UUID (the same on a retry), and per type "productId": UUID (viewed, cart.updated), '
        + '"query": string (1-200) and "resultCount"?: integer (searched), "quantity": 0-1000 (cart.updated)}. The customer is the token\'s subject, when a token is sent.',
    }), { minItems: 1, maxItems: 500 }),
  },
  { additionalProperties: false },
);

export const ClientEventsAccepted = Type.Object({
  accepted: Type.Integer({ minimum: 0, description: 'How many events the log stored.' }),
  rejected: Type.Array(Type.Object({ index: Type.Integer({ minimum: 0 }), error: Type.Object({ code: Type.String(), message: Type.String() }) }), { description: 'The events refused, by their index in the batch, and why.' }),
});

// Analytics (admin): the read model's windows.
const AnalyticsRange = {
  window: Type.Union([Type.Literal('1m'), Type.Literal('1h')], { description: 'Tumbling windows of a minute or an hour' }),
  from: Type.Optional(Type.String({ minLength: 10, maxLength: 40, description: 'ISO 8601 time: windows starting at or after it; by default the last 60 windows' })),
  to: Type.Optional(Type.String({ minLength: 10, maxLength: 40, description: 'ISO 8601 time: windows starting before it; now by default' })),
};
export const AnalyticsQuery = Type.Object(AnalyticsRange, { additionalProperties: false });
export const AnalyticsTopQuery = Type.Object({ ...AnalyticsRange, limit: Type.Optional(Type.String({ pattern: '^(100|[1-9][0-9]?)$', description: '1 to 100; 10 by default' })) }, { additionalProperties: false });
const RangeAnswer = { window: Type.String(), from: Type.String(), to: Type.String() };
export const SalesWindows = Type.Object({
  ...RangeAnswer,
  windows: Type.Array(Type.Object({
    start: Type.String(),
    end: Type.String(),
    final: Type.Boolean({ description: 'Closed: the value will not change again' }),
    placed: Type.Integer({ minimum: 0 }),
    confirmed: Type.Integer({ minimum: 0 }),
    revenueCents: Type.Integer({ minimum: 0 }),
    cancelled: Type.Record(Type.String(), Type.Integer({ minimum: 0 }), { description: 'Cancellations by reason' }),
    sagaLatencyMs: Type.Object({ p50: Type.Union([Type.Number(), Type.Null()]), p99: Type.Union([Type.Number(), Type.Null()]) }, { description: 'Placement to outcome' }),
  })),
});
export const TopProducts = Type.Object({
  ...RangeAnswer,
  products: Type.Array(Type.Object({ productId: Type.String(), units: Type.Integer({ minimum: 0 }), revenueCents: Type.Integer({ minimum: 0 }), views: Type.Integer({ minimum: 0 }) })),
});
export const Conversion = Type.Object({
  ...RangeAnswer,
  products: Type.Array(Type.Object({
    productId: Type.String(),
    views: Type.Integer({ minimum: 0 }),
    converted: Type.Integer({ minimum: 0, description: 'Views followed by an order of the product by the same customer within 30 minutes' }),
    rate: Type.Union([Type.Number(), Type.Null()]),
  })),
});

// The lab (the console's Lab page): quick runs of `orderflow lab`, where `orderflow up` runs.
const labArchitectures = ['events', 'choreography', 'rest'] as const;
const labReports = ['summary.md', 'report.html', 'report.json'] as const;
const LabRunId = Type.String({ pattern: '^[0-9a-f-]{36}$' });
export const LabRun = Type.Object({
  id: LabRunId,
  arch: Type.Union(labArchitectures.map((a) => Type.Literal(a))),
  faults: Type.Boolean(),
  status: Type.Union([Type.Literal('running'), Type.Literal('passed'), Type.Literal('failed'), Type.Literal('stopped')]),
  startedAt: Type.String({ format: 'date-time' }),
  finishedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  exitCode: Type.Union([Type.Integer(), Type.Null()]),
  progress: Type.Array(Type.String(), { description: 'The lab\'s last lines of output, oldest first.' }),
  reports: Type.Array(Type.Union(labReports.map((n) => Type.Literal(n))), { description: 'The reports the run wrote (when it ends).' }),
}, { description: 'A quick lab run: `orderflow lab --quick` for one architecture.' });
export const LabRuns = Type.Object({
  available: Type.Boolean({ description: 'Whether this deployment runs labs: only `orderflow up` does.' }),
  runs: Type.Array(LabRun, { description: 'Newest first.' }),
});
export const LabRunBody = Type.Object({
  arch: Type.Optional(Type.Union(labArchitectures.map((a) => Type.Literal(a)), { description: 'The architecture to measure; events by default.' })),
  faults: Type.Optional(Type.Boolean({ description: 'Also the fault scenarios (kill -9 and added latency on payments): about a minute instead of 20 s.' })),
}, { additionalProperties: false });
export const LabRunParams = Type.Object({ id: LabRunId });
export const LabReportParams = Type.Object({ id: LabRunId, name: Type.Union(labReports.map((n) => Type.Literal(n))) });

// The live tail of every topic (admin): a server-sent events stream (event-tail.ts).
const tailTopics = allTopics.flatMap((t) => [t, deadLetterTopic(t)]);
export const EventStreamQuery = Type.Object(
  {
    topic: Type.Optional(Type.Unsafe<string>({ type: 'string', enum: tailTopics, description: 'Only this topic; a dead-letter topic is `<topic>.dlq`.' })),
    type: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Only messages of this type (OrderPlaced, ...).' })),
    key: Type.Optional(Type.String({ minLength: 1, maxLength: 500, description: 'Only records of this key.' })),
    order: Type.Optional({ ...Uuid, description: 'Only records of this order: its key, or its payload\'s orderId.' }),
    lastEventId: Type.Optional(Type.String({ pattern: '^[0-9]{1,16}$', description: 'As the Last-Event-ID header, for clients that cannot set it: only records after this cursor.' })),
  },
  { additionalProperties: false },
);

export const EventStreamHeaders = Type.Object({ 'last-event-id': Type.Optional(Type.String({ pattern: '^[0-9]{0,16}$' })) });

/** The data of each `record` event of the stream (documented, not validated: it is written as it streams). */
export const TailedRecord = Type.Object({
  topic: Type.String(),
  partition: Type.Integer({ minimum: 0 }),
  offset: Type.String({ pattern: '^[0-9]+$', description: 'A decimal string: Kafka offsets are 64-bit.' }),
  key: Type.String(),
  id: Type.Union([Type.String(), Type.Null()], { description: 'The message id; null when the record is not a message envelope.' }),
  type: Type.Union([Type.String(), Type.Null()], { description: 'null when the record is not a message envelope.' }),
  version: Type.Union([Type.Integer(), Type.Null()]),
  occurredAt: Type.Union([Type.String(), Type.Null()]),
  headers: Type.Record(Type.String(), Type.String(), { description: 'The record\'s headers: type, traceparent, correlationId, causationId; on a dead letter also dlq-error-code, dlq-error-message, dlq-attempts, dlq-original-topic...' }),
  payload: Type.Unknown({ description: 'The message\'s payload; the raw value as a string when the record is not a message envelope.' }),
});
