// The rest architecture's transport: each command of the saga (domain/saga.ts) becomes one
// synchronous HTTP call to the service that carries it out, and its answer becomes the
// reply the saga reacts to. Every call is a PUT or DELETE keyed by the order id, idempotent
// at the receiver, so the upstream policy may retry it (jittered backoff) and recovery may
// repeat it. One keep-alive pool and one circuit breaker per service.
import { TaskCancelledError } from 'cockatiel';
import { defineError, isOrderflowError } from '#platform/errors.ts';
import { breakersOf, createBalancedUpstream, type BalancedUpstream } from '#platform/resilience/balanced-upstream.ts';
import type { Upstream, UpstreamRequest } from '#platform/resilience/upstream.ts';
import type { PayloadOf, ChargePayment, ReserveStock, ScheduleShipment } from '#contracts/index.ts';
import type { RestConfig } from '../config.ts';
import type { Outgoing, SagaReply } from '../domain/saga.ts';

export const DependencyUnavailable = defineError('ORD_ERR_DEPENDENCY_UNAVAILABLE', 503);
export const DependencyTimeout = defineError('ORD_ERR_DEPENDENCY_TIMEOUT', 504);
/** A service refused a call as malformed: a bug between the two, never the client's fault. */
export const DependencyRejected = defineError('ORD_ERR_DEPENDENCY_REJECTED', 502);

export const downstreamNames = ['inventory', 'payments', 'shipping'] as const;
export type DownstreamName = (typeof downstreamNames)[number];

export interface Downstream {
  /** Carries out one saga command; resolves with the reply it amounts to (none for a compensation). */
  call(command: Outgoing, signal?: AbortSignal): Promise<SagaReply | undefined>;
  /** A service whose circuit is open (calls to it fail fast), if any. */
  openCircuit(): DownstreamName | undefined;
  /** The breaker of each service, for /metrics. */
  readonly breakers: ReadonlyArray<Pick<Upstream, 'name' | 'breakerState'>>;
  close(): Promise<void>;
}

interface Call {
  service: DownstreamName;
  req: Omit<UpstreamRequest, 'signal'>;
  reply(body: any): SagaReply | undefined;
}

const json = (method: 'PUT' | 'DELETE', path: string, body?: unknown): Omit<UpstreamRequest, 'signal'> =>
  body === undefined ? { method, path } : { method, path, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };

/** The HTTP call of each saga command, and how its answer reads as a saga reply. */
function callFor(command: Outgoing): Call {
  const type = command.contract.type;
  const p = command.payload as { orderId: string };
  const orderId = p.orderId;
  switch (type) {
    case 'ReserveStock':
      return {
        service: 'inventory',
        req: json('PUT', `/reservations/${orderId}`, { items: (p as PayloadOf<typeof ReserveStock>).items }),
        reply: (b) => (b.status === 'RESERVED' ? { type: 'StockReserved', payload: { orderId } } : { type: 'StockUnavailable', payload: { orderId, productIds: b.productIds } }),
      };
    case 'ChargePayment': {
      const c = p as PayloadOf<typeof ChargePayment>;
      return {
        service: 'payments',
        req: json('PUT', `/payments/${orderId}`, { customerId: c.customerId, amountCents: c.amountCents, method: c.method }),
        reply: (b) => (b.status === 'CHARGED'
          ? { type: 'PaymentCharged', payload: { orderId, paymentId: b.paymentId, amountCents: b.amountCents } }
          : { type: 'PaymentDeclined', payload: { orderId, reason: b.reason } }),
      };
    }
    case 'ScheduleShipment':
      return {
        service: 'shipping',
        req: json('PUT', `/shipments/${orderId}`, { address: (p as PayloadOf<typeof ScheduleShipment>).address }),
        reply: (b) => (b.status === 'SCHEDULED'
          ? { type: 'ShipmentScheduled', payload: { orderId, trackingNumber: b.trackingNumber } }
          : { type: 'ShipmentRejected', payload: { orderId, reason: b.reason } }),
      };
    case 'ReleaseStock':
      return { service: 'inventory', req: json('DELETE', `/reservations/${orderId}`), reply: () => undefined };
    case 'RefundPayment':
      return { service: 'payments', req: json('PUT', `/payments/${orderId}/refund`), reply: () => undefined };
    case 'CancelShipment':
      return { service: 'shipping', req: json('DELETE', `/shipments/${orderId}`), reply: () => undefined };
    default:
      throw new TypeError(`the rest saga has no call for ${type}`);
  }
}

const timedOut = (err: unknown): boolean =>
  err instanceof TaskCancelledError || (err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError')) || (err instanceof Error && err.cause !== undefined && timedOut(err.cause));

export function createDownstream(config: RestConfig): Downstream {
  const upstreams = Object.fromEntries(downstreamNames.map((name) => [name, createBalancedUpstream({
    name,
    urls: config.urls[name],
    connections: config.connections,
    timeoutMs: config.callTimeoutMs,
    retries: config.retries,
  })])) as Record<DownstreamName, BalancedUpstream>;

  return {
    async call(command, signal) {
      const { service, req, reply } = callFor(command);
      let res;
      try {
        res = await upstreams[service].request({ ...req, signal });
      } catch (err) {
        if (isOrderflowError(err) && err.statusCode < 500) throw err;
        const message = err instanceof Error ? err.message : String(err);
        throw timedOut(err)
          ? DependencyTimeout(`${service} did not answer ${req.method} ${req.path} in time (${message})`, { cause: err })
          : DependencyUnavailable(`${service} could not answer ${req.method} ${req.path} (${message})`, { cause: err });
      }
      const text = res.body.toString('utf8');
      if (res.statusCode >= 500) throw DependencyUnavailable(`${service} answered ${res.statusCode} to ${req.method} ${req.path}: ${text.slice(0, 200)}`);
      if (res.statusCode !== 200) throw DependencyRejected(`${service} answered ${res.statusCode} to ${req.method} ${req.path}: ${text.slice(0, 200)}`);
      return reply(JSON.parse(text));
    },
    openCircuit: () => downstreamNames.find((name) => upstreams[name].breakerState() === 'open'),
    breakers: Object.values(upstreams).flatMap(breakersOf),
    close: async () => void (await Promise.allSettled(downstreamNames.map((name) => upstreams[name].close()))),
  };
}
