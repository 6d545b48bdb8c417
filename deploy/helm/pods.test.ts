/**
 * The chart's pods without a cluster, on this machine's Kafka and PostgreSQL: each Deployment of
 * the default render runs with the env its pod would have (the ConfigMap, its own env, the
 * rendered Secret's keys),
 * - as the process its container runs (services/<name>/main.ts);
 * - as a container of the image (ORDERFLOW_IMAGE), with its pod's security context: its user,
 *   a read-only root, its emptyDirs, no capabilities, no privilege escalation.
 * Only what a cluster gives otherwise is replaced: the Services' addresses and the ports (on
 * 127.0.0.1: the containers share the host's network), the brokers and the database server, a
 * namespace of its own, and for the processes the emptyDir. Then the probes the chart names
 * answer, the port Prometheus is told to scrape serves /metrics, and an order goes through the
 * gateway to CONFIRMED.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient } from '#lab/client.ts';
import { waitFor } from '#lab/invariants.ts';
import { serviceDatabaseName } from '#platform/db/open.ts';
import { dropPostgresDatabase } from '#platform/db/postgres.ts';
import { infraDir } from '#runtime/infra/config.ts';
import { podman, podmanEnv, removeLabelled } from '#runtime/infra/podman.ts';
import { createSupervisor, freePorts, probe, type ChildSpec, type Supervisor } from '#runtime/supervisor.ts';
import { databaseServices } from '#runtime/system.ts';
import { deployTools, imageSkip, kafkaSkip, postgresSkip, uniqueName } from '#test/infra.ts';
import { chartCases, renderChart } from './check.ts';
import type { K8sObject } from './rules.ts';

const { tools, skip } = await deployTools();
const infra = skip ?? kafkaSkip() ?? postgresSkip();

type Pod = {
  service: string;
  /** The container's env, from the render; then what this machine gives instead of a cluster. */
  env: Record<string, string>;
  args: string[];
  podSecurity: Record<string, any>;
  security: Record<string, any>;
  /** Where the pod mounts its emptyDirs. */
  emptyDirs: string[];
  localPort: number;
  metricsPort: number;
  metricsAnnotation: number;
  localMetricsPort: number;
};

/** The pods of a render, each with the ports it takes here. */
async function podsOf(docs: K8sObject[]): Promise<Pod[]> {
  const configMaps = new Map(docs.filter((d) => d.kind === 'ConfigMap').map((c) => [c.metadata.name, c.data ?? {}]));
  const secrets = new Map(docs.filter((d) => d.kind === 'Secret').map((s) => [s.metadata.name, s.stringData ?? {}]));
  const deployments = docs.filter((d) => d.kind === 'Deployment');
  const ports = await freePorts(deployments.length * 2);
  return deployments.map((d, i) => {
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
    const emptyDirs = new Set(pod.spec.volumes.filter((v: any) => v.emptyDir).map((v: any) => v.name));
    const portOf = (name: string) => c.ports.find((p: { name: string }) => p.name === name)?.containerPort as number | undefined;
    return {
      service: c.args[0],
      env,
      args: c.args,
      podSecurity: pod.spec.securityContext ?? {},
      security: c.securityContext ?? {},
      emptyDirs: c.volumeMounts.filter((m: any) => emptyDirs.has(m.name)).map((m: any) => m.mountPath),
      localPort: ports[2 * i],
      metricsPort: portOf('metrics') ?? portOf('http')!,
      metricsAnnotation: Number(pod.metadata.annotations['prometheus.io/port']),
      localMetricsPort: portOf('metrics') ? ports[2 * i + 1] : ports[2 * i],
    };
  });
}

/** A pod as a container of the image, under its security context (podman's flags for it). */
function containerOf(pod: Pod, image: string, label: string): Pick<ChildSpec, 'command' | 'env' | 'signal'> {
  const name = `${label.replace('=', '-')}-${pod.service}`;
  const user = pod.security.runAsUser ?? pod.podSecurity.runAsUser;
  const group = pod.security.runAsGroup ?? pod.podSecurity.runAsGroup;
  const command = [
    'podman', 'run', '--rm', '--replace', '--name', name, '--label', label, '--network', 'host', '--no-healthcheck',
    ...(user !== undefined ? ['--user', `${user}:${group ?? user}`] : []),
    // Read-only as Kubernetes makes it: without the /run, /tmp and /var/tmp podman would add.
    ...(pod.security.readOnlyRootFilesystem ? ['--read-only', '--read-only-tmpfs=false'] : []),
    ...(pod.security.allowPrivilegeEscalation === false ? ['--security-opt', 'no-new-privileges'] : []),
    ...(pod.security.capabilities?.drop ?? []).flatMap((cap: string) => ['--cap-drop', cap]),
    // An emptyDir: empty, the pod's own, writable by its user (fsGroup).
    ...pod.emptyDirs.flatMap((path) => ['--tmpfs', `${path}:rw,mode=1777`]),
    ...Object.keys(pod.env).flatMap((key) => ['--env', key]),
    image, ...pod.args,
  ];
  // podman run proxies SIGTERM to the container; SIGKILL would end only the client.
  const signal = (sig: NodeJS.Signals, proc: ChildProcess) => {
    if (sig !== 'SIGKILL') return void proc.kill(sig);
    spawn('podman', ['kill', '--signal', 'KILL', name], { env: podmanEnv(infraDir()), stdio: 'ignore' }).once('close', () => proc.kill('SIGKILL'));
  };
  return { command, env: podmanEnv(infraDir(), { ...(process.env as Record<string, string>), ...pod.env }), signal };
}

