/**
 * The users service's settings: token lifetimes, where the signing key comes from (keys.ts),
 * and the password hashing cost.
 */
import { join } from 'node:path';
import { loadServiceConfig, type ServiceConfig } from '#platform/config.ts';
import { ConfigError } from '#platform/errors.ts';
import type { KeySource } from './keys.ts';
import { defaultPasswordCost, type PasswordCost } from './passwords.ts';
import type { TokenSettings } from './tokens.ts';

type Env = Record<string, string | undefined>;

export interface UsersConfig extends ServiceConfig {
  tokens: TokenSettings;
  signingKey: KeySource;
  passwordCost: PasswordCost;
  /** How often expired refresh tokens are purged. */
  tokenPurgeIntervalMs: number;
  /** Accounts made at start when missing (seed.ts): USERS_SEED_FILE, set by `orderflow up` for the demo users. */
  seedFile?: string;
}

export const DEFAULT_USERS_PORT = 8085;

function int(env: Env, name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name];
  const n = raw === undefined ? fallback : Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw ConfigError(`${name} must be an integer from ${min} to ${max}; got "${raw}"`);
  return n;
}

export function loadConfig(env: Env = process.env): Readonly<UsersConfig> {
  const service = loadServiceConfig(env, DEFAULT_USERS_PORT);
  return Object.freeze({
    ...service,
    tokens: Object.freeze({
      issuer: env.USERS_TOKEN_ISSUER ?? 'orderflow-users',
      audience: env.USERS_TOKEN_AUDIENCE ?? 'orderflow-api',
      // Short: a stolen access token is good for minutes; the refresh token, rotated and
      // revocable, carries the session.
      accessTtlS: int(env, 'USERS_ACCESS_TOKEN_TTL_S', 900, 30, 86_400),
      refreshTtlS: int(env, 'USERS_REFRESH_TOKEN_TTL_HOURS', 720, 1, 24 * 365) * 3600,
    }),
    signingKey: signingKeySource(env, service.platform.store, service.platform.dataDir),
    passwordCost: Object.freeze({
      memoryCost: int(env, 'USERS_ARGON2_MEMORY_KIB', defaultPasswordCost.memoryCost, 8_192, 4_194_304),
      timeCost: int(env, 'USERS_ARGON2_PASSES', defaultPasswordCost.timeCost, 1, 20),
      parallelism: int(env, 'USERS_ARGON2_LANES', defaultPasswordCost.parallelism, 1, 16),
    }),
    tokenPurgeIntervalMs: int(env, 'USERS_TOKEN_PURGE_INTERVAL_MS', 3_600_000, 1_000),
    seedFile: env.USERS_SEED_FILE || undefined,
  });
}

/**
 * USERS_SIGNING_KEY (a private JWK), else USERS_SIGNING_KEY_FILE, else on the embedded
 * default a key generated into the data directory. On PostgreSQL the data directory is no
 * shared place (replicas may run on other machines), so the key must be configured.
 */
function signingKeySource(env: Env, store: string, dataDir: string): KeySource {
  if (env.USERS_SIGNING_KEY) return { kind: 'jwk', json: env.USERS_SIGNING_KEY };
  if (env.USERS_SIGNING_KEY_FILE) return { kind: 'file', path: env.USERS_SIGNING_KEY_FILE, generate: false };
  if (store === 'sqlite') return { kind: 'file', path: join(dataDir, 'users', 'signing-key.jwk'), generate: true };
  throw ConfigError('the users service needs its signing key: set USERS_SIGNING_KEY (a private EC P-256 JWK) or USERS_SIGNING_KEY_FILE (`orderflow users new-key` makes one)');
}
