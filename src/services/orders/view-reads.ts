// GET /orders/:id answered from the serialised views this process read last, when no
// transaction has committed since. A view changes in the same transactions as the events
// (POST /orders, every saga step, the rest driver, recovery), and new writers will come;
// rather than trust each to say which view it touched, every commit of this database
// (Db.onCommit) bumps a version, and a view read before the latest commit is read again.
// So a status change is on the very next GET after its commit, whoever wrote it. The cost:
// while sagas run, most reads miss (commits are frequent); on a quiet system, or for the
// many reads between two commits, the answer costs no SQL and no serialisation.
//
// The version is process-local, so views are kept only where this process is the only
// writer of its database: SQLite (the embedded deployment). On PostgreSQL other replicas
// commit too, and every read goes to the database.
import type { Db } from '#platform/db/db.ts';
import { getOrderView } from './store.ts';

export interface ViewReads {
  /** The order's view as JSON bytes; undefined when the order does not exist. */
  json(orderId: string): Promise<Buffer | undefined>;
}

export function createViewReads(db: Db, maxEntries = 50_000): ViewReads {
  const keep = db.dialect === 'sqlite';
  let version = 0;
  // Every entry was read at `keptAt`; a commit makes them all stale at once, so they are
  // dropped together on the first read after it.
  let keptAt = 0;
  const kept = new Map<string, Buffer>();
  db.onCommit(() => {
    version++;
  });

  async function read(orderId: string): Promise<Buffer | undefined> {
    const v = await getOrderView(db, orderId);
    if (v === undefined) return undefined;
    // The fields and order of the route's response schema (what it answered before),
    // and nothing else of what the row may hold.
    const items = v.items.map((i) => ({ productId: i.productId, quantity: i.quantity, unitPriceCents: i.unitPriceCents }));
    const body = { id: v.id, customerId: v.customerId, items, totalCents: v.totalCents, status: v.status, reason: v.reason, createdAt: v.createdAt, updatedAt: v.updatedAt };
    return Buffer.from(JSON.stringify(body));
  }

  return {
    async json(orderId) {
      if (!keep) return read(orderId);
      if (keptAt !== version) {
        kept.clear();
        keptAt = version;
      }
      const hit = kept.get(orderId);
      if (hit !== undefined) return hit;
      // Taken before the read: if a commit lands while it waits for the connection, the
      // answer is not kept under a version it may predate.
      const at = version;
      const json = await read(orderId);
      // Unknown orders are not kept: POST /orders may create one at the next commit.
      if (json !== undefined && at === version && keptAt === version) {
        if (kept.size >= maxEntries) kept.delete(kept.keys().next().value as string);
        kept.set(orderId, json);
      }
      return json;
    },
  };
}
