/**
 * A small client of the public HTTP API, used by the bench, the lab and the end-to-end tests.
 * Everything goes through the gateway, as a user's requests would, and logs in as a user
 * would: with the credentials it is given (the system's demo customer and admin), an access
 * token per role, fetched when first needed and again before it expires or after a 401.
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
  /** The caller's own id or left out: the gateway takes the customer from the token. */
  customerId?: string;
  items: Array<{ productId: string; quantity: number }>;
  paymentMethod: string;
  shippingAddress: { country: string; city?: string };
}

export interface Answer<T = any> { status: number; body: T }

export interface Credentials { email: string; password: string }
/** Who the client calls as: a role it has credentials for, or nobody. */
export type As = 'customer' | 'admin' | 'anonymous';

export interface ClientOptions {
  customer?: Credentials;
  admin?: Credentials;
  /** Sees every answer (the end-to-end tests check each against the OpenAPI document). */
  onAnswer?: (method: string, path: string, status: number, body: unknown) => void;
}

export function createClient(baseUrl: string, connections = 32, identities: ClientOptions = {}) {
  const pool = new Pool(baseUrl, { connections, pipelining: 1, keepAliveTimeout: 30_000 });
  const sessions = new Map<As, { token: string; renewAt: number }>();
  const logins = new Map<As, Promise<string>>();

  /** The role's access token: one login shared by every request waiting for it. */
  function tokenOf(as: As, fresh = false): Promise<string> | undefined {
    const credentials = as === 'anonymous' ? undefined : identities[as];
    if (credentials === undefined) return undefined;
    const session = sessions.get(as);
    if (!fresh && session && Date.now() < session.renewAt) return Promise.resolve(session.token);
    let pending = logins.get(as);
    if (pending === undefined) {
      pending = raw<{ accessToken: string; expiresIn: number }>('POST', '/api/auth/login', credentials, {}).then((r) => {
        if (r.status !== 200) throw new Error(`login as ${credentials.email}: ${r.status} ${JSON.stringify(r.body)}`);
        // Renewed a minute early, so no request carries a token that expires on the way.
        sessions.set(as, { token: r.body.accessToken, renewAt: Date.now() + Math.max(1, r.body.expiresIn - 60) * 1000 });
        return r.body.accessToken;
      }).finally(() => logins.delete(as));
      logins.set(as, pending);
    }
    return pending;
  }

  async function call<T = any>(method: Method, path: string, body?: unknown, headers: Record<string, string> = {}, as: As = 'customer'): Promise<Answer<T>> {
    const token = await tokenOf(as);
    const answer = await raw<T>(method, path, body, token ? { authorization: `Bearer ${token}`, ...headers } : headers);
    if (answer.status !== 401 || token === undefined) return answer;
    // Expired early (a clock, a new signing key): log in again, once.
    const again = await tokenOf(as, true);
    return raw<T>(method, path, body, { authorization: `Bearer ${again}`, ...headers });
  }

  async function raw<T = any>(method: Method, path: string, body: unknown, headers: Record<string, string>): Promise<Answer<T>> {
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
    identities.onAnswer?.(method, path, res.statusCode, parsed);
    return { status: res.statusCode, body: parsed as T };
  }

  return {
    call,
    /** The access token of a role (logging in if needed); undefined without its credentials. */
    token: (as: As) => tokenOf(as),
    health: () => call('GET', '/health', undefined, {}, 'anonymous'),
    products: () => call<Product[]>('GET', '/api/products', undefined, {}, 'anonymous'),
    createProduct: (p: { sku: string; name: string; priceCents: number; stock: number }) => call<Product>('POST', '/api/products', p, {}, 'admin'),
    placeOrder: (o: PlaceOrder | unknown, idempotencyKey?: string) =>
      call<{ id: string; status: string }>('POST', '/api/orders', o, idempotencyKey ? { 'idempotency-key': idempotencyKey } : {}),
    order: (id: string, as: As = 'customer') => call<OrderView>('GET', `/api/orders/${id}`, undefined, {}, as),
    details: (id: string, as: As = 'customer') => call<OrderDetails>('GET', `/api/orders/${id}/details`, undefined, {}, as),
    close: () => pool.close(),
  };
}

export type Client = ReturnType<typeof createClient>;
type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
