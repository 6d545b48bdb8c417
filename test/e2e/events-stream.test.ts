/**
 * The admin's live tail of every topic (GET /api/admin/events/stream) on a whole running
 * system, on both deployments: an order's saga, OrderPlaced to OrderConfirmed across the
 * topics of four services, arrives live on an open stream and on one filtered by the order;
 * a client that comes late gets it from the gateway's ring; a dead-lettered command shows on
 * its `.dlq` topic with its error, and its replay on the topic again. Only an admin opens it.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test, type TestContext } from 'node:test';
import { createCatalog, waitAllTerminal } from '#lab/scenario.ts';
import { openSse, type SseEvent, type SseStream } from '#test/support/sse.ts';
import { deployments, startDeployment } from './deployments.ts';

interface Tailed {
  topic: string;
  partition: number;
  offset: string;
  key: string;
  id: string | null;
  type: string | null;
  headers: Record<string, string>;
  payload: { orderId?: string };
}

const records = (events: SseEvent[]): Tailed[] => events.map((e) => JSON.parse(e.data) as Tailed);

// The saga of a confirmed order in the events architecture: each step's command and reply.
const saga = ['OrderPlaced', 'ReserveStock', 'StockReserved', 'ChargePayment', 'PaymentCharged', 'ScheduleShipment', 'ShipmentScheduled', 'OrderConfirmed'];

async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

for (const deployment of deployments) {
  describe(`the live tail of every topic, on the ${deployment.name} deployment`, { skip: deployment.skip() }, () => {
    test('an order\'s saga arrives live, filtered by the order, and again from the ring for a late client; a dead letter and its replay show; only an admin opens it', async (t) => {
      const { system, client } = await startDeployment(t, deployment, 'events', { ORDERFLOW_FAULTS: '1' });
      const url = `${system.gatewayUrl}/api/admin/events/stream`;
      const admin = { authorization: `Bearer ${await client.token('admin')}` };
      // The gateway opens its tail of the bus as it starts: until then a stream is a 503.
      const open = async (query: string, headers: Record<string, string> = admin): Promise<SseStream> =>
        until(`the stream ?${query}`, async () => {
          const stream = await openSse(t, `${url}?${query}`, headers);
          if (stream.status === 200) return stream;
          stream.close();
          assert.equal(stream.status, 503);
          return undefined;
        });

      // Anonymous: 401; a customer: 403; both in the envelope (the client checks each answer against OpenAPI).
      const anonymous = await client.call('GET', '/api/admin/events/stream', undefined, {}, 'anonymous');
      const customer = await client.call('GET', '/api/admin/events/stream', undefined, {}, 'customer');
      assert.deepEqual([anonymous.status, customer.status], [401, 403]);
      assert.equal(customer.body.error.code, 'PLT_ERR_FORBIDDEN');

      const [productId] = [...(await createCatalog(client, 1, 50)).keys()];
      // Orders learns the new product from inventory's event: until then an order of it is a
      // 422 unknown product, retried with the same key, as a careful client does.
      const place = async () => {
        const key = randomUUID();
        return until('the order accepted', async () => {
          const res = await client.placeOrder({ items: [{ productId, quantity: 1 }], paymentMethod: 'card', shippingAddress: { country: 'DE' } }, key);
          return res.status === 422 && (res.body as { error?: { code?: string } }).error?.code === 'ORD_ERR_UNKNOWN_PRODUCT' ? undefined : res;
        });
      };
      const everything = await open('');
      const placed = await place();
      assert.equal(placed.status, 202, JSON.stringify(placed.body));
      const orderId: string = placed.body.id;
      // Opened once the order exists: what came before is sent from the ring, then live.
      const ofOrder = await open(`order=${orderId}`);
      const [view] = await waitAllTerminal(client, [{ id: orderId, items: [{ productId, quantity: 1 }], paymentMethod: 'card', country: 'DE' }], 60_000);
      assert.equal(view.status, 'CONFIRMED');

      const sagaOf = async (stream: SseStream) => {
        await until('the order\'s saga on the stream', () => (records(stream.events).some((r) => r.type === 'OrderConfirmed' && r.key === orderId) ? true : undefined));
        return records(stream.events).filter((r) => r.key === orderId || r.payload?.orderId === orderId);
      };
      const live = await sagaOf(ofOrder);
      assert.deepEqual(live.map((r) => r.type).sort(), [...saga].sort(), JSON.stringify(live.map((r) => [r.topic, r.type])));
      assert.equal(records(ofOrder.events).length, live.length, 'the order\'s records only');
      // One topic's records in their order: orders.events says placed, then confirmed.
      assert.deepEqual(live.filter((r) => r.topic === 'orders.events').map((r) => r.type), ['OrderPlaced', 'OrderConfirmed']);
      const placedRecord = live.find((r) => r.type === 'OrderPlaced')!;
      assert.equal(placedRecord.headers.type, 'OrderPlaced');
      assert.match(placedRecord.id ?? '', /^[0-9a-f-]{36}$/);
      assert.match(placedRecord.offset, /^[0-9]+$/);
      // The stream opened before the order saw it all as it happened.
      assert.deepEqual((await sagaOf(everything)).map((r) => r.id).sort(), live.map((r) => r.id).sort());

      // A late client, the saga over: the ring replays it, cursors in the order they were read.
      const late = await open(`order=${orderId}`);
      const replayed = await sagaOf(late);
      assert.deepEqual(replayed.map((r) => r.id), live.map((r) => r.id));
      const cursors = late.events.map((e) => Number(e.id));
      assert.deepEqual([...cursors].sort((a, b) => a - b), cursors);
      // Filtered by type and topic too.
      const confirmations = await open(`type=OrderConfirmed&topic=orders.events&key=${orderId}`);
      assert.deepEqual(records(await confirmations.waitFor(1, 10_000)).map((r) => [r.type, r.key]), [['OrderConfirmed', orderId]]);

      // Payments' handler of the charge fails: the command goes to payments.commands.dlq, with its error.
      await system.failMessages('payments', ['ChargePayment']);
      const second = await place();
      assert.equal(second.status, 202);
      const secondId: string = second.body.id;
      const dead = await open(`topic=payments.commands.dlq&order=${secondId}`);
      const [letter] = records(await dead.waitFor(1, 60_000));
      assert.deepEqual([letter.type, letter.topic, letter.payload.orderId, letter.headers['dlq-error-code'], letter.headers['dlq-original-topic']], ['ChargePayment', 'payments.commands.dlq', secondId, 'PLT_ERR_INJECTED_FAILURE', 'payments.commands']);
      // Replayed (the bug fixed): the command is on its topic again, the same message.
      await system.failMessages('payments', []);
      const charges = await open(`topic=payments.commands&order=${secondId}`);
      await charges.waitFor(1, 10_000);
      const replay = await client.call('POST', '/api/admin/dead-letters/replay', { topic: 'payments.commands' }, {}, 'admin');
      assert.equal(replay.status, 200, JSON.stringify(replay.body));
      const again = records(await charges.waitFor(2, 30_000));
      assert.deepEqual(again.map((r) => [r.type, r.id]), [['ChargePayment', letter.id], ['ChargePayment', letter.id]]);
    });
  });
}
