/**
 * PostgreSQL's own count of what the run's databases did, read before and after each step:
 * commits and rollbacks from pg_stat_database and, where the server preloads
 * pg_stat_statements (`npm run infra:postgres` does), statements executed from it.
 *
 * pg_stat_statements counts a statement when it finishes; pg_stat_database is fed by each
 * backend at most once a second (an idle one may hold its last second for a while), so
 * its figures can shift a second's worth of work between neighbouring steps. Where the
 * extension is absent (a user's server) statements are null and the services' own counts
 * (orderflow_db_statements_total) stand alone.
 */
import pg from 'pg';

export interface PgCounters {
  commits: number;
  rollbacks: number;
  /** Sum of pg_stat_statements.calls; null without the extension. */
  statements: number | null;
}

export interface PgStatsReader {
  read(): Promise<PgCounters | null>;
  close(): Promise<void>;
}

/**
 * A reader on one connection to the server at `url` (its own database, not one of the
 * run's, so its queries are not counted), summing over `databases`. It creates the
 * pg_stat_statements extension in that database when the library is preloaded; a reading
 * that fails answers null rather than failing the step.
 */
export async function openPgStats(url: string, databases: string[]): Promise<PgStatsReader> {
  const client = new pg.Client({ connectionString: url, application_name: 'orderflow-lab' });
  client.on('error', () => undefined); // a dropped connection shows as null readings
  await client.connect();
  let statements = false;
  try {
    const preload = await client.query<{ v: string }>(`SELECT current_setting('shared_preload_libraries') AS v`);
    if (preload.rows[0].v.split(',').map((s) => s.trim()).includes('pg_stat_statements')) {
      await client.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
      statements = true;
    }
  } catch {
    statements = false; // not allowed to create it: the client-side counts stand alone
  }
  return {
    async read() {
      try {
        const db = await client.query<{ commits: string; rollbacks: string }>(
          'SELECT coalesce(sum(xact_commit), 0) AS commits, coalesce(sum(xact_rollback), 0) AS rollbacks FROM pg_stat_database WHERE datname = ANY($1)',
          [databases],
        );
        let calls: number | null = null;
        if (statements) {
          const s = await client.query<{ calls: string }>(
            'SELECT coalesce(sum(s.calls), 0) AS calls FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = ANY($1)',
            [databases],
          );
          calls = Number(s.rows[0].calls);
        }
        return { commits: Number(db.rows[0].commits), rollbacks: Number(db.rows[0].rollbacks), statements: calls };
      } catch {
        return null;
      }
    },
    close: () => client.end().catch(() => undefined),
  };
}
