/**
 * One order, live: its status (GET /api/orders/:id, every second until it is CONFIRMED or
 * CANCELLED) and its timeline (GET /api/orders/:id/history): each saga step with its time,
 * the service that emitted it, what it recorded, compensations marked, and a link to its
 * trace in Zipkin when tracing is on and the step has a trace id.
 */
import { useEffect, useState } from 'preact/hooks';
import { attempt, type ApiError, type HistoryEntry, type Order, type OrderDetails, type Product } from '../api.ts';
import { dateTime, money, pretty, shortId, time } from '../format.ts';
import { usePoll } from '../hooks.ts';

/** The steps that undo an earlier one, and the cancellation they end in. */
const compensations = new Set(['ReleaseStock', 'StockReleased', 'RefundPayment', 'PaymentRefunded', 'OrderCancelled', 'CancelShipment', 'ShipmentCancelled']);
export const isCompensation = (type: string): boolean => compensations.has(type);

export function StatusBadge(props: { status: string; reason?: string }) {
  return (
    <span class={`badge status-${props.status.toLowerCase()}`} data-testid="order-status" data-status={props.status} role="status" aria-live="polite">
      {props.status}{props.reason ? ` · ${props.reason}` : ''}
    </span>
  );
}

export function OrderView(props: { orderId: string; zipkinUrl?: string | null; compact?: boolean }) {
  const [order, setOrder] = useState<Order>();
  const [history, setHistory] = useState<HistoryEntry[]>([]);
  const [details, setDetails] = useState<OrderDetails>();
  const [error, setError] = useState<ApiError>();
  const terminal = order !== undefined && order.status !== 'PENDING';
  const [settled, setSettled] = useState(false);
  const names = useProductNames();

  // While PENDING, every second; once final, one more read of the history (its last steps
  // may land after the status) and of the payment and shipment, then quiet.
  usePoll(async (signal) => {
    const [o, h] = await Promise.all([
      attempt<Order>(`/api/orders/${props.orderId}`, { signal }),
      attempt<{ events: HistoryEntry[] }>(`/api/orders/${props.orderId}/history`, { signal }),
    ]);
    if (signal.aborted) return;
    if (!o.ok) return setError(o.error);
    setError(undefined);
    setOrder(o.value);
    if (h.ok) setHistory(h.value.events);
    if (o.value.status !== 'PENDING') {
      const d = await attempt<OrderDetails>(`/api/orders/${props.orderId}/details`, { signal });
      if (d.ok && !signal.aborted) setDetails(d.value);
      setSettled(true);
    }
  }, 1_000, [props.orderId], !(terminal && settled));

  if (error) return <p class="error" role="alert" data-testid="order-error">Order {props.orderId}: {error.message} ({error.code})</p>;
  if (!order) return <p class="muted" data-testid="order-loading">Loading order {shortId(props.orderId)}…</p>;
  return (
    <section class="order-view" data-testid="order-view" data-order-id={order.id}>
      <header class="order-head">
        <h3>Order <code data-testid="order-id">{order.id}</code></h3>
        <StatusBadge status={order.status} reason={order.reason} />
      </header>
      <dl class="facts">
        <dt>Total</dt><dd data-testid="order-total">{money(order.totalCents)}</dd>
        <dt>Placed</dt><dd>{dateTime(order.createdAt)}</dd>
        <dt>Updated</dt><dd>{dateTime(order.updatedAt)}</dd>
        {!props.compact && <><dt>Customer</dt><dd><code>{order.customerId}</code></dd></>}
        {details?.payment && <><dt>Payment</dt><dd data-testid="order-payment">{details.payment.status} · {money(details.payment.amountCents)}</dd></>}
        {details?.shipment && <><dt>Shipment</dt><dd data-testid="order-shipment">{details.shipment.status}{details.shipment.trackingNumber ? ` · ${details.shipment.trackingNumber}` : ''}</dd></>}
      </dl>
      {!props.compact && (
        <table class="items">
          <thead><tr><th>Product</th><th>Quantity</th><th>Unit price</th></tr></thead>
          <tbody>
            {order.items.map((i) => <tr key={i.productId}><td>{names.get(i.productId) ?? <code>{i.productId}</code>}</td><td>{i.quantity}</td><td>{money(i.unitPriceCents)}</td></tr>)}
          </tbody>
        </table>
      )}
      <Timeline entries={history} zipkinUrl={props.zipkinUrl} compact={props.compact} />
    </section>
  );
}

export function Timeline(props: { entries: HistoryEntry[]; zipkinUrl?: string | null; compact?: boolean }) {
  const start = props.entries.length > 0 ? Date.parse(props.entries[0].at) : 0;
  const traced = Boolean(props.zipkinUrl) && props.entries.some((e) => e.traceId);
  return (
    <table class={`timeline${props.compact ? ' compact' : ''}`} data-testid="timeline" aria-label="Timeline">
      <thead><tr><th>#</th><th>Time</th><th class="num">+ms</th><th>Step</th><th>Service</th><th>Data</th>{traced && <th>Trace</th>}</tr></thead>
      <tbody>
        {props.entries.map((e) => {
          const undo = isCompensation(e.type);
          return (
            <tr key={e.version} class={undo ? 'compensation' : ''} data-testid="timeline-row" data-type={e.type} data-compensation={undo ? 'true' : undefined}>
              <td>{e.version}</td>
              <td>{time(e.at)}</td>
              <td class="num">{Math.max(0, Date.parse(e.at) - start)}</td>
              <td>
                <span class="step-type" data-testid="timeline-type">{e.type}</span>
                {undo && <span class="tag compensation-tag" title="undoes an earlier step">compensation</span>}
              </td>
              <td data-testid="timeline-service">{e.service ?? ''}</td>
              <td>
                <details>
                  <summary>{summaryOf(e.data)}</summary>
                  <pre>{pretty(e.data)}</pre>
                </details>
              </td>
              {traced && (
                <td>
                  {e.traceId && <a href={`${props.zipkinUrl}/zipkin/traces/${e.traceId}`} target="_blank" rel="noopener noreferrer" data-testid="trace-link">trace</a>}
                </td>
              )}
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

/** The catalog's names by product id (the public GET /api/products), for an order's lines. */
function useProductNames(): Map<string, string> {
  const [names, setNames] = useState(new Map<string, string>());
  useEffect(() => {
    void attempt<Product[]>('/api/products', { anonymous: true }).then((r) => r.ok && setNames(new Map(r.value.map((p) => [p.id, p.name]))));
  }, []);
  return names;
}

/** A line of what a step recorded: its short fields, not its lists. */
function summaryOf(data: Record<string, unknown>): string {
  const parts = Object.entries(data)
    .filter(([, v]) => v !== null && typeof v !== 'object')
    .map(([k, v]) => `${k}: ${String(v)}`);
  const text = parts.join(', ');
  return text || '{…}';
}
