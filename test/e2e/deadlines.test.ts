/**
 * Saga deadlines end to end: payments, or shipping, stopped for longer than the step
 * deadline. The orders waiting on it are cancelled as TIMEOUT while it is away and their
 * stock is released (and their charge refunded); once it is back, what it does late is
 * undone — a charge refunded (or refused in advance), a shipment called off — and every
 * invariant holds. And a charge dead-lettered in the middle of the saga (payments' handler
 * failing, injected): the deadline cancels the order, and the dead letter replayed later
 * charges nothing that stays charged. The rest architecture's timeout is tested in test/rest/rest-saga.test.ts
 * (there an order placed while payments is down is refused, not left waiting).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, test, type TestContext } from 'node:test';
import type { Architecture } from '#platform/config.ts';
import { architectures, deployments, startDeployment, type Deployment } from './deployments.ts';
import { settledInvariants, waitFor } from '#lab/invariants.ts';
import { createCatalog, expectation, placeBurst, waitAllTerminal } from '#lab/scenario.ts';

const embedded = deployments.filter((d) => d.name === 'embedded');
const implemented: readonly Architecture[] = ['events', 'choreography'];
const deadlineMs = 5_000;

for (const deployment of embedded) for (const arch of architectures.filter((a) => implemented.includes(a))) {
  describe(`saga deadlines, ${arch} architecture, on the ${deployment.name} deployment`, () => {
    for (const victim of ['payments', 'shipping'] as const) {
      test(`${victim} stopped longer than the deadline: orders end CANCELLED(TIMEOUT), stock released, late ${victim === 'payments' ? 'charges refunded' : 'shipments called off'}`, async (t) => {
        await outageOutlastingTheDeadline(t, deployment, arch, victim);
      });
    }
    test('a command dead-lettered mid-saga: the deadline cancels the order and releases its stock; replayed later, the late charge is undone', async (t) => {
      await deadLetterThenDeadline(t, deployment, arch);
    });
  });
}

/** `orderflow <args>` as a user runs it, against the system's data directory. */
function cli(args: string[], env: Record<string, string>): string {
  return execFileSync(process.execPath, [fileURLToPath(new URL('../../src/cli.ts', import.meta.url)), ...args], { env: { ...process.env, ...env }, encoding: 'utf8' });
}

