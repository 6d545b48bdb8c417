/**
 * GET /products as one serialised page with an ETag, so a client that has the current
 * catalog gets a 304 and the service answers without touching the database.
 *
 * When is the page stale? Not only when a product is created: `available` changes with every
 * reservation and release, and those come from the bus consumer, the rest calls and the
 * seed alike. Tracking each writer would miss the next one added, so the page's version is
 * a counter bumped after EVERY committed transaction of this database (Db.onCommit): any
 * commit may have changed the catalog, none can slip past. Commits that did not touch
 * products (an inbox row) cost one needless re-read, which is cheap next to a stale page.
 *
 * The counter is process-local, so the page is kept only where this process is the only
 * writer of the database (SQLite, the embedded deployment, one instance); on PostgreSQL, or
 * with replicas (ORDERFLOW_REPLICAS > 1, several processes on one SQLite file), other
 * processes commit too, and the page is read afresh each time (the ETag still spares the body).
 * The ETag is a hash of the body, not the counter: a restart resets the counter, and equal
 * bodies deserve equal tags whichever replica serves them.
 */
import { createHash } from 'node:crypto';
import type { Db } from '#platform/db/db.ts';
import { listProducts } from './store.ts';

export interface CatalogPage {
  /** The JSON bytes: encoded once per version, not once per answer. */
  body: Buffer;
  etag: string;
}

export interface CatalogPages {
  current(): Promise<CatalogPage>;
}

type Versioned = CatalogPage & { version: number };

/** `soleWriter`: no other process writes this database (false with replicas); default true. */
export function createCatalogPages(db: Db, opts: { soleWriter?: boolean } = {}): CatalogPages {
  const keep = db.dialect === 'sqlite' && (opts.soleWriter ?? true);
  let version = 0;
  let kept: Versioned | undefined;
  // Concurrent misses of one version share one read: after a commit, 64 waiting clients
  // cost one query, not 64.
  let loading: { version: number; page: Promise<Versioned> } | undefined;
  db.onCommit(() => {
    version++;
  });

  async function load(): Promise<Versioned> {
    // Taken before the read: a commit during the read bumps `version` past it, so a page
    // that may predate that commit is never served as current.
    const at = version;
    const body = Buffer.from(JSON.stringify(await listProducts(db)));
    return { body, etag: `"${createHash('sha1').update(body).digest('base64url')}"`, version: at };
  }

  return {
    async current() {
      if (!keep) return load();
      if (kept !== undefined && kept.version === version) return kept;
      if (loading === undefined || loading.version !== version) {
        const page = load();
        loading = { version, page };
        page.then((p) => {
          if (kept === undefined || p.version >= kept.version) kept = p;
        }, () => {
          if (loading?.page === page) loading = undefined;
        });
      }
      return loading.page;
    },
  };
}

/** RFC 9110 §13.1.2: If-None-Match matches with weak comparison, and `*` matches any. */
export function matchesIfNoneMatch(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  if (header.trim() === '*') return true;
  const strip = (tag: string) => (tag.startsWith('W/') ? tag.slice(2) : tag);
  const want = strip(etag);
  return header.split(',').some((tag) => strip(tag.trim()) === want);
}
