/**
 * The users service's HTTP routes: register, log in, rotate, log out, a user by id (for the
 * gateway's /api/me) and the JWKS the gateway verifies access tokens with. Behind the
 * gateway, which maps them to /api/auth/* and /api/me.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { Uuid } from '#contracts/shared.ts';
import type { Db } from '#platform/db/db.ts';
import type { Accounts } from './accounts.ts';
import { PASSWORD_MAX, toPublic } from './domain/user.ts';
import { UserNotFound } from './errors.ts';
import type { SigningKey } from './keys.ts';
import { getUser } from './store.ts';

// RFC 5321 bounds an address at 254 characters; the shape is checked, not deliverability.
const Email = Type.String({ minLength: 3, maxLength: 254, pattern: '^[^\\s@]+@[^\\s@]+\\.[^\\s@]+$' });
// The length rule is the domain's (passwordProblem): this only bounds what is hashed.
const Password = Type.String({ minLength: 1, maxLength: PASSWORD_MAX });
const RegisterBody = Type.Object({ email: Email, password: Password, name: Type.String({ minLength: 1, maxLength: 100, pattern: '\\S' }) }, { additionalProperties: false });
const LoginBody = Type.Object({ email: Type.String({ minLength: 1, maxLength: 254 }), password: Password }, { additionalProperties: false });
const RefreshBody = Type.Object({ refreshToken: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false });
const IdParams = Type.Object({ id: Uuid });

export interface UsersRoutesDeps {
  db: Db;
  accounts: Accounts;
  key: SigningKey;
}

export function registerRoutes(app: FastifyInstance, deps: UsersRoutesDeps): void {
  const { accounts } = deps;

  app.post<{ Body: Static<typeof RegisterBody> }>('/auth/register', { schema: { body: RegisterBody } }, async (req, reply) => {
    return reply.code(201).send(await accounts.register(req.body));
  });

  app.post<{ Body: Static<typeof LoginBody> }>('/auth/login', { schema: { body: LoginBody } }, async (req, reply) => {
    return reply.header('cache-control', 'no-store').send(await accounts.login(req.body));
  });

  app.post<{ Body: Static<typeof RefreshBody> }>('/auth/refresh', { schema: { body: RefreshBody } }, async (req, reply) => {
    return reply.header('cache-control', 'no-store').send(await accounts.refresh(req.body.refreshToken));
  });

  app.post<{ Body: Static<typeof RefreshBody> }>('/auth/logout', { schema: { body: RefreshBody } }, async (req, reply) => {
    await accounts.logout(req.body.refreshToken);
    return reply.code(204).send();
  });

  app.get<{ Params: Static<typeof IdParams> }>('/users/:id', { schema: { params: IdParams } }, async (req) => {
    const user = await getUser(deps.db, req.params.id.toLowerCase());
    if (!user) throw UserNotFound(`no user ${req.params.id}`);
    return toPublic(user);
  });

  // Cached by verifiers for a few minutes: a new key is published before it signs (rotation).
  app.get('/.well-known/jwks.json', async (_req, reply) => {
    return reply.header('cache-control', 'public, max-age=300').send({ keys: [deps.key.publicJwk] });
  });
}
