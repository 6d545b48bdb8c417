/**
 * A small client of the public HTTP API, used by the bench, the lab and the end-to-end tests.
 * Everything goes through the gateway, as a user's requests would.
 */
import { Pool } from 'undici';

export interface Product { id: string; sku: string; name: string; priceCents: number; available: number }
export interface OrderView {
  id: string;
  customerId: string;
  items: Array<{ productId: string; quantity: number; unitPriceCents?: number }>;
  totalCents: number;
  status: 'PENDING' | 'CONFIRMED' | 'CANCELLED';
  reason?: string;
  createdAt: string;
  updatedAt: string;
}
export interface OrderDetails {
  order: OrderView;
  payment: { status: string; amountCents: number } | null;
  shipment: { status: string; trackingNumber: string | null } | null;
}
export interface PlaceOrder {
  customerId: string;
  items: Array<{ productId: string; quantity: number }>;
  paymentMethod: string;
  shippingAddress: { country: string; city?: string };
}

export interface Answer<T = any> { status: number; body: T }

export function createClient(baseUrl: string, connections = 32) {
  const pool = new Pool(baseUrl, { connections, pipelining: 1, keepAliveTimeout: 30_000 });

  async function call<T = any>(method: 'GET' | 'POST', path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer<T>> {
    const res = await pool.request({
      method,
      path,
      headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      headersTimeout: 30_000,
      bodyTimeout: 30_000,
    });
    const text = await res.body.text();
    let parsed: any = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: keep the text so a failing assertion shows it
    }
    return { status: res.statusCode, body: parsed as T };
  }

  return {
    call,
    health: () => call('GET', '/health'),
    products: () => call<Product[]>('GET', '/api/products'),
    createProduct: (p: { sku: string; name: string; priceCents: number; stock: number }) => call<Product>('POST', '/api/products', p),
    placeOrder: (o: PlaceOrder | unknown, idempotencyKey?: string) =>
      call<{ id: string; status: string }>('POST', '/api/orders', o, idempotencyKey ? { 'idempotency-key': idempotencyKey } : {}),
    order: (id: string) => call<OrderView>('GET', `/api/orders/${id}`),
    details: (id: string) => call<OrderDetails>('GET', `/api/orders/${id}/details`),
    close: () => pool.close(),
  };
}

export type Client = ReturnType<typeof createClient>;
