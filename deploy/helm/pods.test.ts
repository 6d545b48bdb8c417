/**
 * The chart's pods without a cluster: each Deployment of the default render runs as the process
 * its container would run (services/<name>/main.ts), with the env its pod would have (the
 * ConfigMap, its own env, the rendered Secret's keys), on this machine's Kafka and PostgreSQL.
 * Only what a cluster gives otherwise is replaced: the listen address and ports, the Services'
 * addresses, the brokers and the database server, the emptyDir, and a namespace of its own.
 * Then the probes the chart names answer, the port Prometheus is told to scrape serves
 * /metrics, and an order goes through the gateway to CONFIRMED.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient } from '#lab/client.ts';
import { waitFor } from '#lab/invariants.ts';
import { serviceDatabaseName } from '#platform/db/open.ts';
import { dropPostgresDatabase } from '#platform/db/postgres.ts';
import { createSupervisor, freePorts, probe, type Supervisor } from '#runtime/supervisor.ts';
import { databaseServices } from '#runtime/system.ts';
import { deployTools, kafkaSkip, postgresSkip, uniqueName } from '#test/infra.ts';
import { chartCases, renderChart } from './check.ts';
import type { K8sObject } from './rules.ts';

const { tools, skip } = await deployTools();

type Pod = { service: string; env: Record<string, string>; localPort: number; metricsPort: number; metricsAnnotation: number; localMetricsPort: number };

describe('the chart\'s pods, as processes on this machine\'s Kafka and PostgreSQL', { skip: skip ?? kafkaSkip() ?? postgresSkip() }, () => {
  const namespace = uniqueName('helm').toLowerCase();
  const databaseUrl = process.env.DATABASE_URL!;
  let dir: string;
  let supervisor: Supervisor;
  let pods: Pod[];
  const lines: string[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'orderflow-pods-'));
    const { docs } = await renderChart(tools!, chartCases[0], dir);
    const configMaps = new Map(docs.filter((d) => d.kind === 'ConfigMap').map((c) => [c.metadata.name, c.data ?? {}]));
    const secrets = new Map(docs.filter((d) => d.kind === 'Secret').map((s) => [s.metadata.name, s.stringData ?? {}]));
    const deployments = docs.filter((d) => d.kind === 'Deployment');
    const ports = await freePorts(deployments.length * 2);
    pods = deployments.map((d: K8sObject, i) => {
      const pod = d.spec.template;
      const c = pod.spec.containers[0];
      const env: Record<string, string> = {};
      for (const from of c.envFrom ?? []) Object.assign(env, configMaps.get(from.configMapRef.name));
      for (const e of c.env ?? []) {
        const ref = e.valueFrom?.secretKeyRef;
        const value = ref ? secrets.get(ref.name)?.[ref.key] : e.value;
        assert.ok(value !== undefined, `${d.metadata.name}: ${e.name} has no value in the render`);
        env[e.name] = value;
      }
      const portOf = (name: string) => c.ports.find((p: { name: string }) => p.name === name)?.containerPort as number | undefined;
      return {
        service: c.args[0],
        env,
        localPort: ports[2 * i],
        metricsPort: portOf('metrics') ?? portOf('http')!,
        metricsAnnotation: Number(pod.metadata.annotations['prometheus.io/port']),
        localMetricsPort: portOf('metrics') ? ports[2 * i + 1] : ports[2 * i],
      };
    });
    // What the cluster would give: Services' addresses, the listen address, the brokers, the
    // database server, the emptyDir; and a namespace of topics, groups and databases of its own.
    const urls = Object.fromEntries(pods.filter((p) => p.service !== 'gateway').map((p) => [`${p.service.toUpperCase()}_URL`, `http://127.0.0.1:${p.localPort}`]));
    for (const p of pods) {
      for (const key of Object.keys(urls)) assert.ok(key in p.env, `${p.service}: the chart gives no ${key}`);
      Object.assign(p.env, urls, {
        HOST: '127.0.0.1',
        PORT: String(p.localPort),
        ...(p.env.GATEWAY_METRICS_PORT ? { GATEWAY_METRICS_PORT: String(p.localMetricsPort) } : {}),
        KAFKA_BROKERS: process.env.KAFKA_BROKERS!,
        DATABASE_URL: databaseUrl,
        ORDERFLOW_DATA_DIR: join(dir, p.service),
        ORDERFLOW_NAMESPACE: namespace,
        LOG_LEVEL: 'warn',
        PATH: process.env.PATH ?? '',
      });
    }
    supervisor = createSupervisor({ restart: false, stdio: 'pipe', log: (line) => lines.push(line), startTimeoutMs: 120_000 });
    const start = (p: Pod) => supervisor.start({ name: p.service, script: fileURLToPath(new URL(`../../src/services/${p.service}/main.ts`, import.meta.url)), env: p.env, healthUrl: `http://127.0.0.1:${p.localPort}/health/ready` });
    try {
      await Promise.all(pods.filter((p) => p.service !== 'gateway').map(start));
      await Promise.all(pods.filter((p) => p.service === 'gateway').map(start));
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${lines.slice(-40).join('\n')}`);
    }
  });

  after(async () => {
    await supervisor?.stop();
    for (const service of databaseServices) await dropPostgresDatabase(databaseUrl, serviceDatabaseName(namespace, service)).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  test('every pod answers its probes, and serves /metrics where its annotation says', async () => {
    assert.equal(pods.length, 10);
    for (const p of pods) {
      assert.equal(await probe(`http://127.0.0.1:${p.localPort}/health/live`, 5_000), 200, `${p.service} /health/live`);
      assert.equal(await probe(`http://127.0.0.1:${p.localPort}/health/ready`, 5_000), 200, `${p.service} /health/ready`);
      // The annotation names the container's metrics port (its own, or the gateway's internal one).
      assert.equal(p.metricsAnnotation, p.metricsPort, `${p.service} prometheus.io/port`);
      const res = await fetch(`http://127.0.0.1:${p.localMetricsPort}/metrics`);
      assert.equal(res.status, 200, `${p.service} /metrics`);
      assert.match(await res.text(), /^# (HELP|TYPE) /m);
    }
  });

  test('an order placed through the gateway is confirmed', async () => {
    const gateway = `http://127.0.0.1:${pods.find((p) => p.service === 'gateway')!.localPort}`;
    const customer = { email: `helm-${namespace}@example.org`, password: 'correct horse battery', name: 'Helm' };
    const client = createClient(gateway, 4, { customer: { email: customer.email, password: customer.password } });
    try {
      const health = await waitFor('every service up behind the gateway', async () => {
        const h = await client.health();
        return h.status === 200 ? h.body : undefined;
      }, 30_000, 200);
      assert.ok(Object.values(health.services).every((s) => s === 'up'), JSON.stringify(health));
      assert.equal((await client.call('POST', '/api/auth/register', customer, {}, 'anonymous')).status, 201);
      const product = await waitFor('the seeded catalog', async () => (await client.products()).body.find((p) => p.available > 0), 30_000, 200);
      const placed = await client.placeOrder({ items: [{ productId: product.id, quantity: 1 }], paymentMethod: 'card', shippingAddress: { country: 'DE', city: 'Berlin' } });
      assert.equal(placed.status, 202, JSON.stringify(placed.body));
      const status = await waitFor('the order to settle', async () => {
        const o = await client.order(placed.body.id);
        return o.body.status === 'PENDING' ? undefined : o.body.status;
      }, 60_000, 200);
      assert.equal(status, 'CONFIRMED');
    } finally {
      await client.close();
    }
  });
});
