/**
 * Creating and changing products: the one path for HTTP and the demo seed. A product row
 * and its events commit together, so the orders service learns every product and price.
 */
import type { Db } from '#platform/db/db.ts';
import { appendToOutbox } from '#platform/bus/outbox.ts';
import { message, ProductCreated, ProductPriceChanged, ProductRestocked } from '#contracts/index.ts';
import {
  changeViolations, decideChange, MAX_INT, normaliseProduct, productViolations,
  type NewProduct, type Product, type ProductChange, type RevisedProduct,
} from './domain/product.ts';
import { insertProduct, lockProduct, lockStockWriters, updateProduct } from './store.ts';
import { DuplicateSku, InvalidProduct, ProductNotFound, StockOverflow } from './errors.ts';

export interface CatalogDeps {
  db: Db;
  ids: { newId(): string };
  clock: { now(): Date };
}

export async function createProduct(deps: CatalogDeps, input: NewProduct): Promise<Product> {
  const violations = productViolations(input);
  if (violations.length > 0) throw InvalidProduct(violations.join('; '), { details: violations });
  const { sku, name, priceCents, stock } = normaliseProduct(input);
  const product: Product = { id: deps.ids.newId(), sku, name, priceCents, available: stock };
  const createdAt = deps.clock.now().toISOString();
  await deps.db.transaction(async (tx) => {
    if (!(await insertProduct(tx, { ...product, createdAt }))) throw DuplicateSku(`a product with sku ${sku} already exists`);
    const event = message(ProductCreated, { key: product.id, payload: { productId: product.id, sku, name, priceCents, stock }, occurredAt: createdAt });
    await appendToOutbox(tx, [event]);
  });
  return product;
}

/**
 * Changing a product's price and restocking it (PATCH /products/:id), in one transaction
 * with the events they publish: ProductPriceChanged when the price moved (orders prices
 * new orders from it), ProductRestocked when stock came in. The row is read under its lock
 * and, for a restock, after the stock writers' lock, like a reservation (reservations.ts).
 */
export async function changeProduct(deps: CatalogDeps, id: string, change: ProductChange): Promise<Product> {
  const violations = changeViolations(change);
  if (violations.length > 0) throw InvalidProduct(violations.join('; '), { details: violations });
  const { db } = deps;
  const at = deps.clock.now().toISOString();
  return db.transaction(async (tx) => {
    if (change.restock !== undefined) await lockStockWriters(tx, db.dialect);
    const current = await lockProduct(tx, db.dialect, id);
    if (!current) throw ProductNotFound(`no product ${id}`);
    const decision = decideChange(current, change);
    if (!decision.ok) {
      throw StockOverflow(`restocking ${decision.restock} onto ${decision.available} would pass the largest stock, ${MAX_INT}`, { details: { available: decision.available, restock: decision.restock, max: MAX_INT } });
    }
    const { product: p, previousPriceCents, priceChanged, restocked } = decision;
    const events: Array<ReturnType<typeof message>> = [];
    if (priceChanged) {
      const payload = { productId: p.id, sku: p.sku, name: p.name, priceCents: p.priceCents, previousPriceCents, revision: p.revision };
      events.push(message(ProductPriceChanged, { payload, occurredAt: at }));
    }
    if (restocked > 0) events.push(message(ProductRestocked, { payload: { productId: p.id, quantity: restocked, available: p.available }, occurredAt: at }));
    if (events.length === 0) return withoutRevision(p);
    await updateProduct(tx, p);
    await appendToOutbox(tx, events);
    return withoutRevision(p);
  });
}

// Answers as GET /products/:id does: the revision is the events' business.
const withoutRevision = ({ revision: _, ...product }: RevisedProduct): Product => product;
