/**
 * The metrics of one order end to end, on each architecture: the orders service counts the
 * outcome once and times the saga; the services' consumers count their messages; the
 * breakers of the callers read closed.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { architectures, deployments, startDeployment } from './deployments.ts';
import { createCatalog, placeBurst, waitAllTerminal } from '#lab/scenario.ts';

/** Sum of the samples of `name` whose labels include `labels`, from a /metrics text. */
function sum(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

for (const deployment of deployments) for (const arch of architectures) {
  describe(`metrics of one order, ${arch} architecture, on the ${deployment.name} deployment`, { skip: deployment.skip() }, () => {
    test('the saga is timed and its outcome counted once; the consumers and breakers show on /metrics', async (t) => {
      const { system, client } = await startDeployment(t, deployment, arch);
      const stock = await createCatalog(client, 1, 10);
      const [productId] = stock.keys();
      // Retried until orders knows the product from inventory's events (eventually, on Kafka).
      const { placed } = await placeBurst(client, [productId], { count: 1, concurrency: 1, declineRatio: 0, unservedRatio: 0 });
      const [view] = await waitAllTerminal(client, placed, 30_000);
      assert.equal(view.status, 'CONFIRMED');

      // The gateway's /metrics is on its internal port (system.metricsUrls), the services' on their own.
      const scrape = async (name: keyof typeof system.metricsUrls) => (await fetch(`${system.metricsUrls[name]}/metrics`)).text();
      const orders = await scrape('orders');
      assert.equal(sum(orders, 'orderflow_orders_total', { status: 'CONFIRMED', reason: '' }), 1);
      assert.equal(sum(orders, 'orderflow_saga_duration_seconds_count', { arch, outcome: 'confirmed' }), 1);
      assert.ok(sum(orders, 'orderflow_saga_duration_seconds_sum', { arch }) > 0);
      assert.equal(sum(orders, 'orderflow_orders_pending_oldest_age_seconds'), 0, 'no order is pending any more');
      assert.match(orders, /^orderflow_outbox_pending\{service="orders"\} \d+$/m);
      if (arch === 'rest') {
        assert.equal(sum(orders, 'orderflow_circuit_state', { upstream: 'payments' }), 0, "orders' breakers are closed");
      } else {
        const inventory = await scrape('inventory');
        assert.ok(sum(inventory, 'orderflow_messages_total', { outcome: 'handled' }) >= 1, 'inventory handled messages');
        assert.match(inventory, /^orderflow_consumer_lag\{group="inventory",/m);
      }
      const gateway = await scrape('gateway');
      assert.equal(sum(gateway, 'orderflow_circuit_state', { upstream: 'orders' }), 0);
    });
  });
}