async function deadLetterThenDeadline(t: TestContext, deployment: Deployment, arch: Architecture): Promise<void> {
  const { system, client, dataDir, env } = await startDeployment(t, deployment, arch, {
    ORDERS_STEP_DEADLINE_MS: String(deadlineMs),
    ORDERS_DEADLINE_SWEEP_MS: '200',
    ORDERFLOW_FAULTS: '1',
  });
  const initialStock = await createCatalog(client, 2, 100);
  const productIds = [...initialStock.keys()];
  // What payments consumes to charge: the orders' command, or (choreography) inventory's event.
  const [chargeType, chargeTopic] = arch === 'events' ? ['ChargePayment', 'payments.commands'] : ['StockReserved', 'inventory.events'];
  const cliEnv = { ...env, ORDERFLOW_DATA_DIR: dataDir };

  // Payments' handler of the charge fails on every attempt: each order's charge is
  // dead-lettered, and nothing answers the saga's step.
  await system.failMessages('payments', [chargeType]);
  const { placed } = await placeBurst(client, productIds, { count: 4, concurrency: 4, declineRatio: 0, unservedRatio: 0, seed: 21 });
  const views = await waitAllTerminal(client, placed, 2 * deadlineMs + 5_000);
  for (const v of views) assert.deepEqual([v.status, v.reason], ['CANCELLED', 'TIMEOUT'], v.id);
  // The dead letters as the operator sees them: rows of payments' dead_letters table, pending.
  const letters = JSON.parse(cli(['dlq', 'list', chargeTopic, '--json'], cliEnv)) as Array<{ service: string; state: string; messageType?: string; record: { value: string }; error: { code: string } }>;
  const deadOrders = letters.filter((l) => l.messageType === chargeType).map((l) => (JSON.parse(l.record.value) as { payload: { orderId: string } }).payload.orderId);
  assert.deepEqual(new Set(deadOrders), new Set(placed.map((o) => o.id)), 'each order\'s charge was dead-lettered');
  assert.ok(letters.every((l) => l.service === 'payments' && l.state === 'pending'), JSON.stringify(letters.map((l) => [l.service, l.state])));
  for (const l of letters) assert.equal(l.error.code, 'PLT_ERR_INJECTED_FAILURE');
  // Nothing was charged, and the deadline gave the stock back.
  assert.deepEqual(await settledInvariants(client, expectation(initialStock, placed), 10_000), []);

  // The bug is fixed and an operator replays the dead letters: payments now sees charges for
  // orders long cancelled, and what it does is undone (refunded) or refused in advance.
  // The admin's API lists the same letters, and replays them (the CLI's replay is tested in
  // src/runtime/dlq-command.test.ts).
  const listed = await client.call('GET', `/api/admin/dead-letters?topic=${chargeTopic}`, undefined, {}, 'admin');
  assert.equal(listed.status, 200, JSON.stringify(listed.body));
  assert.deepEqual(new Set(listed.body.deadLetters.map((l: { payload: { orderId: string } }) => l.payload.orderId)), new Set(deadOrders));
  await system.failMessages('payments', []);
  const replayed = await client.call('POST', '/api/admin/dead-letters/replay', { topic: chargeTopic }, {}, 'admin');
  assert.deepEqual([replayed.status, replayed.body.replayed?.length], [200, letters.length], JSON.stringify(replayed.body));
  const again = await client.call('POST', '/api/admin/dead-letters/replay', { topic: chargeTopic }, {}, 'admin');
  assert.deepEqual(again.body, { replayed: [] }, 'a second replay replays nothing');
  // Handled this time (the payments process counts each message's outcome on /metrics).
  const handledCharges = async () => {
    const text = await (await fetch(`${system.metricsUrls.payments}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith('orderflow_messages_total{') && l.includes('group="payments"') && l.includes(`type="${chargeType}"`) && l.includes('outcome="handled"'));
    return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
  };
  await waitFor('the replayed charges to be handled', async () => ((await handledCharges()) >= placed.length ? true : undefined), 15_000);
  const settled = await Promise.all(placed.map(async (o) => (await client.details(o.id)).body));
  const statuses = settled.map((d) => d.payment?.status);
  t.diagnostic(`payments after the replay: ${JSON.stringify(statuses)}`);
  for (const s of statuses) assert.ok(s === 'REFUNDED' || s === 'CANCELLED', String(s));
  for (const v of settled) assert.deepEqual([v.order.status, v.order.reason], ['CANCELLED', 'TIMEOUT']);
  assert.deepEqual(await settledInvariants(client, expectation(initialStock, placed), 30_000), []);
}

async function outageOutlastingTheDeadline(t: TestContext, deployment: Deployment, arch: Architecture, victim: 'payments' | 'shipping'): Promise<void> {
  const { system, client } = await startDeployment(t, deployment, arch, {
    ORDERS_STEP_DEADLINE_MS: String(deadlineMs),
    ORDERS_DEADLINE_SWEEP_MS: '200',
  });
  const initialStock = await createCatalog(client, 2, 100);
  const productIds = [...initialStock.keys()];
  const good = { declineRatio: 0, unservedRatio: 0 };

  // Before the outage the saga runs as usual.
  const before = await placeBurst(client, productIds, { count: 5, concurrency: 5, ...good, seed: 3 });
  const settledBefore = await waitAllTerminal(client, before.placed, 30_000);
  assert.ok(settledBefore.every((v) => v.status === 'CONFIRMED'), JSON.stringify(settledBefore));

  // The victim goes away for three deadlines; the orders placed meanwhile get as far as it
  // and then wait on an answer nobody gives.
  const outage = system.crash(victim, 3 * deadlineMs);
  outage.catch(() => undefined);
  const during = await placeBurst(client, productIds, { count: 12, concurrency: 4, ...good, seed: 5 });
  const started = Date.now();
  const timedOut = await waitAllTerminal(client, during.placed, 2 * deadlineMs + 1_000);
  t.diagnostic(`orders settled ${Date.now() - started} ms after the last was placed, ${victim} still down`);
  for (const v of timedOut) assert.deepEqual([v.status, v.reason], ['CANCELLED', 'TIMEOUT'], v.id);

  // Their stock is back while the victim is still away: inventory released it. The release
  // is inventory's answer to the cancellation, so it lands a moment after the order turns
  // terminal: wait for it, but well inside the outage.
  const confirmedUnits = new Map<string, number>();
  for (const o of before.placed) for (const i of o.items) confirmedUnits.set(i.productId, (confirmedUnits.get(i.productId) ?? 0) + i.quantity);
  const stockOf = (products: { id: string; available: number }[]) => productIds.map((id) => products.find((x) => x.id === id)?.available);
  const expectedStock = productIds.map((id) => 100 - (confirmedUnits.get(id) ?? 0));
  let lastStock: (number | undefined)[] = [];
  const released = await waitFor('the stock to be released', async () => {
    lastStock = stockOf((await client.products()).body);
    return lastStock.every((a, i) => a === expectedStock[i]) ? true : undefined;
  }, deadlineMs).catch(() => false);
  assert.ok(released, `stock released while ${victim} is down: available ${JSON.stringify(lastStock)}, expected ${JSON.stringify(expectedStock)}`);

  // The victim returns and works through its backlog: what it does late is undone.
  await outage;
  const placed = [...before.placed, ...during.placed];
  assert.deepEqual(await settledInvariants(client, expectation(initialStock, placed), 30_000), []);
  const details = await Promise.all(during.placed.map(async (o) => (await client.details(o.id)).body));
  const payments = details.map((d) => d.payment?.status);
  const shipments = details.map((d) => d.shipment?.status);
  t.diagnostic(`after ${victim}'s return: payments ${JSON.stringify(payments)}, shipments ${JSON.stringify(shipments)}`);
  if (victim === 'payments') {
    // Charged late and refunded, or (choreography: the cancellation heard before the
    // reservation, on another topic) refused in advance.
    for (const s of payments) assert.ok(s === 'REFUNDED' || s === 'CANCELLED', String(s));
    // events: ChargePayment and RefundPayment share a partition, so the charge comes first.
    if (arch === 'events') assert.ok(payments.every((s) => s === 'REFUNDED'), 'every charge made after the timeout was refunded');
  } else {
    assert.ok(payments.every((s) => s === 'REFUNDED'), 'every charge was refunded');
    // Booked late and called off, or refused in advance.
    for (const s of shipments) assert.equal(s, 'CANCELLED');
  }

  // New orders go through again.
  const after = await placeBurst(client, productIds, { count: 3, concurrency: 3, ...good, seed: 9 });
  const settledAfter = await waitAllTerminal(client, after.placed, 30_000);
  assert.ok(settledAfter.every((v) => v.status === 'CONFIRMED'), JSON.stringify(settledAfter));
}
