/**
 * `orderflow users create-admin` and `orderflow users new-key`. There is no route that
 * grants a role: an admin is made here, with the users database opened directly (as
 * `orderflow orders stuck` opens the orders one), so it works with the system up or down.
 */
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadPlatformConfig } from '#platform/config.ts';
import { inheritedEnv, loadRuntimeConfig } from './config.ts';
import { runCommand, UsageError } from './command.ts';

export const USERS_USAGE = `  users create-admin --email <email> [--name Admin] [--password-stdin] [--postgres] [--data-dir ./data]
        Make an admin account (or promote an existing account, its password unchanged). The
        password is made at random and printed once, or read from stdin with --password-stdin.
  users new-key
        Print a new private signing key (an EC P-256 JWK) for USERS_SIGNING_KEY or the file
        USERS_SIGNING_KEY_FILE names: what the users service needs on PostgreSQL and Kubernetes.`;

export function usersCommand(args: string[]): Promise<number> {
  return runCommand('users', USERS_USAGE, () => run(args), (err) => (err as { code?: unknown }).code === 'ORD_ERR_WEAK_PASSWORD');
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      email: { type: 'string' },
      name: { type: 'string', default: 'Admin' },
      postgres: { type: 'boolean', default: false },
      'data-dir': { type: 'string' },
      'password-stdin': { type: 'boolean', default: false },
    },
  });
  const { loadSigningKey, newSigningKeyJson } = await import('#services/users/keys.ts');
  if (positionals[0] === 'new-key') {
    process.stdout.write(`${await newSigningKeyJson()}\n`);
    return 0;
  }
  if (positionals[0] !== 'create-admin') throw new UsageError('users needs a subcommand: create-admin or new-key');
  if (!values.email) throw new UsageError('create-admin needs --email');

  const overlay: Record<string, string> = {};
  if (values['data-dir']) overlay.ORDERFLOW_DATA_DIR = resolve(values['data-dir']);
  if (values.postgres) Object.assign(overlay, { ORDERFLOW_STORE: 'postgres', DATABASE_URL: loadRuntimeConfig().databaseUrl });
  const env = { ...inheritedEnv(), ...overlay };
  const platform = loadPlatformConfig(env);
  const generated = values['password-stdin'] ? undefined : randomBytes(15).toString('base64url');
  const password = generated ?? (await readStdin());

  const { openServiceDb } = await import('#platform/db/open.ts');
  const { migrate } = await import('#platform/db/migrate.ts');
  const { migrations } = await import('#services/users/store.ts');
  const { outboxMigrations } = await import('#platform/bus/outbox.ts');
  const { inboxMigrations } = await import('#platform/bus/consumer.ts');
  const { createAccounts } = await import('#services/users/accounts.ts');
  const { createPasswords } = await import('#services/users/passwords.ts');
  const { loadConfig } = await import('#services/users/config.ts');
  const { createAdmin } = await import('#services/users/admin.ts');
  const { v7: uuidv7 } = await import('uuid');
  const db = await openServiceDb({ ...platform, poolSize: 1 }, 'users');
  try {
    // The tables may not exist yet (a system never started): made as the service makes them,
    // the outbox included: a new account's UserRegistered waits there for the service's relay.
    await migrate(db, [...outboxMigrations, ...inboxMigrations, ...migrations]);
    // Registering signs no token; the key is only there because accounts can.
    const key = await loadSigningKey({ kind: 'jwk', json: await newSigningKeyJson() });
    const accounts = createAccounts({ db, passwords: createPasswords(loadConfig(env).passwordCost), key, tokens: loadConfig(env).tokens, ids: { newId: () => uuidv7() }, clock: { now: () => new Date() } });
    const { user, created } = await createAdmin(db, accounts, { email: values.email, password, name: values.name });
    process.stdout.write(created
      ? `admin ${user.email} created (id ${user.id})${generated ? `; password ${generated}` : ''}\n`
      : `${user.email} exists: now an admin (its password is unchanged)\n`);
    return 0;
  } finally {
    await db.close();
  }
}
