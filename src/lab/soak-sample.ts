/**
 * What a soak looks at, and what it concludes. A sample counts the rows of every table of
 * every database of the system (each service's, and the embedded log's records) and the
 * size of every file under the data dir (SQLite files, their -wal and -shm) or, on
 * PostgreSQL, of every table with its indexes and TOAST.
 *
 * The verdict tells growth that is garbage from growth that is data. Orders, their events,
 * reservations, payments and shipments are what the system is for: they grow by design, and
 * so do the service database files holding them. Everything else (inbox, outbox, idempotency
 * keys, the log's records, every -wal file, the log's file) must stop growing once the
 * retentions have turned over: its highest value over the last third of the run may not
 * exceed its highest over the middle third by more than the tolerance. Anything that grows
 * at a steady pace fails that (linear growth from zero makes the ratio 1.5).
 */
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import pg from 'pg';

export interface SoakSample {
  /** Seconds since the load started. */
  t: number;
  at: string;
  /** Rows by `<database>.<table>`: `orders.inbox`, `bus.records`… */
  rows: Record<string, number>;
  /** Bytes by file under the data dir (`bus.sqlite-wal`), or by `<database>.<table>` on PostgreSQL. */
  bytes: Record<string, number>;
  /** Orders sent so far, and how they were answered. */
  orders: { offered: number; accepted: number; failed: number };
  /** Consumer lag summed over the services' groups; null when it could not be read. */
  lag: number | null;
}

/** Tables whose rows are the business's data: they grow with the orders, by design. */
export const GROWING_TABLES = ['order_events', 'orders_view', 'reservations', 'payments', 'shipments'];

/** A service database file holds the growing tables; the embedded log's file (bus.sqlite) and every -wal, -shm must stay flat. */
const growsByDesign = (kind: 'rows' | 'bytes', name: string): boolean => {
  const table = name.slice(name.indexOf('.') + 1);
  if (GROWING_TABLES.includes(table)) return true;
  return kind === 'bytes' && /\.sqlite$/.test(name) && name !== 'bus.sqlite';
};

/** Rows of every table of every SQLite file directly under `dir`, and the size of every file below it. */
export function sampleSqliteDir(dir: string): Pick<SoakSample, 'rows' | 'bytes'> {
  const rows: Record<string, number> = {};
  const bytes: Record<string, number> = {};
  for (const file of listFiles(dir)) {
    const name = relative(dir, file);
    try {
      bytes[name] = statSync(file).size;
    } catch {
      continue; // gone between the listing and the stat (a -wal removed at a clean close)
    }
    if (!name.endsWith('.sqlite') || name.includes('/')) continue;
    const database = name.slice(0, -'.sqlite'.length);
    // Read-only and closed at once: a reader held open would keep checkpoints from resetting the WAL.
    const db = new DatabaseSync(file, { readOnly: true, timeout: 5_000 });
    try {
      const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`).all() as Array<{ name: string }>;
      for (const { name: table } of tables) {
        rows[`${database}.${table}`] = Number((db.prepare(`SELECT COUNT(*) AS n FROM "${table.replaceAll('"', '""')}"`).get() as { n: number }).n);
      }
    } finally {
      db.close();
    }
  }
  return { rows, bytes };
}

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

/** Rows and bytes (table, indexes, TOAST) of every table of `databases` on the PostgreSQL server at `url`. */
export async function samplePostgres(url: string, databases: Record<string, string>): Promise<Pick<SoakSample, 'rows' | 'bytes'>> {
  const rows: Record<string, number> = {};
  const bytes: Record<string, number> = {};
  for (const [service, database] of Object.entries(databases)) {
    const u = new URL(url);
    u.pathname = `/${database}`;
    const client = new pg.Client({ connectionString: u.toString(), application_name: 'orderflow-soak' });
    client.on('error', () => undefined);
    await client.connect();
    try {
      const tables = await client.query<{ name: string; bytes: string }>(
        `SELECT c.relname AS name, pg_total_relation_size(c.oid) AS bytes FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND n.nspname = current_schema() ORDER BY c.relname`,
      );
      for (const t of tables.rows) {
        const count = await client.query<{ n: string }>(`SELECT COUNT(*) AS n FROM "${t.name.replaceAll('"', '""')}"`);
        rows[`${service}.${t.name}`] = Number(count.rows[0].n);
        bytes[`${service}.${t.name}`] = Number(t.bytes);
      }
    } finally {
      await client.end().catch(() => undefined);
    }
  }
  return { rows, bytes };
}

export interface SeriesVerdict {
  kind: 'rows' | 'bytes';
  name: string;
  /** Grows with the orders by design (business data), so not judged. */
  growsByDesign: boolean;
  first: number;
  last: number;
  /** Highest over the middle and over the last third of the samples. */
  middleMax: number;
  lastMax: number;
  /** lastMax / middleMax - 1, 0 when both are 0. */
  growth: number;
  /** Not judged (grows by design), or the last third stayed within the tolerance. */
  flat: boolean;
}

export interface SoakVerdict {
  /** Every bounded series flat; false too when the run was too short to judge (fewer than 3 samples). */
  flat: boolean;
  judged: boolean;
  tolerance: number;
  series: SeriesVerdict[];
}

/**
 * The verdict over `samples` (in order). A bounded series is flat when its highest value in
 * the last third is at most its highest in the middle third × (1 + tolerance), plus `slack`
 * (some rows, some pages) so that near-empty series are not judged on noise.
 */
export function soakVerdict(samples: SoakSample[], o: { tolerance?: number; slack?: { rows: number; bytes: number } } = {}): SoakVerdict {
  const tolerance = o.tolerance ?? 0.1;
  const slack = o.slack ?? { rows: 50, bytes: 256 * 1024 };
  const judged = samples.length >= 3;
  const third = Math.floor(samples.length / 3);
  const middle = samples.slice(third, samples.length - third);
  const lastThird = samples.slice(samples.length - third);
  const series: SeriesVerdict[] = [];
  for (const kind of ['rows', 'bytes'] as const) {
    const names = [...new Set(samples.flatMap((s) => Object.keys(s[kind])))].sort();
    for (const name of names) {
      const at = (s: SoakSample) => s[kind][name] ?? 0;
      const middleMax = Math.max(0, ...middle.map(at));
      const lastMax = Math.max(0, ...lastThird.map(at));
      const grows = growsByDesign(kind, name);
      series.push({
        kind,
        name,
        growsByDesign: grows,
        first: samples.length ? at(samples[0]) : 0,
        last: samples.length ? at(samples[samples.length - 1]) : 0,
        middleMax,
        lastMax,
        growth: middleMax === 0 ? (lastMax === 0 ? 0 : Infinity) : lastMax / middleMax - 1,
        flat: grows || (judged && lastMax <= middleMax * (1 + tolerance) + slack[kind]),
      });
    }
  }
  return { flat: judged && series.every((s) => s.flat), judged, tolerance, series };
}
