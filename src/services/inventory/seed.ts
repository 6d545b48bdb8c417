/**
 * The demo catalog, so a fresh `orderflow up` can take orders at once. Seeded only into an
 * empty catalog, through the same path as POST /products (ProductCreated is published).
 */
import { isOrderflowError } from '#platform/errors.ts';
import type { Logger } from '#platform/log.ts';
import { createProduct, type CatalogDeps } from './catalog.ts';
import type { NewProduct } from './domain/product.ts';
import { hasProducts } from './store.ts';
import { DuplicateSku } from './errors.ts';

export const demoCatalog: readonly NewProduct[] = [
  { sku: 'KB-MECH-01', name: 'Mechanical keyboard', priceCents: 8999, stock: 1000 },
  { sku: 'MS-WL-01', name: 'Wireless mouse', priceCents: 2999, stock: 1000 },
  { sku: 'MN-27-4K', name: '27" 4K monitor', priceCents: 34999, stock: 1000 },
  { sku: 'HS-USB-01', name: 'USB headset', priceCents: 5999, stock: 1000 },
  { sku: 'CM-HD-01', name: 'HD webcam', priceCents: 4499, stock: 1000 },
];

/** Creates the demo products when the catalog is empty; returns how many it created. */
export async function seedDemoCatalog(deps: CatalogDeps & { log?: Logger }, products: readonly NewProduct[] = demoCatalog): Promise<number> {
  if (await hasProducts(deps.db)) return 0;
  let created = 0;
  for (const p of products) {
    try {
      await createProduct(deps, p);
      created++;
    } catch (err) {
      // Another replica seeding at the same moment: its product is as good as ours.
      if (!isOrderflowError(err, DuplicateSku.code)) throw err;
    }
  }
  deps.log?.info({ created }, 'demo catalog seeded');
  return created;
}
