/**
 * Who is calling: the access tokens the users service signs (ES256 JWTs), verified against
 * its JWKS. The gateway authenticates every /api call but the public ones with this; the
 * users service is the only signer (services/users/tokens.ts).
 */
import { createLocalJWKSet, errors as joseErrors, jwtVerify, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { DependencyUnavailable, defineError, isOrderflowError } from '../errors.ts';

export const roles = ['customer', 'admin'] as const;
export type Role = (typeof roles)[number];

export interface Identity {
  /** The user id (the token's subject). */
  id: string;
  role: Role;
}

export const Unauthenticated = defineError('PLT_ERR_UNAUTHENTICATED', 401);
export const Forbidden = defineError('PLT_ERR_FORBIDDEN', 403);

export interface TokenVerifierOptions {
  /**
   * Where the signer publishes its keys, e.g. http://127.0.0.1:8085/.well-known/jwks.json,
   * or a function that fetches them (the gateway asks through its balanced upstream, so one
   * users replica down does not stop verification).
   */
  jwks: string | (() => Promise<JSONWebKeySet>);
  issuer: string;
  audience: string;
  /** Leeway for clocks that disagree a little; default 5 s. */
  clockToleranceS?: number;
  /** Verified tokens remembered (until they expire), so a client's next request costs no signature check; default 10,000. */
  cacheSize?: number;
  now?: () => number;
}

export interface TokenVerifier {
  /** The identity of an `Authorization: Bearer <token>` header; throws a coded 401 (or 503 when the keys cannot be had). */
  verify(authorization: string | undefined): Promise<Identity>;
}

const isRole = (v: unknown): v is Role => (roles as readonly unknown[]).includes(v);

export function createTokenVerifier(opts: TokenVerifierOptions): TokenVerifier {
  const now = opts.now ?? Date.now;
  const keys = cachedKeySet(typeof opts.jwks === 'string' ? fetchJwksFrom(opts.jwks) : opts.jwks, now);
  // A token is immutable and its signature checks out or not forever: an ES256 verify costs
  // ~0.1 ms of CPU, which at thousands of requests a second is worth remembering. Entries
  // leave at their token's expiry (checked on every hit) or, oldest first, when the cache is full.
  const verified = new Map<string, { identity: Identity; expMs: number }>();
  const cacheSize = opts.cacheSize ?? 10_000;
  return {
    async verify(authorization) {
      if (authorization === undefined || authorization === '') throw Unauthenticated('this route needs an access token: Authorization: Bearer <token> (POST /api/auth/login gives one)');
      const match = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/.exec(authorization);
      if (!match) throw Unauthenticated('the Authorization header must be "Bearer <access token>"');
      const token = match[1];
      const hit = verified.get(token);
      const tolerance = (opts.clockToleranceS ?? 5) * 1000;
      if (hit !== undefined) {
        if (now() < hit.expMs + tolerance) return hit.identity;
        verified.delete(token);
      }
      try {
        const { payload } = await jwtVerify(token, keys, { issuer: opts.issuer, audience: opts.audience, algorithms: ['ES256'], clockTolerance: opts.clockToleranceS ?? 5, requiredClaims: ['sub', 'exp'], currentDate: new Date(now()) });
        if (typeof payload.sub !== 'string' || !isRole(payload.role)) throw Unauthenticated('the access token has no subject or role');
        const identity: Identity = { id: payload.sub, role: payload.role };
        if (verified.size >= cacheSize) verified.delete(verified.keys().next().value!);
        verified.set(token, { identity, expMs: payload.exp! * 1000 });
        return identity;
      } catch (err) {
        if (err instanceof joseErrors.JWTExpired) throw Unauthenticated('the access token has expired; POST /api/auth/refresh gives a new one');
        if (isOrderflowError(err)) throw err;
        if (err instanceof joseErrors.JOSEError) throw Unauthenticated('the access token is not valid');
        throw err;
      }
    },
  };
}

function fetchJwksFrom(url: string): () => Promise<JSONWebKeySet> {
  return async () => {
    const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    if (!res.ok) throw new Error(`${url} answered ${res.status}`);
    return (await res.json()) as JSONWebKeySet;
  };
}

/**
 * The signer's keys, fetched once and kept: again after 10 minutes, and at most every 30 s
 * for a token whose kid is not among them (a new key). Keys that cannot be fetched are a 503
 * (the verifier cannot say), not a 401 (the token may be fine).
 */
function cachedKeySet(fetchJwks: () => Promise<JSONWebKeySet>, now: () => number): JWTVerifyGetKey {
  let local: JWTVerifyGetKey | undefined;
  let fetchedAt = -Infinity;
  let pending: Promise<JWTVerifyGetKey> | undefined;
  const refresh = () => (pending ??= fetchJwks()
    .then((set) => {
      local = createLocalJWKSet(set);
      fetchedAt = now();
      return local;
    }, (cause) => {
      throw DependencyUnavailable(`the keys that verify access tokens cannot be fetched now: ${(cause as Error).message}`, { cause });
    })
    .finally(() => { pending = undefined; }));
  return async (header, token) => {
    const keys = local !== undefined && now() - fetchedAt < 600_000 ? local : await refresh();
    try {
      return await keys(header, token);
    } catch (err) {
      if (!(err instanceof joseErrors.JWKSNoMatchingKey) || now() - fetchedAt < 30_000) throw err;
      return (await refresh())(header, token);
    }
  };
}

/** Throws a coded 403 unless the identity has one of `allowed`. */
export function requireRole(identity: Identity, allowed: readonly Role[]): void {
  if (!allowed.includes(identity.role)) throw Forbidden(`this needs the role ${allowed.join(' or ')}`);
}
