/**
 * The console's calls to the public API (same origin, under /api), with the caller's access
 * token. An error answer is the API's envelope, thrown as an ApiError with its status and
 * code. An access token lives 15 minutes: on a 401 the refresh token buys a new pair once
 * (one refresh at a time: a refresh token is spent by its use) and the call is retried.
 */
import { ApiError, errorOf } from './api-error.ts';
import { session } from './session.ts';

export { ApiError };

export interface Call {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';
  body?: unknown;
  headers?: Record<string, string>;
  /** No Authorization header (login, the catalog, /health). */
  anonymous?: boolean;
  signal?: AbortSignal;
}

/** The headers of an authenticated request, the token renewed first if it is about to expire (the streams' too). */
export async function authHeaders(): Promise<Record<string, string>> {
  const token = (await session.fresh())?.accessToken;
  return token ? { authorization: `Bearer ${token}` } : {};
}

async function send(path: string, call: Call): Promise<Response> {
  const headers: Record<string, string> = { accept: 'application/json', ...(call.anonymous ? {} : await authHeaders()), ...call.headers };
  if (call.body !== undefined) headers['content-type'] = 'application/json';
  return fetch(path, { method: call.method ?? 'GET', headers, body: call.body === undefined ? undefined : JSON.stringify(call.body), signal: call.signal });
}

/** Calls the API; the parsed JSON body of a 2xx (undefined for a 204), else throws ApiError. */
export async function api<T>(path: string, call: Call = {}): Promise<T> {
  let res = await send(path, call);
  if (res.status === 401 && !call.anonymous && (await session.refresh())) res = await send(path, call);
  if (!res.ok) throw await errorOf(res);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

/** The API's answer, or the error as a value: for pages that show either. */
export async function attempt<T>(path: string, call: Call = {}): Promise<{ ok: true; value: T } | { ok: false; error: ApiError }> {
  try {
    return { ok: true, value: await api<T>(path, call) };
  } catch (err) {
    if (err instanceof ApiError) return { ok: false, error: err };
    return { ok: false, error: new ApiError(0, 'NETWORK', err instanceof Error ? err.message : String(err)) };
  }
}

export const errorText = (err: unknown): string =>
  err instanceof ApiError ? `${err.message} (${err.code})` : err instanceof Error ? err.message : String(err);

// The API's shapes the console reads (docs/openapi.json has them all).
export type Role = 'customer' | 'admin';
export interface User { id: string; email: string; name: string; role: Role }
export interface TokenPair { accessToken: string; refreshToken: string; expiresIn: number }
export interface Product { id: string; sku: string; name: string; priceCents: number; available: number }
export interface CartLine { productId: string; name: string; quantity: number; unitPriceCents: number; lineTotalCents: number; available: number | null; problem?: string }
export interface Cart { cartId: string | null; version: number; lines: CartLine[]; totalCents: number; lastOrderId: string | null; updatedAt: string | null }
export type OrderStatus = 'PENDING' | 'CONFIRMED' | 'CANCELLED';
export interface Order {
  id: string;
  customerId: string;
  items: Array<{ productId: string; quantity: number; unitPriceCents: number }>;
  totalCents: number;
  status: OrderStatus;
  reason?: string;
  createdAt: string;
  updatedAt: string;
}
export interface OrderPage { orders: Order[]; nextCursor: string | null }
export interface HistoryEntry { type: string; at: string; version: number; service?: string; traceId?: string; data: Record<string, unknown> }
export interface OrderDetails { order: Order; payment: { status: string; amountCents: number } | null; shipment: { status: string; trackingNumber: string | null } | null }
export interface Notification { id: string; cursor: string; kind: string; subject: string; text: string; data: { orderId?: string; reason?: string }; occurredAt: string }
export interface DeadLetter {
  id: string;
  service: string;
  origin: 'consumer' | 'relay';
  group: string | null;
  originalTopic: string;
  partition: number | null;
  offset: string | null;
  messageId: string | null;
  type: string | null;
  key: string;
  error: { code: string; message: string };
  attempts: number;
  failedAt: string;
  state: string;
  payload: unknown;
}
export interface TailRecord {
  topic: string;
  partition: number;
  offset: string | number;
  key: string | null;
  id: string | null;
  type: string | null;
  version: number | null;
  occurredAt: string | null;
  headers: Record<string, string>;
  payload: unknown;
}
export interface Overview {
  architecture: string;
  deployment: { bus: string; store: string };
  tracing: { zipkinUrl: string } | null;
  services: Array<{
    name: string;
    status: 'up' | 'down';
    instances: number;
    consumers: Array<{ groupId: string; topic: string; lag: number; handled: number }>;
    outboxBacklog: number | null;
  }>;
  topics: Array<{ name: string; owner: string; consumers: string[] }>;
  circuits: Array<{ from: string; to: string; state: 'closed' | 'open' | 'half-open' }>;
  at: string;
}
export interface Health { status: string; services: Record<string, 'up' | 'down'> }
