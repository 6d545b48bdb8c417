/**
 * Seeded accounts: the demo customer and admin that `npm start` prints. The runtime writes
 * their credentials into the data directory (runtime/demo-users.ts); each users instance
 * reads that file at start (USERS_SEED_FILE) and makes the accounts that do not exist yet.
 * An account that exists is left alone, whatever its password is now: a seed never resets
 * what a user changed.
 */
import { readFileSync } from 'node:fs';
import type { Db } from '#platform/db/db.ts';
import type { Accounts } from './accounts.ts';
import { createAdmin } from './admin.ts';
import { normalizeEmail, type Role } from './domain/user.ts';
import { isOrderflowError } from '#platform/errors.ts';
import { EmailTaken, SeedFileInvalid } from './errors.ts';
import { findUserByEmail } from './store.ts';

export interface SeedAccount {
  email: string;
  password: string;
  name: string;
  role: Role;
}

export function readSeedFile(path: string): SeedAccount[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (cause) {
    throw SeedFileInvalid(`the seed file ${path} cannot be read as JSON: ${(cause as Error).message}`, { cause });
  }
  const accounts = (parsed as { accounts?: unknown }).accounts;
  const valid = (a: any): a is SeedAccount => typeof a?.email === 'string' && typeof a.password === 'string' && typeof a.name === 'string' && (a.role === 'customer' || a.role === 'admin');
  if (!Array.isArray(accounts) || !accounts.every(valid)) throw SeedFileInvalid(`the seed file ${path} must be {"accounts":[{"email","password","name","role"}]}`);
  return accounts;
}

/** Makes the accounts that do not exist; returns the emails it made. */
export async function seedAccounts(db: Db, accounts: Accounts, seeds: SeedAccount[]): Promise<string[]> {
  const made: string[] = [];
  for (const seed of seeds) {
    if ((await findUserByEmail(db, normalizeEmail(seed.email))) !== undefined) continue;
    const input = { email: seed.email, password: seed.password, name: seed.name };
    // Replicas seed together: the unique email decides, and the loser's "taken" is no error.
    try {
      if (seed.role === 'admin') await createAdmin(db, accounts, input);
      else await accounts.register(input);
      made.push(seed.email);
    } catch (err) {
      if (!isOrderflowError(err, EmailTaken.code)) throw err;
    }
  }
  return made;
}
