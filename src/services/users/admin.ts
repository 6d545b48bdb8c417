/**
 * `orderflow users create-admin`: an admin account, made from the command line (there is no
 * route that grants a role). An existing account with that email is promoted instead, its
 * password unchanged.
 */
import type { Db } from '#platform/db/db.ts';
import type { Accounts } from './accounts.ts';
import { normalizeEmail, toPublic, type PublicUser } from './domain/user.ts';
import { findUserByEmail, setRole } from './store.ts';

export async function createAdmin(db: Db, accounts: Accounts, input: { email: string; password: string; name: string }): Promise<{ user: PublicUser; created: boolean }> {
  const existing = await findUserByEmail(db, normalizeEmail(input.email));
  if (existing !== undefined) {
    if (existing.role !== 'admin') await setRole(db, existing.id, 'admin');
    return { user: toPublic({ ...existing, role: 'admin' }), created: false };
  }
  return { user: await accounts.register(input, 'admin'), created: true };
}
