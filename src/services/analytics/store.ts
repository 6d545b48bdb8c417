/**
 * Analytics' read model: the latest value of every window the pipeline emits
 * (analytics.windows), one row per aggregation and window start. The rows are upserts of
 * full values, so a redelivered record rewrites what it wrote, and the table is always
 * the last value of each window the stream reached.
 */
import type { Db, Migration, Sql } from '#platform/db/db.ts';

export const migrations: Migration[] = [
  {
    id: 'analytics-001-windows',
    sql: `CREATE TABLE analytics_windows (
      name TEXT NOT NULL,
      window_start BIGINT NOT NULL,
      window_end BIGINT NOT NULL,
      value TEXT NOT NULL,
      final INTEGER NOT NULL,
      PRIMARY KEY (name, window_start)
    );`,
  },
];

export interface WindowRow {
  name: string;
  start: number;
  end: number;
  value: unknown;
  final: boolean;
}

export async function upsertWindows(tx: Sql, rows: WindowRow[]): Promise<void> {
  for (const r of rows) {
    await tx.query(
      `INSERT INTO analytics_windows (name, window_start, window_end, value, final) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (name, window_start) DO UPDATE SET window_end = excluded.window_end, value = excluded.value, final = excluded.final`,
      [r.name, r.start, r.end, JSON.stringify(r.value), r.final ? 1 : 0],
    );
  }
}

/** The windows of one aggregation starting in [from, to), oldest first. */
export async function windowsBetween(db: Db, name: string, from: number, to: number, limit: number): Promise<WindowRow[]> {
  const rows = await db.query<{ name: string; window_start: number | string; window_end: number | string; value: string; final: number }>(
    'SELECT name, window_start, window_end, value, final FROM analytics_windows WHERE name = $1 AND window_start >= $2 AND window_start < $3 ORDER BY window_start LIMIT $4',
    [name, from, to, limit],
  );
  return rows.map((r) => ({ name: r.name, start: Number(r.window_start), end: Number(r.window_end), value: JSON.parse(r.value), final: Number(r.final) === 1 }));
}

/** Every window of the read model, by aggregation and start (for a rebuild's comparison). */
export async function allWindows(db: Db): Promise<WindowRow[]> {
  const rows = await db.query<{ name: string; window_start: number | string; window_end: number | string; value: string; final: number }>(
    'SELECT name, window_start, window_end, value, final FROM analytics_windows ORDER BY name, window_start',
  );
  return rows.map((r) => ({ name: r.name, start: Number(r.window_start), end: Number(r.window_end), value: JSON.parse(r.value), final: Number(r.final) === 1 }));
}
