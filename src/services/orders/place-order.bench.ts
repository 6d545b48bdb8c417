/**
 * Micro-benchmark of the orders write path on SQLite:
 *   node src/services/orders/place-order.bench.ts [orders=20000] [concurrency=64]
 * Accepts orders (price, append, view, idempotency key, outbox) with and without group
 * commit, then runs the saga's replies through the handlers in consumer-sized batches.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { v7 as uuidv7 } from 'uuid';
import { message, PaymentCharged, ShipmentScheduled, StockReserved, type Contract } from '#contracts/index.ts';
import { encode } from '#platform/bus/envelope.ts';
import { outboxMigrations } from '#platform/bus/outbox.ts';
import { migrate } from '#platform/db/migrate.ts';
import { openSqlite } from '#platform/db/sqlite.ts';
import { createBatchWriter } from '#platform/db/batch-writer.ts';
import { createHandlers } from './handlers.ts';
import { placeOrder, type OrdersDeps } from './place-order.ts';
import { migrations, upsertProduct } from './store.ts';

const total = Number(process.argv[2] ?? 20_000);
const concurrency = Number(process.argv[3] ?? 64);
const dir = mkdtempSync(join(tmpdir(), 'orders-bench-'));
const db = openSqlite({ file: join(dir, 'orders.sqlite') });
await migrate(db, [...outboxMigrations, ...migrations]);
const clock = { now: () => new Date() };
const products = Array.from({ length: 10 }, (_, i) => ({ productId: uuidv7(), sku: `S${i}`, name: `P${i}`, priceCents: 100 + i }));
for (const p of products) await upsertProduct(db, p, clock.now().toISOString());

async function accept(label: string, deps: OrdersDeps, n: number): Promise<string[]> {
  const ids: string[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        const body = {
          customerId: `c-${i % 100}`,
          items: [{ productId: products[i % 10].productId, quantity: 1 }, { productId: products[(i + 3) % 10].productId, quantity: 2 }],
          paymentMethod: 'card',
          shippingAddress: { country: 'DE' },
        };
        ids.push((await placeOrder(deps, body, `${label}-${i}`)).id);
      }
    }),
  );
  const ms = performance.now() - t0;
  console.log(`${label}: ${n} orders accepted in ${ms.toFixed(0)} ms, ${((n / ms) * 1000).toFixed(0)}/s`);
  return ids;
}

const base = { db, ids: { newId: uuidv7 }, clock };
await accept('one transaction per order', base, Math.min(total, 5000));
const ids = await accept('group commit', { ...base, write: createBatchWriter(db) }, total);

// The replies of the happy path, 100 to a transaction as the consumer batches them.
const handlers = createHandlers({ clock });
const replies: Array<[Contract, (id: string) => unknown]> = [
  [StockReserved, (orderId) => ({ orderId, items: [] })],
  [PaymentCharged, (orderId) => ({ orderId, paymentId: uuidv7(), amountCents: 1 })],
  [ShipmentScheduled, (orderId) => ({ orderId, trackingNumber: 'T' })],
];
const t0 = performance.now();
for (const [contract, payload] of replies) {
  for (let i = 0; i < ids.length; i += 100) {
    await db.transaction(async (tx) => {
      for (const orderId of ids.slice(i, i + 100)) {
        const m = message(contract, { key: orderId, payload: payload(orderId) as never });
        await handlers[contract.type]({ tx, message: m.message, record: { ...encode(m.topic, m.message), partition: 0, offset: '0' }, emit: () => undefined });
      }
    });
  }
}
const ms = performance.now() - t0;
console.log(`replies: ${ids.length * 3} handled in ${ms.toFixed(0)} ms, ${((ids.length * 3 * 1000) / ms).toFixed(0)}/s`);
await db.close();
rmSync(dir, { recursive: true, force: true });
