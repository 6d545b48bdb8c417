/**
 * Who may call what. Every /api route but the public ones names the roles it takes; the
 * check runs first (onRequest), so an anonymous caller learns nothing from a route's
 * validation (a 401 comes before a 400). The identity is the verified access token's
 * (platform/http/access-tokens.ts): the subject is the customer, whatever a body says.
 */
import type { FastifyRequest } from 'fastify';
import { requireRole, type Identity, type Role, type TokenVerifier } from '#platform/http/access-tokens.ts';

export interface Auth {
  /** An onRequest hook that lets only these roles through (401 without a valid token, 403 for another role). */
  only(roles: readonly Role[]): (req: FastifyRequest) => Promise<void>;
  /** The caller a route's hook let through. */
  identity(req: FastifyRequest): Identity;
  /**
   * An onRequest hook for a public route that knows its caller when there is one: without an
   * Authorization header the caller is anonymous; with one, the token must be valid (401).
   */
  optional(): (req: FastifyRequest) => Promise<void>;
  /** The caller of a route with the optional hook; undefined when anonymous. */
  caller(req: FastifyRequest): Identity | undefined;
}

export function createAuth(verifier: TokenVerifier): Auth {
  const identities = new WeakMap<FastifyRequest, Identity>();
  return {
    only(roles) {
      return async (req) => {
        const identity = await verifier.verify(req.headers.authorization);
        requireRole(identity, roles);
        identities.set(req, identity);
      };
    },
    optional() {
      return async (req) => {
        if (req.headers.authorization === undefined) return;
        identities.set(req, await verifier.verify(req.headers.authorization));
      };
    },
    caller(req) {
      return identities.get(req);
    },
    identity(req) {
      const identity = identities.get(req);
      // A route that asks for the caller without a hook that checked one is a bug of ours.
      if (identity === undefined) throw new TypeError(`route ${req.routeOptions.url} reads the caller but does not authenticate`);
      return identity;
    },
  };
}
