/**
 * `orderflow analytics rebuild`: analytics' read model derived again from the event archive
 * by the same pipeline (services/analytics/rebuild.ts), compared with the live read model,
 * and repaired unless --check. Opens the analytics database and reads the archive's files:
 * the system may be running (the live pipeline keeps upserting its windows meanwhile) or not.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { readArchive } from '#platform/bus/archive.ts';
import { loadPlatformConfig } from '#platform/config.ts';
import { Topics } from '#contracts/index.ts';
import { archiveDir } from './archive-command.ts';
import { inheritedEnv, loadRuntimeConfig } from './config.ts';
import { runCommand, UsageError } from './command.ts';

export const ANALYTICS_USAGE = `  analytics rebuild [--archive <dir>] [--data-dir ./data] [--postgres] [--check]
        Rebuild analytics' read model from the event archive (orders.events, client.events) with
        the same stream pipeline, and compare it window by window with the live one; without
        --check, write the windows that differ. --check exits 1 on a difference.`;

export function analyticsCommand(args: string[]): Promise<number> {
  return runCommand('analytics', ANALYTICS_USAGE, () => run(args));
}

async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      archive: { type: 'string' },
      'data-dir': { type: 'string', default: './data' },
      postgres: { type: 'boolean', default: false },
      check: { type: 'boolean', default: false },
    },
  });
  const [action, extra] = positionals;
  if (action !== 'rebuild') throw new UsageError('analytics needs rebuild, e.g. orderflow analytics rebuild --check');
  if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}"`);
  const dataDir = resolve(values['data-dir']);
  const dir = values.archive ? resolve(values.archive) : archiveDir(dataDir);
  const env: Record<string, string | undefined> = { ...inheritedEnv(), ORDERFLOW_DATA_DIR: dataDir, ...(values.postgres ? { ORDERFLOW_STORE: 'postgres', DATABASE_URL: loadRuntimeConfig().databaseUrl } : {}) };
  const platform = loadPlatformConfig(env);
  if (platform.store === 'sqlite' && !existsSync(join(platform.dataDir, 'analytics.sqlite'))) {
    process.stderr.write(`orderflow: no analytics database in ${platform.dataDir} (use --data-dir, or --postgres)\n`);
    return 1;
  }
  if (!existsSync(dir)) {
    process.stderr.write(`orderflow: no archive in ${dir} (orderflow up keeps one unless --no-archive; --archive names another)\n`);
    return 1;
  }
  const { loadConfig } = await import('#services/analytics/config.ts');
  const { rebuildReadModel } = await import('#services/analytics/rebuild.ts');
  const { openServiceDb } = await import('#platform/db/open.ts');
  const { graceMs } = loadConfig(env);
  const db = await openServiceDb({ ...platform, poolSize: 1 }, 'analytics');
  try {
    const sources = Object.fromEntries([Topics.ordersEvents, Topics.clientEvents].map((t) => [t, readArchive(dir, t)]));
    const report = await rebuildReadModel(db, { sources, partitions: platform.partitions, graceMs }, { check: values.check });
    for (const d of report.differences.slice(0, 50)) {
      process.stdout.write(`${d.name} ${new Date(d.start).toISOString()}  live ${d.live ? JSON.stringify(d.live.value).slice(0, 120) : '(none)'}  rebuilt ${d.rebuilt ? JSON.stringify(d.rebuilt.value).slice(0, 120) : '(none)'}\n`);
    }
    if (report.differences.length > 50) process.stdout.write(`... and ${report.differences.length - 50} more\n`);
    if (values.check) {
      process.stdout.write(report.differences.length === 0
        ? `the read model matches the archive: ${report.windows} windows\n`
        : `${report.differences.length} of the read model's windows differ from the archive's (${report.windows} rebuilt); orderflow analytics rebuild writes them\n`);
      return report.differences.length === 0 ? 0 : 1;
    }
    process.stdout.write(`analytics' read model rebuilt from the archive: ${report.windows} windows, ${report.written} written\n`);
    return 0;
  } finally {
    await db.close();
  }
}
