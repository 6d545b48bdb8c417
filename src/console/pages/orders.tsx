/**
 * Orders: an admin searches every customer's (GET /api/admin/orders?status=&customerId=),
 * a customer sees their own (GET /api/orders); either opens one by id (#/orders/<id>) to see
 * it live with its timeline (order-view.tsx).
 */
import { useEffect, useState } from 'preact/hooks';
import { attempt, type ApiError, type Order, type OrderPage, type Overview } from '../api.ts';
import { dateTime, money } from '../format.ts';
import { navigate, useSession } from '../hooks.ts';
import { OrderView } from './order-view.tsx';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function OrdersPage(props: { orderId?: string }) {
  const admin = useSession()?.user.role === 'admin';
  const zipkinUrl = useZipkinUrl(admin);
  const [id, setId] = useState(props.orderId ?? '');
  useEffect(() => setId(props.orderId ?? ''), [props.orderId]);
  const open = (e: Event) => {
    e.preventDefault();
    if (UUID.test(id.trim())) navigate(`orders/${id.trim().toLowerCase()}`);
  };
  return (
    <div class="orders">
      <form class="open-order" onSubmit={open} aria-label="Open an order">
        <label>
          Order id
          <input name="orderId" value={id} size={40} placeholder="0190f5b2-…" onInput={(e) => setId(e.currentTarget.value)} data-testid="order-id-input" pattern="[0-9a-fA-F-]{36}" title="an order id (a UUID)" />
        </label>
        <button type="submit" data-testid="order-open">Open</button>
      </form>
      {props.orderId && (UUID.test(props.orderId)
        ? <OrderView key={props.orderId} orderId={props.orderId} zipkinUrl={zipkinUrl} />
        : <p class="error" role="alert">“{props.orderId}” is not an order id.</p>)}
      {admin ? <AdminSearch /> : <MyOrders />}
    </div>
  );
}

/** Zipkin's base URL when the system traces (the overview says so; an admin's to read). */
function useZipkinUrl(admin: boolean): string | null {
  const [url, setUrl] = useState<string | null>(null);
  useEffect(() => {
    if (!admin) return setUrl(null);
    void attempt<Overview>('/api/admin/overview').then((r) => setUrl(r.ok ? (r.value.tracing?.zipkinUrl ?? null) : null));
  }, [admin]);
  return url;
}

function AdminSearch() {
  const [status, setStatus] = useState('');
  const [customerId, setCustomerId] = useState('');
  const [page, setPage] = useState<OrderPage>();
  const [error, setError] = useState<ApiError>();
  const [busy, setBusy] = useState(false);

  const search = async (cursor?: string) => {
    setBusy(true);
    const query = new URLSearchParams({ limit: '20' });
    if (status) query.set('status', status);
    if (customerId.trim()) query.set('customerId', customerId.trim());
    if (cursor) query.set('cursor', cursor);
    const r = await attempt<OrderPage>(`/api/admin/orders?${query}`);
    setBusy(false);
    if (!r.ok) return setError(r.error);
    setError(undefined);
    setPage((old) => (cursor && old ? { orders: [...old.orders, ...r.value.orders], nextCursor: r.value.nextCursor } : r.value));
  };
  useEffect(() => void search(), []);
  const submit = (e: Event) => {
    e.preventDefault();
    void search();
  };

  return (
    <section aria-label="Search orders">
      <h2>Search orders</h2>
      <form class="filters" onSubmit={submit} aria-label="Order search">
        <label>
          Status
          <select name="status" value={status} onChange={(e) => setStatus(e.currentTarget.value)} data-testid="search-status">
            <option value="">any</option>
            <option value="PENDING">PENDING</option>
            <option value="CONFIRMED">CONFIRMED</option>
            <option value="CANCELLED">CANCELLED</option>
          </select>
        </label>
        <label>
          Customer id
          <input name="customerId" value={customerId} onInput={(e) => setCustomerId(e.currentTarget.value)} data-testid="search-customer" />
        </label>
        <button type="submit" disabled={busy} data-testid="search-submit">Search</button>
      </form>
      {error?.status === 404
        ? <p class="notice" role="status" data-testid="search-unavailable">Order search is not available on this gateway (GET /api/admin/orders answered 404). Open an order by its id above.</p>
        : error && <p class="error" role="alert">{error.message} ({error.code})</p>}
      {page && <OrderTable orders={page.orders} />}
      {page?.nextCursor && <button type="button" onClick={() => void search(page.nextCursor!)} disabled={busy} data-testid="search-more">More</button>}
    </section>
  );
}

function MyOrders() {
  const [page, setPage] = useState<OrderPage>();
  const [error, setError] = useState<string>();
  const load = async (cursor?: string) => {
    const r = await attempt<OrderPage>(`/api/orders?limit=20${cursor ? `&cursor=${cursor}` : ''}`);
    if (!r.ok) return setError(`${r.error.message} (${r.error.code})`);
    setPage((old) => (cursor && old ? { orders: [...old.orders, ...r.value.orders], nextCursor: r.value.nextCursor } : r.value));
  };
  useEffect(() => void load(), []);
  return (
    <section aria-label="Your orders">
      <header class="section-head">
        <h2>Your orders</h2>
        <button type="button" onClick={() => void load()}>Refresh</button>
      </header>
      {error && <p class="error" role="alert">{error}</p>}
      {page && <OrderTable orders={page.orders} />}
      {page?.nextCursor && <button type="button" onClick={() => void load(page.nextCursor!)}>More</button>}
    </section>
  );
}

function OrderTable(props: { orders: Order[] }) {
  if (props.orders.length === 0) return <p class="muted" data-testid="orders-empty">No orders.</p>;
  return (
    <table class="order-table" data-testid="order-table">
      <thead><tr><th>Order</th><th>Status</th><th>Total</th><th>Items</th><th>Customer</th><th>Placed</th></tr></thead>
      <tbody>
        {props.orders.map((o) => (
          <tr key={o.id} data-testid="order-row" data-order-id={o.id} data-status={o.status}>
            <td><a href={`#/orders/${o.id}`}><code>{o.id}</code></a></td>
            <td><span class={`badge status-${o.status.toLowerCase()}`}>{o.status}{o.reason ? ` · ${o.reason}` : ''}</span></td>
            <td class="num">{money(o.totalCents)}</td>
            <td class="num">{o.items.reduce((n, i) => n + i.quantity, 0)}</td>
            <td><code>{o.customerId}</code></td>
            <td>{dateTime(o.createdAt)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