function describePods(title: string, skipWhy: string | undefined, opts: { image?: () => string }) {
  describe(title, { skip: skipWhy }, () => {
    const namespace = uniqueName('helm').toLowerCase();
    const label = `orderflow.system=${namespace}`;
    const databaseUrl = process.env.DATABASE_URL!;
    let dir: string;
    let supervisor: Supervisor;
    let pods: Pod[];
    const lines: string[] = [];

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'orderflow-pods-'));
      pods = await podsOf((await renderChart(tools!, chartCases[0], dir)).docs);
      const urls = Object.fromEntries(pods.filter((p) => p.service !== 'gateway').map((p) => [`${p.service.toUpperCase()}_URL`, `http://127.0.0.1:${p.localPort}`]));
      for (const p of pods) {
        for (const key of Object.keys(urls)) assert.ok(key in p.env, `${p.service}: the chart gives no ${key}`);
        Object.assign(p.env, urls, {
          HOST: '127.0.0.1',
          PORT: String(p.localPort),
          ...(p.env.GATEWAY_METRICS_PORT ? { GATEWAY_METRICS_PORT: String(p.localMetricsPort) } : {}),
          KAFKA_BROKERS: process.env.KAFKA_BROKERS!,
          DATABASE_URL: databaseUrl,
          ORDERFLOW_NAMESPACE: namespace,
          LOG_LEVEL: 'warn',
          // A process has no emptyDir at /data; a container keeps the pod's.
          ...(opts.image ? {} : { ORDERFLOW_DATA_DIR: join(dir, p.service), PATH: process.env.PATH ?? '' }),
        });
      }
      supervisor = createSupervisor({ restart: false, stdio: 'pipe', log: (line) => lines.push(line), startTimeoutMs: opts.image ? 180_000 : 120_000 });
      const start = (p: Pod) => supervisor.start({
        name: p.service,
        healthUrl: `http://127.0.0.1:${p.localPort}/health/ready`,
        ...(opts.image ? containerOf(p, opts.image(), label) : { script: fileURLToPath(new URL(`../../src/services/${p.service}/main.ts`, import.meta.url)), env: p.env }),
      });
      try {
        await Promise.all(pods.filter((p) => p.service !== 'gateway').map(start));
        await Promise.all(pods.filter((p) => p.service === 'gateway').map(start));
      } catch (err) {
        throw new Error(`${(err as Error).message}\n${lines.slice(-40).join('\n')}`);
      }
    });

    after(async () => {
      await supervisor?.stop();
      if (opts.image) await removeLabelled(infraDir(), label).catch(() => 0);
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

    if (opts.image) {
      test('each pod is a container of the image, as its security context says', async () => {
        const ids = (await podman(infraDir(), ['ps', '-q', '--filter', `label=${label}`])).split('\n').filter(Boolean);
        assert.equal(ids.length, 10);
        const inspected: any[] = JSON.parse(await podman(infraDir(), ['inspect', ...ids]));
        for (const c of inspected) {
          assert.equal(c.Config.User, '1000:1000', c.Name);
          assert.equal(c.HostConfig.ReadonlyRootfs, true, c.Name);
          assert.deepEqual(Object.keys(c.HostConfig.Tmpfs ?? {}).sort(), ['/data', '/tmp'], c.Name);
          assert.deepEqual(c.EffectiveCaps ?? [], [], c.Name);
        }
      });
    }

    test('an order placed through the gateway is confirmed', async () => {
      const gateway = `http://127.0.0.1:${pods.find((p) => p.service === 'gateway')!.localPort}`;
      const customer = { email: `helm-${namespace}@example.org`, password: 'correct horse battery', name: 'Helm' };
      const client = createClient(gateway, 4, { customer: { email: customer.email, password: customer.password } });
      try {
        let last: unknown;
        const health = await waitFor('every service up behind the gateway', async () => {
          const h = await client.health();
          last = h.body;
          return h.status === 200 ? h.body : undefined;
        }, 30_000, 200).catch((err: Error) => {
          // Which service is down, and what the supervisor saw of it (a crash at start, its last lines).
          throw new Error(`${err.message}; the gateway's last /health: ${JSON.stringify(last)}\n${lines.slice(-40).join('\n')}`, { cause: err });
        });
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
}

describePods('the chart\'s pods, as processes on this machine\'s Kafka and PostgreSQL', infra, {});
describePods('the chart\'s pods, as containers of the image under their security context', infra ?? imageSkip(), { image: () => process.env.ORDERFLOW_IMAGE! });
