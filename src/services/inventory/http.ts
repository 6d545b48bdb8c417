/**
 * Inventory's HTTP routes: the catalog. Bodies and params are validated by fastify against
 * the TypeBox schemas (a mismatch is a 400 from the platform error handler).
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { createProduct, type CatalogDeps } from './catalog.ts';
import { MAX_INT } from './domain/product.ts';
import { getProduct, listProducts } from './store.ts';
import { ProductNotFound } from './errors.ts';

const CreateProductBody = Type.Object({
  sku: Type.String({ minLength: 1, maxLength: 100 }),
  name: Type.String({ minLength: 1, maxLength: 200 }),
  priceCents: Type.Integer({ minimum: 0, maximum: MAX_INT }),
  stock: Type.Integer({ minimum: 0, maximum: MAX_INT }),
});

const ProductParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 100 }) });

export function registerRoutes(app: FastifyInstance, deps: CatalogDeps): void {
  app.post<{ Body: Static<typeof CreateProductBody> }>('/products', { schema: { body: CreateProductBody } }, async (req, reply) => {
    const product = await createProduct(deps, req.body);
    return reply.code(201).send(product);
  });

  app.get('/products', async () => listProducts(deps.db));

  app.get<{ Params: Static<typeof ProductParams> }>('/products/:id', { schema: { params: ProductParams } }, async (req) => {
    const product = await getProduct(deps.db, req.params.id);
    if (!product) throw ProductNotFound(`no product ${req.params.id}`);
    return product;
  });
}
