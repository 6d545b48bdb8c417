/**
 * What the users service does: register (announced by UserRegistered), log in, rotate a
 * refresh token, log out, make an admin. Used by the HTTP routes and by `orderflow users
 * create-admin`.
 */
import { appendToOutbox } from '#platform/bus/outbox.ts';
import type { Db } from '#platform/db/db.ts';
import { message, UserRegistered } from '#contracts/index.ts';
import { normalizeEmail, passwordProblem, toPublic, type PublicUser, type Role } from './domain/user.ts';
import { EmailTaken, InvalidCredentials, InvalidRefreshToken, WeakPassword } from './errors.ts';
import type { SigningKey } from './keys.ts';
import type { Passwords } from './passwords.ts';
import { findRefreshToken, findUserByEmail, insertRefreshToken, insertUser, revokeFamily, setPasswordHash, useRefreshToken } from './store.ts';
import { hashRefreshToken, newRefreshToken, signAccessToken, type TokenSettings } from './tokens.ts';

export interface AccountsDeps {
  db: Db;
  passwords: Passwords;
  key: SigningKey;
  tokens: TokenSettings;
  ids: { newId(): string };
  clock: { now(): Date };
}

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  /** Seconds the access token is valid. */
  expiresIn: number;
  tokenType: 'Bearer';
}

export interface Accounts {
  register(input: { email: string; password: string; name: string }, role?: Role): Promise<PublicUser>;
  login(input: { email: string; password: string }): Promise<TokenPair>;
  refresh(refreshToken: string): Promise<TokenPair>;
  /** Revokes the token's whole login (its family); unknown or spent tokens are no error. */
  logout(refreshToken: string): Promise<void>;
}

export function createAccounts(deps: AccountsDeps): Accounts {
  const { db, passwords, clock } = deps;

  async function issue(userId: string, role: Role, familyId: string, sql: Db | Parameters<Parameters<Db['transaction']>[0]>[0] = db): Promise<TokenPair> {
    const now = clock.now();
    const refreshToken = newRefreshToken();
    await insertRefreshToken(sql, {
      tokenHash: hashRefreshToken(refreshToken),
      familyId,
      userId,
      expiresAt: new Date(now.getTime() + deps.tokens.refreshTtlS * 1000).toISOString(),
      createdAt: now.toISOString(),
    });
    const accessToken = await signAccessToken(deps.key, deps.tokens, { sub: userId, role }, now);
    return { accessToken, refreshToken, expiresIn: deps.tokens.accessTtlS, tokenType: 'Bearer' };
  }

  return {
    async register(input, role = 'customer') {
      const email = normalizeEmail(input.email);
      const problem = passwordProblem(input.password, email);
      if (problem) throw WeakPassword(problem);
      const user = { id: deps.ids.newId(), email, name: input.name.trim(), role, createdAt: clock.now().toISOString(), passwordHash: await passwords.hash(input.password) };
      // The account and its UserRegistered commit together: notifications learns every
      // customer's address, and never one of an account that was not made.
      const made = await db.transaction(async (tx) => {
        if (!(await insertUser(tx, user))) return false;
        await appendToOutbox(tx, [message(UserRegistered, { payload: { userId: user.id, email }, occurredAt: user.createdAt })]);
        return true;
      });
      if (!made) throw EmailTaken(`an account with the email ${email} exists`);
      return toPublic(user);
    },

    async login(input) {
      const user = await findUserByEmail(db, normalizeEmail(input.email));
      // The same answer, and about the same time, for an unknown email and a wrong password.
      if (user === undefined) {
        await passwords.burn(input.password);
        throw InvalidCredentials('the email or the password is wrong');
      }
      if (!(await passwords.verify(user.passwordHash, input.password))) throw InvalidCredentials('the email or the password is wrong');
      if (passwords.outdated(user.passwordHash)) await setPasswordHash(db, user.id, await passwords.hash(input.password));
      return issue(user.id, user.role, deps.ids.newId());
    },

    async refresh(refreshToken) {
      const tokenHash = hashRefreshToken(refreshToken);
      const now = clock.now().toISOString();
      const row = await findRefreshToken(db, tokenHash);
      if (row === undefined || row.revoked_at !== null) throw InvalidRefreshToken('the refresh token is not valid; log in again');
      if (row.expires_at <= now) throw InvalidRefreshToken('the refresh token has expired; log in again');
      const reuse = async () => {
        // A spent token presented again: it was stolen, or the thief already used it. Either
        // way nobody can tell the two holders apart, so the whole login ends (RFC 9700 §4.14.2).
        await revokeFamily(db, row.family_id, now);
        return InvalidRefreshToken('the refresh token was already used; every token of this login is revoked; log in again');
      };
      if (row.used_at !== null) throw await reuse();
      const user = await db.query<{ role: Role }>('SELECT role FROM users WHERE id = $1', [row.user_id]);
      if (user.length === 0) throw InvalidRefreshToken('the refresh token is not valid; log in again');
      const pair = await db.transaction(async (tx) => {
        if (!(await useRefreshToken(tx, tokenHash, now))) return undefined;
        return issue(row.user_id, user[0].role, row.family_id, tx);
      });
      if (pair === undefined) throw await reuse();
      return pair;
    },

    async logout(refreshToken) {
      const row = await findRefreshToken(db, hashRefreshToken(refreshToken));
      if (row !== undefined) await revokeFamily(db, row.family_id, clock.now().toISOString());
    },
  };
}
