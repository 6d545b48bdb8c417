/**
 * Creating a product: the one path for HTTP and the demo seed. The product row and its
 * ProductCreated event commit together, so the orders service learns every product.
 */
import type { Db } from '#platform/db/db.ts';
import { appendToOutbox } from '#platform/bus/outbox.ts';
import { message, ProductCreated } from '#contracts/index.ts';
import { normaliseProduct, productViolations, type NewProduct, type Product } from './domain/product.ts';
import { insertProduct } from './store.ts';
import { DuplicateSku, InvalidProduct } from './errors.ts';

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
    const event = message(ProductCreated, { key: product.id, payload: { productId: product.id, sku, name, priceCents }, occurredAt: createdAt });
    await appendToOutbox(tx, [event]);
  });
  return product;
}
