/**
 * Opens the database a service owns, by deployment: a SQLite file per service in the data
 * folder (embedded), or a PostgreSQL database per service on one server (distributed).
 */
import { join } from 'node:path';
import type { Db } from './db.ts';
import type { DbStats } from './db-stats.ts';
import { openSqlite } from './sqlite.ts';
import { openPostgres } from './postgres.ts';
import type { PostgresTimeouts } from '../config.ts';
import { ConfigError } from '../errors.ts';
import type { Logger } from '../log.ts';

export interface ServiceDbConfig {
  store: 'sqlite' | 'postgres';
  dataDir: string;
  databaseUrl?: string;
  namespace: string;
  poolSize?: number;
  /** PostgreSQL's waits (postgres.ts); its defaults when absent. */
  postgres?: Readonly<PostgresTimeouts>;
}

/** The PostgreSQL database name of `service` under `namespace`: `<namespace>_<service>`, in [a-z0-9_]. */
export function serviceDatabaseName(namespace: string, service: string): string {
  const name = `${namespace}_${service}`.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  // PostgreSQL would silently truncate a longer identifier, and two services could collide.
  if (name.length > 63) throw ConfigError(`database name ${name} is longer than PostgreSQL's 63 characters; shorten the namespace`);
  return name;
}

/** Opens `service`'s own database; `stats` counts what is asked of it. */
export async function openServiceDb(cfg: ServiceDbConfig, service: string, log?: Logger, stats?: DbStats): Promise<Db> {
  if (cfg.store === 'sqlite') return openSqlite({ file: join(cfg.dataDir, `${service}.sqlite`), log, stats });
  if (cfg.store === 'postgres') {
    if (!cfg.databaseUrl) throw ConfigError('store is postgres but no database URL is configured (set DATABASE_URL)');
    return openPostgres({ url: cfg.databaseUrl, database: serviceDatabaseName(cfg.namespace, service), poolSize: cfg.poolSize, log, stats, timeouts: cfg.postgres });
  }
  throw ConfigError(`unknown store ${String(cfg.store)}: expected sqlite or postgres`);
}
