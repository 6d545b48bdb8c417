/**
 * One order is one trace: with tracing on (exported to a real Zipkin), an order placed
 * through the gateway with a client's traceparent yields a single trace, read back from
 * Zipkin's HTTP API, with spans of all five services whose parent chains lead from the
 * gateway's server span (itself the client's child) to the saga's terminal step; on both
 * deployments and in all three architectures. The order's history names that trace at each
 * step, and the admin's overview the Zipkin it is in (the console's links).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { zipkinSkip } from '../infra.ts';
import { architectures, deployments, startDeployment } from './deployments.ts';
import { waitFor } from '#lab/invariants.ts';
import { createCatalog, placeBurst, waitAllTerminal } from '#lab/scenario.ts';
import { readTrace, zipkinUrl, type ZipkinSpan } from '../support/zipkin.ts';

const services = ['gateway', 'orders', 'inventory', 'payments', 'shipping'];
const serviceOf = (s: ZipkinSpan) => s.localEndpoint?.serviceName ?? '?';

/** The spans from `span` up to the root of what was recorded, `span` first. */
function ancestry(span: ZipkinSpan, byId: Map<string, ZipkinSpan>): ZipkinSpan[] {
  const chain = [span];
  for (let p = span.parentId && byId.get(span.parentId); p; p = p.parentId ? byId.get(p.parentId) : undefined) {
    if (chain.includes(p)) break;
    chain.push(p);
  }
  return chain;
}

for (const deployment of deployments) for (const arch of architectures) {
  describe(`tracing, ${arch} architecture, on the ${deployment.name} deployment`, { skip: deployment.skip() ?? zipkinSkip() }, () => {
    test('one order through the gateway is one trace across the five services, in Zipkin', async (t) => {
      const { system, client } = await startDeployment(t, deployment, arch, {
        OTEL_TRACES_EXPORTER: 'zipkin',
        OTEL_EXPORTER_ZIPKIN_ENDPOINT: `${zipkinUrl}/api/v2/spans`,
        // Export within a fraction of a second rather than the SDK's 5 s.
        OTEL_BSP_SCHEDULE_DELAY: '200',
      });
      const [productId] = (await createCatalog(client, 1, 10)).keys();
      // Orders learns of the product from inventory's events: a first, untraced order is
      // retried until it does, so the traced one is accepted at its first attempt.
      await placeBurst(client, [productId], { count: 1, concurrency: 1, declineRatio: 0, unservedRatio: 0 });

      // The client's own span: the gateway must continue it, not start a trace of its own.
      const traceId = randomBytes(16).toString('hex');
      const clientSpanId = randomBytes(8).toString('hex');
      const body = { items: [{ productId, quantity: 1 }], paymentMethod: 'card', shippingAddress: { country: 'FR' } };
      const res = await fetch(`${system.gatewayUrl}/api/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${await client.token('customer')}`, traceparent: `00-${traceId}-${clientSpanId}-01` },
        body: JSON.stringify(body),
      });
      const placed = (await res.json()) as { id: string };
      assert.ok(res.status === 201 || res.status === 202, `placed: ${res.status} ${JSON.stringify(placed)}`);
      const [view] = await waitAllTerminal(client, [{ id: placed.id, items: body.items, paymentMethod: 'card', country: 'FR' }], 30_000);
      assert.equal(view.status, 'CONFIRMED');

      // The terminal step: orders deciding on ShipmentScheduled (a saga span in every architecture).
      const spans = await waitFor(
        'the whole trace in Zipkin',
        async () => {
          const found = await readTrace(traceId);
          const names = new Set(found.map(serviceOf));
          const terminal = found.some((s) => serviceOf(s) === 'orders' && s.name === 'saga shipmentscheduled');
          return terminal && services.every((n) => names.has(n)) ? found : undefined;
        },
        30_000,
        250,
      );
      const byId = new Map(spans.map((s) => [s.id, s]));
      t.diagnostic(`${spans.length} spans: ${services.map((n) => `${n} ${spans.filter((s) => serviceOf(s) === n).length}`).join(', ')}`);

      assert.ok(spans.every((s) => s.traceId === traceId), 'every span is in the one trace');
      const roots = spans.filter((s) => s.parentId === undefined || !byId.has(s.parentId));
      assert.equal(roots.length, 1, `one root: ${roots.map((r) => `${serviceOf(r)} ${r.name}`).join('; ')}`);
      const [root] = roots;
      assert.equal(serviceOf(root), 'gateway');
      assert.equal(root.kind, 'SERVER');
      assert.equal(root.name, 'post /api/orders');
      assert.equal(root.parentId, clientSpanId, "the gateway's server span continues the client's traceparent");

      // Every service's spans hang from the gateway's server span.
      for (const s of spans) assert.equal(ancestry(s, byId).at(-1), root, `${serviceOf(s)} ${s.name} leads to the gateway's span`);

      const terminal = spans.find((s) => serviceOf(s) === 'orders' && s.name === 'saga shipmentscheduled');
      assert.ok(terminal);
      const chain = ancestry(terminal, byId);
      const onPath = new Set(chain.map(serviceOf));
      if (arch === 'rest') {
        // One request drives the saga: the terminal step is the orders request's child, and
        // the calls to the others are its siblings.
        assert.deepEqual([...onPath].sort(), ['gateway', 'orders']);
        for (const callee of ['inventory', 'payments', 'shipping']) {
          const server = spans.find((s) => serviceOf(s) === callee && s.kind === 'SERVER');
          assert.ok(server, `${callee} has a server span`);
          assert.equal(serviceOf(byId.get(server.parentId!)!), 'orders', `${callee} was called by orders`);
        }
      } else {
        // Over the bus each hop is the child of the message that caused it: the terminal
        // step's ancestry passes through every service.
        assert.deepEqual([...onPath].sort(), [...services].sort(), chain.map((s) => `${serviceOf(s)}: ${s.name}`).join(' <- '));
        const kinds = new Set(chain.map((s) => s.kind));
        assert.ok(kinds.has('PRODUCER') && kinds.has('CONSUMER'), 'message hops are producer and consumer spans');
        const sends = spans.filter((s) => s.kind === 'PRODUCER');
        assert.ok(sends.every((s) => s.tags?.['messaging.system'] === (deployment.name === 'distributed' ? 'kafka' : 'orderflow.log')));
      }
      // SQL of the services is in the trace too.
      assert.ok(spans.some((s) => s.kind === 'CLIENT' && s.tags?.['db.system.name'] === (deployment.name === 'distributed' ? 'postgresql' : 'sqlite')), 'SQL spans');

      // The console links each step of the order's timeline to this trace, in the Zipkin the overview names.
      const history = await client.call('GET', `/api/orders/${placed.id}/history`, undefined, {}, 'admin');
      assert.deepEqual(history.body.events.map((e: { type: string; traceId?: string }) => [e.type, e.traceId]), history.body.events.map((e: { type: string }) => [e.type, traceId]));
      const overview = await client.call('GET', '/api/admin/overview', undefined, {}, 'admin');
      assert.deepEqual([overview.status, overview.body.tracing], [200, { zipkinUrl }]);
    });
  });
}
