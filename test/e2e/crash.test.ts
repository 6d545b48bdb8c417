/**
 * kill -9 in the middle of a burst: orders, inventory and payments are each killed while
 * orders are flowing, the supervisor restarts them, and still every accepted order ends in
 * exactly one terminal status with every invariant holding. Nothing lost, nothing twice.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { architectures, deployments, startDeployment } from './deployments.ts';
import { settledInvariants, waitFor } from '#lab/invariants.ts';
import { createCatalog, expectation, placeBurst, replayPlaced, waitAllTerminal } from '#lab/scenario.ts';

const victims = ['orders', 'inventory', 'payments'] as const;

for (const deployment of deployments) for (const arch of architectures) {
  describe(`crashes, ${arch} architecture, on the ${deployment.name} deployment`, { skip: deployment.skip() }, () => {
    test('orders, inventory and payments killed with SIGKILL mid-burst lose and duplicate nothing', async (t) => {
      const { system, client } = await startDeployment(t, deployment, arch);

      const initialStock = await createCatalog(client, 4, 150);
      // A burst spread over several seconds, so each kill lands while orders flow.
      let burstDone = false;
      const burst = placeBurst(client, [...initialStock.keys()], { count: 300, concurrency: 6, paceMs: 80, declineRatio: 0.15, unservedRatio: 0.1, seed: 11, retryForMs: 90_000 });
      void burst.finally(() => (burstDone = true)).catch(() => undefined);
      for (const victim of victims) {
        await sleep(1000);
        assert.equal(burstDone, false, `the burst is still running when ${victim} is killed`);
        const pid = system.pid(victim);
        assert.ok(pid, `${victim} runs`);
        system.kill(victim, 'SIGKILL');
        t.diagnostic(`killed ${victim} (pid ${pid})`);
        await waitFor(`${victim} to be restarted`, async () => (system.restarts(victim) >= 1 && system.pid(victim) !== pid ? true : undefined), 30_000);
      }
      const { placed, retries } = await burst;
      t.diagnostic(`placed ${placed.length} orders (${retries} retried requests while services restarted)`);
      assert.equal(placed.length, 300, 'every order was eventually accepted');
      assert.equal(new Set(placed.map((o) => o.id)).size, placed.length, 'no two requests were answered with the same order');
      for (const victim of victims) assert.ok(system.restarts(victim) >= 1, `${victim} was restarted`);

      await waitAllTerminal(client, placed, 120_000);
      const exp = expectation(initialStock, placed);
      assert.deepEqual(await settledInvariants(client, exp), []);
      // Requests retried across the kills made one order each: replayed once all settled, each
      // names the order its client was given (had a retry made a second order, the key would
      // name one of the two, or a key lost in the crash would make a third).
      assert.deepEqual(await replayPlaced(client, placed), [], 'each request, replayed, names its one order');
    });
  });
}
