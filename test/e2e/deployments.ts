/**
 * The two deployments every end-to-end test runs on: the embedded default (SQLite files
 * and the embedded log) and the distributed one (Apache Kafka and PostgreSQL, found through
 * KAFKA_BROKERS and DATABASE_URL).
 */
import type { TestContext } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, type Client } from '#lab/client.ts';
import { createOpenApiChecker } from '#test/support/openapi-check.ts';

const openApi = createOpenApiChecker();
import { dropPostgresDatabase } from '#platform/db/postgres.ts';
import { serviceDatabaseName } from '#platform/db/open.ts';
import { architectures as allArchitectures, type Architecture } from '#platform/config.ts';
import { databaseServices, freePortsForAll, startSystem, unlimitedGateway, type System } from '#runtime/system.ts';
import type { ArchiveOptions } from '#runtime/archive.ts';
import { kafkaSkip, postgresSkip, uniqueName } from '../infra.ts';

export interface Deployment {
  name: 'embedded' | 'distributed';
  /** Why this deployment cannot run here (tests skip with it), or undefined. */
  skip: () => string | undefined;
  /** Environment for every service process, and a cleanup once they stopped. */
  prepare(): { dataDir: string; env: Record<string, string>; cleanup(): Promise<void> };
}

const tempDir = () => mkdtempSync(join(tmpdir(), 'orderflow-e2e-'));

export const deployments: Deployment[] = [
  {
    name: 'embedded',
    skip: () => undefined,
    prepare() {
      const dataDir = tempDir();
      return { dataDir, env: { ORDERFLOW_BUS: 'embedded', ORDERFLOW_STORE: 'sqlite', LOG_LEVEL: 'warn' }, cleanup: async () => rmSync(dataDir, { recursive: true, force: true }) };
    },
  },
  {
    name: 'distributed',
    skip: () => kafkaSkip() ?? postgresSkip(),
    prepare() {
      const dataDir = tempDir();
      const databaseUrl = process.env.DATABASE_URL ?? '';
      const namespace = uniqueName('e2e').toLowerCase();
      return {
        dataDir,
        env: {
          ORDERFLOW_BUS: 'kafka',
          ORDERFLOW_STORE: 'postgres',
          KAFKA_BROKERS: process.env.KAFKA_BROKERS ?? '',
          DATABASE_URL: databaseUrl,
          ORDERFLOW_NAMESPACE: namespace,
          ORDERFLOW_PARTITIONS: '4',
          LOG_LEVEL: 'warn',
        },
        async cleanup() {
          rmSync(dataDir, { recursive: true, force: true });
          for (const service of databaseServices) await dropPostgresDatabase(databaseUrl, serviceDatabaseName(namespace, service));
        },
      };
    },
  },
];

/** Every architecture, or those E2E_ARCH names (comma-separated), to focus a run while developing one. */
export const architectures: readonly Architecture[] = process.env.E2E_ARCH
  ? allArchitectures.filter((a) => process.env.E2E_ARCH?.split(',').includes(a))
  : allArchitectures;

/** What POST /api/orders answers on success: 202 PENDING, except in rest (201 with the final status). */
export const acceptedStatus = (arch: Architecture): number => (arch === 'rest' ? 201 : 202);

/**
 * Starts every service as its own process on the deployment and architecture (with `extraEnv`
 * added, `replicas` instances of each backend, the event archive in `<dataDir>/archive` when
 * `archive` is given, and every instance a container of `image` when given), and a client of
 * its gateway; all stopped after the test.
 */
export async function startDeployment(t: TestContext, deployment: Deployment, arch: Architecture = 'events', extraEnv: Record<string, string> = {}, opts: { replicas?: number; archive?: Omit<ArchiveOptions, 'dir'>; image?: string; startTimeoutMs?: number; lab?: boolean } = {}): Promise<{ system: System; client: Client; dataDir: string; env: Record<string, string> }> {
  const prepared = deployment.prepare();
  const { dataDir, cleanup } = prepared;
  // The gateway's rate limits off (a test may set its own in extraEnv): the suites place
  // bursts of orders from one address; the limits themselves are tested at the gateway (edge.test.ts).
  // E-mail off unless a test turns it on (SMTP_URL in extraEnv, as notifications.test.ts
  // does): a suite that places thousands of orders would otherwise mail each outcome.
  const env = { ...prepared.env, ORDERFLOW_ARCH: arch, ...unlimitedGateway, SMTP_URL: '', ...extraEnv };
  let system: System | undefined;
  let client: Client | undefined;
  // Every answer the test's client gets is checked against the OpenAPI document.
  const outside: string[] = [];
  // One hook, so the order is certain: the client, then the processes, then their data.
  t.after(async () => {
    await client?.close();
    await system?.stop();
    await cleanup();
    if (outside.length > 0) throw new Error(`answers outside the OpenAPI document (${outside.length}):\n${[...new Set(outside)].slice(0, 10).join('\n')}`);
  });
  const archive = opts.archive && { ...opts.archive, dir: join(dataDir, 'archive') };
  system = await startSystem({ dataDir, env, ports: freePortsForAll, stdio: 'pipe', replicas: opts.replicas, archive, image: opts.image, startTimeoutMs: opts.startTimeoutMs, lab: opts.lab ? { dir: join(dataDir, 'lab') } : undefined });
  client = createClient(system.gatewayUrl, 32, {
    ...system.demoUsers,
    onAnswer: (method, path, status, body) => {
      const problem = openApi.check(method, path, status, body);
      if (problem) outside.push(problem);
    },
  });
  return { system, client, dataDir, env };
}
