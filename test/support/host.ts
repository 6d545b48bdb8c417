/** A service host on the embedded adapters in a temp dir, closed and removed after the test. */
import type { TestContext } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { allTopics, validateMessage } from '#contracts/index.ts';
import { loadPlatformConfig } from '#platform/config.ts';
import type { Migration } from '#platform/db/db.ts';
import { silentLogger } from '#platform/log.ts';
import { startServiceHost, type ServiceHost } from '#platform/service/host.ts';

export interface TestHostOptions {
  name: string;
  migrations: Migration[];
  /** Partitions of the embedded log; 2 unless told. */
  partitions?: number;
}

/** Starts the host without listening. */
export async function openTestHost(t: TestContext, opts: TestHostOptions): Promise<ServiceHost> {
  const dir = mkdtempSync(join(tmpdir(), `${opts.name}-test-`));
  const platform = loadPlatformConfig({ ORDERFLOW_DATA_DIR: dir, ORDERFLOW_PARTITIONS: String(opts.partitions ?? 2) });
  const host = await startServiceHost({ name: opts.name, platform, migrations: opts.migrations, topics: allTopics, validate: validateMessage, log: silentLogger });
  t.after(async () => {
    await host.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return host;
}

/**
 * Starts the host, runs `setup` (routes must be registered before listening), then listens
 * on port 0.
 */
export async function startTestHost(
  t: TestContext,
  opts: TestHostOptions & { setup: (host: ServiceHost) => void | Promise<void> },
): Promise<{ host: ServiceHost; url: string }> {
  const host = await openTestHost(t, opts);
  await opts.setup(host);
  const port = await host.listen(0);
  return { host, url: `http://127.0.0.1:${port}` };
}
