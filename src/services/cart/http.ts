/**
 * The cart's HTTP routes (internal: the gateway forwards /api/cart here with the token's
 * subject as the customer). Every answer of a cart read or change is the whole cart, priced
 * from the local catalog copy.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { Uuid } from '#contracts/shared.ts';
import { createBatchWriter } from '#platform/db/batch-writer.ts';
import { cartView, MAX_LINES, MAX_QUANTITY, type CartView } from './domain/cart.ts';
import { checkout, type CheckoutDeps } from './checkout.ts';
import { TooManyLines, UnknownProduct } from './errors.ts';
import { countLines, getCart, getLines, getProductPrice, markEmptyAnnounced, nextVersion, putLine, removeLine } from './store.ts';

const CartParams = Type.Object({ customerId: Type.String({ minLength: 1, maxLength: 200 }) });
const LineParams = Type.Object({ customerId: Type.String({ minLength: 1, maxLength: 200 }), productId: Uuid });
const LineBody = Type.Object({ quantity: Type.Integer({ minimum: 0, maximum: MAX_QUANTITY }) }, { additionalProperties: false });
// As orders takes them (its POST /orders body): the cart passes them on.
const CheckoutBody = Type.Object(
  {
    paymentMethod: Type.String({ minLength: 1, maxLength: 100 }),
    shippingAddress: Type.Object(
      {
        country: Type.String({ pattern: '^[A-Za-z]{2}$' }),
        city: Type.Optional(Type.String({ maxLength: 200 })),
        line1: Type.Optional(Type.String({ maxLength: 200 })),
        postalCode: Type.Optional(Type.String({ maxLength: 40 })),
      },
      { additionalProperties: true, maxProperties: 20 },
    ),
  },
  { additionalProperties: false },
);
const CheckoutHeaders = Type.Object({ 'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 200 })) });

export interface CartRoutesDeps extends Omit<CheckoutDeps, 'write'> {
  write?: CheckoutDeps['write'];
  ids: { newId(): string };
}

export function registerRoutes(app: FastifyInstance, base: CartRoutesDeps): void {
  const deps: CheckoutDeps & CartRoutesDeps = { ...base, write: base.write ?? createBatchWriter(base.db) };
  const { db } = deps;

  const read = async (customerId: string): Promise<CartView> => {
    const head = await getCart(db, customerId);
    return cartView(head, head ? await getLines(db, head.cartId, deps.stockCounted) : []);
  };

  app.get<{ Params: Static<typeof CartParams> }>('/carts/:customerId', { schema: { params: CartParams } }, async (req) => read(req.params.customerId));

  const remove = async (customerId: string, productId: string): Promise<CartView> => {
    const at = deps.clock.now().toISOString();
    await deps.write(async (tx) => {
      if (!(await removeLine(tx, customerId, productId))) return;
      const { cartId } = await nextVersion(tx, customerId, deps.ids.newId(), at);
      await markEmptyAnnounced(tx, cartId);
    });
    return read(customerId);
  };

  app.put<{ Params: Static<typeof LineParams>; Body: Static<typeof LineBody> }>(
    '/carts/:customerId/items/:productId',
    { schema: { params: LineParams, body: LineBody } },
    async (req) => {
      const { customerId } = req.params;
      const productId = req.params.productId.toLowerCase();
      const { quantity } = req.body;
      if (quantity === 0) return remove(customerId, productId);
      if ((await getProductPrice(db, productId)) === undefined) throw UnknownProduct(`no product ${productId} in the catalog`, { details: { productId } });
      const at = deps.clock.now().toISOString();
      await deps.write(async (tx) => {
        const { cartId, version } = await nextVersion(tx, customerId, deps.ids.newId(), at);
        await putLine(tx, cartId, productId, quantity, version);
        // Thrown, the change is rolled back (the group commit runs a failing job alone).
        if ((await countLines(tx, cartId)) > MAX_LINES) throw TooManyLines(`a cart holds at most ${MAX_LINES} products, as an order does`);
      });
      return read(customerId);
    },
  );

  app.delete<{ Params: Static<typeof LineParams> }>('/carts/:customerId/items/:productId', { schema: { params: LineParams } }, async (req) =>
    remove(req.params.customerId, req.params.productId.toLowerCase()));

  // 202 in every architecture: the cart's part is done and the order accepted; in rest the
  // status is already final (CONFIRMED or CANCELLED, with its reason), elsewhere PENDING.
  app.post<{ Params: Static<typeof CartParams>; Body: Static<typeof CheckoutBody>; Headers: Static<typeof CheckoutHeaders> }>(
    '/carts/:customerId/checkout',
    { schema: { params: CartParams, body: CheckoutBody, headers: CheckoutHeaders } },
    async (req, reply) => {
      const answer = await checkout(deps, req.params.customerId, req.body, req.headers['idempotency-key']);
      return reply.code(202).send(answer);
    },
  );
}
