/**
 * The demo accounts a local system starts with, so the README's walkthrough is a login and
 * a few curl lines: a customer and an admin, with passwords made at random the first time
 * and kept in the data directory (mode 0600), printed by `orderflow up`. The users service
 * makes the accounts from this file (services/users/seed.ts); nothing here is a default
 * password anybody else knows.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ConfigError } from '#platform/errors.ts';
import { newSigningKeyJson } from '#services/users/keys.ts';

export interface Credentials {
  email: string;
  password: string;
}

export interface DemoUsers {
  /** The file the users service seeds from (USERS_SEED_FILE). */
  file: string;
  customer: Credentials;
  admin: Credentials;
}

export const demoUsersFile = (dataDir: string): string => join(dataDir, 'users', 'demo-accounts.json');

export function ensureDemoUsers(dataDir: string): DemoUsers {
  const file = demoUsersFile(dataDir);
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true });
    const password = () => randomBytes(15).toString('base64url');
    const accounts = [
      { email: 'customer@orderflow.test', password: password(), name: 'Demo Customer', role: 'customer' },
      { email: 'admin@orderflow.test', password: password(), name: 'Demo Admin', role: 'admin' },
    ];
    writeFileSync(file, JSON.stringify({ accounts }, null, 2) + '\n', { mode: 0o600 });
  }
  const { accounts } = JSON.parse(readFileSync(file, 'utf8')) as { accounts: Array<Credentials & { role: string }> };
  const of = (role: string): Credentials => {
    const a = accounts.find((x) => x.role === role);
    if (!a) throw ConfigError(`${file} has no ${role} account; delete it to have a new one made`);
    return { email: a.email, password: a.password };
  };
  return { file, customer: of('customer'), admin: of('admin') };
}

/**
 * The users service's signing key for a local system: USERS_SIGNING_KEY(_FILE) when the
 * environment sets one, else a key file in the data directory, made once. On the embedded
 * default the service would make it there itself; on PostgreSQL it insists on configuration
 * (a real deployment's replicas share no disk), which for a local system is this file.
 */
export async function signingKeyEnv(dataDir: string, env: Record<string, string | undefined>): Promise<Record<string, string>> {
  if (env.USERS_SIGNING_KEY || env.USERS_SIGNING_KEY_FILE) return {};
  const file = join(dataDir, 'users', 'signing-key.jwk');
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, await newSigningKeyJson(), { mode: 0o600, flag: 'wx' });
  }
  return { USERS_SIGNING_KEY_FILE: file };
}
