/**
 * A first fill of the catalog copy, for a cart that starts on a system older than its log's
 * retention. The copy is kept from inventory's events; but a new consumer group starts at the
 * earliest record still in the log, and the ProductCreated of products made before the cart
 * existed may be trimmed (after an hour on the embedded log, a week on Kafka by default): a
 * product the cart never heard of could not go into a cart.
 *
 * So, once, when the copy is empty at startup: inventory's GET /products, names and prices
 * kept at revision -1, under any event of the product (ProductCreated is 0), whichever comes
 * first. The stock count stays unknown for these products: it needs the creation stock and
 * every move since, and the snapshot's `available` added to moves still in the log would
 * count some twice. Retried in the background until inventory answers; the events keep the
 * copy from then on. This is a start-up read, not a call per request.
 */
import type { Db } from '#platform/db/db.ts';
import type { Upstream } from '#platform/resilience/upstream.ts';
import { upsertProductFacts } from './store.ts';

export interface CatalogBootstrapOptions {
  db: Db;
  inventory: Pick<Upstream, 'request'>;
  clock: { now(): Date };
  log: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };
  retryMs?: number;
}

interface ListedProduct { id: string; name: string; priceCents: number }

/** Resolves once the copy was filled (or needed nothing); `stop` ends the retries. */
export function startCatalogBootstrap(o: CatalogBootstrapOptions): { done: Promise<number>; stop(): Promise<void> } {
  let stopped = false;
  let wake: (() => void) | undefined;
  const pause = (ms: number) => new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    timer.unref();
    wake = () => {
      clearTimeout(timer);
      resolve();
    };
  });
  const done = (async () => {
    if ((await o.db.query('SELECT 1 AS one FROM catalog LIMIT 1')).length > 0) return 0;
    for (let attempt = 1; !stopped; attempt++) {
      try {
        const res = await o.inventory.request({ method: 'GET', path: '/products' });
        if (res.statusCode !== 200) throw new Error(`inventory answered ${res.statusCode}`);
        const products = JSON.parse(res.body.toString('utf8')) as ListedProduct[];
        const at = o.clock.now().toISOString();
        await o.db.transaction(async (tx) => {
          for (const p of products) await upsertProductFacts(tx, { productId: p.id, name: p.name, priceCents: p.priceCents, revision: -1 }, at);
        });
        o.log.info({ products: products.length }, 'catalog copy filled from inventory');
        return products.length;
      } catch (err) {
        if (attempt === 1 || attempt % 10 === 0) o.log.warn({ err, attempt }, 'catalog copy not filled yet: inventory did not answer; trying again');
        await pause(o.retryMs ?? 1_000);
      }
    }
    return 0;
  })();
  return {
    done,
    async stop() {
      stopped = true;
      wake?.();
      await done.catch(() => undefined);
    },
  };
}
