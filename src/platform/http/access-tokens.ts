/**
 * Who is calling: the access tokens the users service signs (ES256 JWTs), verified against
 * its JWKS. The gateway authenticates every /api call but the public ones with this; the
 * users service is the only signer (services/users/tokens.ts).
 */
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { DependencyUnavailable, defineError } from '../errors.ts';

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
  /** Where the signer publishes its keys, e.g. http://127.0.0.1:8085/.well-known/jwks.json */
  jwksUrl: string;
  issuer: string;
  audience: string;
  /** Leeway for clocks that disagree a little; default 5 s. */
  clockToleranceS?: number;
  /** Test seam: the key set itself instead of fetching jwksUrl. */
  keys?: JWTVerifyGetKey;
}

export interface TokenVerifier {
  /** The identity of an `Authorization: Bearer <token>` header; throws a coded 401 (or 503 when the keys cannot be had). */
  verify(authorization: string | undefined): Promise<Identity>;
}

const isRole = (v: unknown): v is Role => (roles as readonly unknown[]).includes(v);

export function createTokenVerifier(opts: TokenVerifierOptions): TokenVerifier {
  // Keys are cached: fetched once, again at most every 30 s for a token with an unknown kid
  // (a new key), and never for each request.
  const keys = opts.keys ?? createRemoteJWKSet(new URL(opts.jwksUrl), { cooldownDuration: 30_000, cacheMaxAge: 600_000, timeoutDuration: 2_000 });
  return {
    async verify(authorization) {
      if (authorization === undefined || authorization === '') throw Unauthenticated('this route needs an access token: Authorization: Bearer <token> (POST /api/auth/login gives one)');
      const match = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/.exec(authorization);
      if (!match) throw Unauthenticated('the Authorization header must be "Bearer <access token>"');
      try {
        const { payload } = await jwtVerify(match[1], keys, { issuer: opts.issuer, audience: opts.audience, algorithms: ['ES256'], clockTolerance: opts.clockToleranceS ?? 5, requiredClaims: ['sub', 'exp'] });
        if (typeof payload.sub !== 'string' || !isRole(payload.role)) throw Unauthenticated('the access token has no subject or role');
        return { id: payload.sub, role: payload.role };
      } catch (err) {
        if (err instanceof joseErrors.JWTExpired) throw Unauthenticated('the access token has expired; POST /api/auth/refresh gives a new one');
        if (err instanceof joseErrors.JWKSTimeout || (err instanceof TypeError && /fetch/.test(err.message))) {
          throw DependencyUnavailable('the keys that verify access tokens cannot be fetched now', { cause: err });
        }
        if (err instanceof joseErrors.JOSEError) throw Unauthenticated('the access token is not valid');
        throw err;
      }
    },
  };
}

/** Throws a coded 403 unless the identity has one of `allowed`. */
export function requireRole(identity: Identity, allowed: readonly Role[]): void {
  if (!allowed.includes(identity.role)) throw Forbidden(`this needs the role ${allowed.join(' or ')}`);
}
