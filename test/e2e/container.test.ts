/**
 * The whole system from the image (deploy/Dockerfile), black box: every instance a container
 * of ORDERFLOW_IMAGE on the distributed deployment (Kafka and PostgreSQL), driven only through
 * the gateway's public API (deployed-scenario.ts). Also: the containers are the image's,
 * run as its non-root user; a container killed with SIGKILL comes back as a new one; none
 * outlives the system. Skips without ORDERFLOW_IMAGE (fails under ORDERFLOW_REQUIRE_INFRA=1).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { createClient } from '#lab/client.ts';
import { infraDir } from '#runtime/infra/config.ts';
import { podman } from '#runtime/infra/podman.ts';
import { imageSkip } from '../infra.ts';
import { deployedScenario } from './deployed-scenario.ts';
import { deployments, startDeployment } from './deployments.ts';

const distributed = deployments.find((d) => d.name === 'distributed')!;

interface Listed { Id: string; Names: string[]; ImageID: string; Labels: Record<string, string> }

describe('the system from the image, on the distributed deployment', { skip: imageSkip() ?? distributed.skip() }, () => {
  test('every instance is a container of the image; a customer registers, orders and checks out through the gateway; a killed container comes back; none outlives the system', async (t) => {
    const image = process.env.ORDERFLOW_IMAGE!;
    const dir = infraDir();
    // Ten containers starting at once on a small shared machine: more time than processes get.
    const { system } = await startDeployment(t, distributed, 'events', {}, { image, startTimeoutMs: 180_000 });
    const label = system.containerLabel!;
    const containers = async (all = false): Promise<Listed[]> => JSON.parse(await podman(dir, ['ps', ...(all ? ['--all'] : []), '--filter', `label=${label}`, '--format', 'json']));
    const imageId = (await podman(dir, ['image', 'inspect', '--format', '{{.Id}}', image])).trim();

    const running = await containers();
    assert.deepEqual(running.map((c) => c.Labels['orderflow.instance']).sort(), system.instances().map((i) => i.name).sort(), 'one container per instance');
    for (const c of running) assert.equal(c.ImageID, imageId, `${c.Names[0]} runs the image`);
    for (const i of system.instances()) {
      const argv = readFileSync(`/proc/${system.pid(i.name)}/cmdline`, 'utf8').split('\0');
      assert.deepEqual([argv[0].split('/').at(-1), argv[1]], ['podman', 'run'], `${i.name}'s supervised process is podman run`);
    }
    const gateway = running.find((c) => c.Labels['orderflow.instance'] === 'gateway')!;
    if (process.getuid?.() === 0) assert.equal((await podman(dir, ['exec', gateway.Id, 'id', '-u'])).trim(), '1000', 'the service runs as the image\'s node user');

    const outcome = await deployedScenario(system.gatewayUrl, system.demoUsers.admin);

    // SIGKILL cannot be proxied through podman run: the supervisor's kill reaches the container itself.
    const ordersBefore = running.find((c) => c.Labels['orderflow.instance'] === 'orders')!;
    await system.crash('orders', 200);
    const ordersAfter = (await containers()).find((c) => c.Labels['orderflow.instance'] === 'orders');
    assert.ok(ordersAfter, 'orders runs again');
    assert.notEqual(ordersAfter.Id, ordersBefore.Id, 'as a new container');
    const customer = createClient(system.gatewayUrl, 2, { customer: outcome.customer });
    t.after(() => customer.close());
    const read = await customer.order(outcome.orderIds[0]);
    assert.deepEqual([read.status, read.body.status], [200, 'CONFIRMED'], 'the restarted orders serves what it stored');

    await system.stop();
    assert.deepEqual(await containers(true), [], 'no container outlives the system');
  });
});
