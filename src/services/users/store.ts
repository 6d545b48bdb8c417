/** The users and refresh-token tables and their SQL. Functions take the Sql to run on (transaction or Db). */
import type { Migration, Sql } from '#platform/db/db.ts';
import type { Role, User } from './domain/user.ts';

// A refresh token is kept as its SHA-256 only: the table alone cannot be used to log in.
// family_id ties the tokens one login rotated through, so a reused one revokes them all.
export const migrations: Migration[] = [
  {
    id: 'users-001-users',
    sql: `
      CREATE TABLE users (
        id TEXT PRIMARY KEY,
        email TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('customer', 'admin')),
        password_hash TEXT NOT NULL,
        created_at TEXT NOT NULL
      );
      CREATE TABLE refresh_tokens (
        token_hash TEXT PRIMARY KEY,
        family_id TEXT NOT NULL,
        user_id TEXT NOT NULL REFERENCES users (id),
        expires_at TEXT NOT NULL,
        used_at TEXT,
        revoked_at TEXT,
        created_at TEXT NOT NULL
      );
      CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
      CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires_at);`,
  },
];

interface UserRow {
  id: string;
  email: string;
  name: string;
  role: Role;
  password_hash: string;
  created_at: string;
}

const toUser = (r: UserRow): User & { passwordHash: string } => ({ id: r.id, email: r.email, name: r.name, role: r.role, createdAt: r.created_at, passwordHash: r.password_hash });

/** Inserts the user; false when the email is taken (the unique index decides, not a read before). */
export async function insertUser(sql: Sql, u: User & { passwordHash: string }): Promise<boolean> {
  const rows = await sql.query<{ id: string }>(
    'INSERT INTO users (id, email, name, role, password_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (email) DO NOTHING RETURNING id',
    [u.id, u.email, u.name, u.role, u.passwordHash, u.createdAt],
  );
  return rows.length === 1;
}

export async function findUserByEmail(sql: Sql, email: string): Promise<(User & { passwordHash: string }) | undefined> {
  const rows = await sql.query<UserRow>('SELECT id, email, name, role, password_hash, created_at FROM users WHERE email = $1', [email]);
  return rows[0] && toUser(rows[0]);
}

export async function getUser(sql: Sql, id: string): Promise<User | undefined> {
  const rows = await sql.query<UserRow>('SELECT id, email, name, role, password_hash, created_at FROM users WHERE id = $1', [id]);
  return rows[0] && toUser(rows[0]);
}

export async function setPasswordHash(sql: Sql, id: string, passwordHash: string): Promise<void> {
  await sql.query('UPDATE users SET password_hash = $1 WHERE id = $2', [passwordHash, id]);
}

export async function setRole(sql: Sql, id: string, role: Role): Promise<void> {
  await sql.query('UPDATE users SET role = $1 WHERE id = $2', [role, id]);
}

export interface RefreshTokenRow {
  token_hash: string;
  family_id: string;
  user_id: string;
  expires_at: string;
  used_at: string | null;
  revoked_at: string | null;
}

export async function insertRefreshToken(sql: Sql, t: { tokenHash: string; familyId: string; userId: string; expiresAt: string; createdAt: string }): Promise<void> {
  await sql.query(
    'INSERT INTO refresh_tokens (token_hash, family_id, user_id, expires_at, created_at) VALUES ($1, $2, $3, $4, $5)',
    [t.tokenHash, t.familyId, t.userId, t.expiresAt, t.createdAt],
  );
}

export async function findRefreshToken(sql: Sql, tokenHash: string): Promise<RefreshTokenRow | undefined> {
  const rows = await sql.query<RefreshTokenRow>('SELECT token_hash, family_id, user_id, expires_at, used_at, revoked_at FROM refresh_tokens WHERE token_hash = $1', [tokenHash]);
  return rows[0];
}

/**
 * Marks the token used if it is still live; true when this call did (of two concurrent
 * refreshes with one token, exactly one wins, and the other counts as a reuse).
 */
export async function useRefreshToken(sql: Sql, tokenHash: string, at: string): Promise<boolean> {
  const rows = await sql.query<{ token_hash: string }>(
    'UPDATE refresh_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $1 RETURNING token_hash',
    [at, tokenHash],
  );
  return rows.length === 1;
}

export async function revokeFamily(sql: Sql, familyId: string, at: string): Promise<number> {
  const rows = await sql.query<{ token_hash: string }>('UPDATE refresh_tokens SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL RETURNING token_hash', [at, familyId]);
  return rows.length;
}

/** For the retention loop: deletes at most `limit` tokens that expired before `before`. */
export async function deleteExpiredTokens(sql: Sql, before: string, limit: number): Promise<number> {
  const rows = await sql.query<{ token_hash: string }>(
    'DELETE FROM refresh_tokens WHERE token_hash IN (SELECT token_hash FROM refresh_tokens WHERE expires_at < $1 LIMIT $2) RETURNING token_hash',
    [before, limit],
  );
  return rows.length;
}
