/**
 * Who is logged in: the token pair and the user (GET /api/me), kept in sessionStorage so a
 * reload keeps the login and closing the tab ends it. Pages subscribe to changes.
 */
import { errorOf } from './api-error.ts';
import type { TokenPair, User } from './api.ts';

export interface Session { accessToken: string; refreshToken: string; user: User; /** ms since the epoch. */ expiresAt: number }

/** A token this close to its end is renewed before use: a call refused 401 would be an error in the page's console. */
const RENEW_BEFORE_MS = 60_000;
const expiresAt = (tokens: TokenPair) => Date.now() + tokens.expiresIn * 1000;

const KEY = 'orderflow.console.session';
type Listener = (s: Session | undefined) => void;

function load(): Session | undefined {
  try {
    const raw = sessionStorage.getItem(KEY);
    return raw ? (JSON.parse(raw) as Session) : undefined;
  } catch {
    return undefined;
  }
}

let current = load();
const listeners = new Set<Listener>();
let refreshing: Promise<boolean> | undefined;

function set(next: Session | undefined): void {
  current = next;
  if (next) sessionStorage.setItem(KEY, JSON.stringify(next));
  else sessionStorage.removeItem(KEY);
  for (const l of listeners) l(next);
}

const post = (path: string, body: unknown) =>
  fetch(path, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify(body) });

export const session = {
  get: (): Session | undefined => current,
  subscribe(l: Listener): () => void {
    listeners.add(l);
    return () => listeners.delete(l);
  },

  async login(email: string, password: string): Promise<User> {
    const res = await post('/api/auth/login', { email, password });
    if (!res.ok) throw await errorOf(res);
    const tokens = (await res.json()) as TokenPair;
    const me = await fetch('/api/me', { headers: { authorization: `Bearer ${tokens.accessToken}`, accept: 'application/json' } });
    if (!me.ok) throw await errorOf(me);
    const user = (await me.json()) as User;
    set({ accessToken: tokens.accessToken, refreshToken: tokens.refreshToken, user, expiresAt: expiresAt(tokens) });
    return user;
  },

  /** Ends the login on the server too (its refresh token is revoked); the console forgets it either way. */
  async logout(): Promise<void> {
    const was = current;
    set(undefined);
    if (was) await post('/api/auth/logout', { refreshToken: was.refreshToken }).catch(() => undefined);
  },

  /** The session, its access token renewed first when it is about to expire. */
  async fresh(): Promise<Session | undefined> {
    if (current && !(current.expiresAt - Date.now() > RENEW_BEFORE_MS)) await session.refresh();
    return current;
  },

  /** A new token pair for the refresh token; false (and logged out) when it is refused. */
  refresh(): Promise<boolean> {
    const was = current;
    if (!was) return Promise.resolve(false);
    refreshing ??= (async () => {
      try {
        const res = await post('/api/auth/refresh', { refreshToken: was.refreshToken });
        if (!res.ok) {
          if (current === was) set(undefined);
          return false;
        }
        const tokens = (await res.json()) as TokenPair;
        if (current === was) set({ ...was, accessToken: tokens.accessToken, refreshToken: tokens.refreshToken, expiresAt: expiresAt(tokens) });
        return true;
      } catch {
        return false;
      } finally {
        refreshing = undefined;
      }
    })();
    return refreshing;
  },
};
