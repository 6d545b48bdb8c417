/**
 * Inventory's HTTP routes: the catalog (PATCH for the admin's price and restock; the
 * gateway authorizes it), and the reservations the rest architecture asks
 * for synchronously (PUT and DELETE are idempotent by order id, so callers may retry them).
 * Bodies and params are validated by fastify against the TypeBox schemas (a mismatch is a
 * 400 from the platform error handler).
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { StockLine, Uuid } from '#contracts/shared.ts';
import { createBatchWriter, type BatchWriter } from '#platform/db/batch-writer.ts';
import { changeProduct, createProduct, type CatalogDeps } from './catalog.ts';
import { MAX_INT } from './domain/product.ts';
import { releaseStock, reserveStock } from './reservations.ts';
import { getProduct } from './store.ts';
import { createCatalogPages, matchesIfNoneMatch } from './catalog-page.ts';
import { ProductNotFound } from './errors.ts';

const CreateProductBody = Type.Object({
  sku: Type.String({ minLength: 1, maxLength: 100 }),
  name: Type.String({ minLength: 1, maxLength: 200 }),
  priceCents: Type.Integer({ minimum: 0, maximum: MAX_INT }),
  stock: Type.Integer({ minimum: 0, maximum: MAX_INT }),
});

// At least one of the two; anything else is a client's mistake, not something to ignore.
const PatchProductBody = Type.Object(
  {
    priceCents: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_INT })),
    restock: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_INT })),
  },
  { additionalProperties: false, minProperties: 1 },
);

const ProductParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 100 }) });
const ReservationParams = Type.Object({ orderId: Uuid });
const ReserveBody = Type.Object({ items: Type.Array(StockLine, { minItems: 1, maxItems: 100 }) });

/** `soleWriter`: this process is the only writer of its database (one instance); default true. */
export function registerRoutes(app: FastifyInstance, deps: CatalogDeps & { write?: BatchWriter; soleWriter?: boolean }): void {
  // Concurrent calls share a transaction (group commit): one commit per batch, not per call.
  const write = deps.write ?? createBatchWriter(deps.db);
  const dialect = deps.db.dialect;
  const catalog = createCatalogPages(deps.db, { soleWriter: deps.soleWriter });

  app.put<{ Params: Static<typeof ReservationParams>; Body: Static<typeof ReserveBody> }>(
    '/reservations/:orderId',
    { schema: { params: ReservationParams, body: ReserveBody } },
    async (req) => {
      const orderId = req.params.orderId.toLowerCase();
      const at = deps.clock.now().toISOString();
      const decision = await write((tx) => reserveStock(tx, dialect, orderId, req.body.items, at));
      return decision.ok ? { orderId, status: 'RESERVED', items: decision.lines } : { orderId, status: 'REJECTED', productIds: decision.missing };
    },
  );

  app.delete<{ Params: Static<typeof ReservationParams> }>('/reservations/:orderId', { schema: { params: ReservationParams } }, async (req) => {
    const orderId = req.params.orderId.toLowerCase();
    const at = deps.clock.now().toISOString();
    const released = await write((tx) => releaseStock(tx, dialect, orderId, at));
    return { orderId, status: 'RELEASED', released };
  });

  app.post<{ Body: Static<typeof CreateProductBody> }>('/products', { schema: { body: CreateProductBody } }, async (req, reply) => {
    const product = await createProduct(deps, req.body);
    return reply.code(201).send(product);
  });

  // Commits through the Db like every writer, so the catalog page sees it at once (Db.onCommit).
  app.patch<{ Params: Static<typeof ProductParams>; Body: Static<typeof PatchProductBody> }>(
    '/products/:id',
    { schema: { params: ProductParams, body: PatchProductBody } },
    async (req) => changeProduct(deps, req.params.id, req.body),
  );

  // no-cache: a client may keep the page but must revalidate it every time (available
  // counts change with every order); the revalidation is a 304 without a body.
  app.get('/products', async (req, reply) => {
    const page = await catalog.current();
    reply.header('etag', page.etag).header('cache-control', 'no-cache');
    if (matchesIfNoneMatch(req.headers['if-none-match'], page.etag)) return reply.code(304).send();
    return reply.type('application/json; charset=utf-8').send(page.body);
  });

  app.get<{ Params: Static<typeof ProductParams> }>('/products/:id', { schema: { params: ProductParams } }, async (req) => {
    const product = await getProduct(deps.db, req.params.id);
    if (!product) throw ProductNotFound(`no product ${req.params.id}`);
    return product;
  });
}
