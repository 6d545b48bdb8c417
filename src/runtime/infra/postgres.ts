/**
 * A local PostgreSQL cluster from Debian's `postgresql` package, for dev and CI: trust auth,
 * 127.0.0.1 only, honest durability (fsync and synchronous_commit stay on).
 */
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { exitCode, InfraError, portOpen, run, seconds, stdIo, tail, type InfraIo, type InfraState } from './processes.ts';

export type PostgresOptions = Readonly<{
  /** Infra cache root; the cluster lives in `<dir>/postgres`. */
  dir: string;
  port: number;
  walLevel?: 'replica' | 'logical';
  io?: InfraIo;
}>;

const isRoot = () => process.getuid?.() === 0;

/**
 * Settings written to `orderflow.conf`, which postgresql.conf includes; rewritten on every
 * start. With `statementStats` (the package ships pg_stat_statements) the server counts
 * every statement it runs, BEGIN and COMMIT included, which the lab reads per order.
 */
export function postgresSettings(opts: { port: number; socketDir: string; statementStats?: boolean; walLevel?: 'replica' | 'logical' }): string {
  const statements = opts.statementStats
    ? ["shared_preload_libraries = 'pg_stat_statements'", 'pg_stat_statements.max = 10000', 'pg_stat_statements.track_utility = on']
    : [];
  return [
    `listen_addresses = '127.0.0.1'`,
    `port = ${opts.port}`,
    `unix_socket_directories = '${opts.socketDir.replaceAll("'", "''")}'`,
    'max_connections = 300',
    'shared_buffers = 256MB',
    // Durability stays honest: the lab measures commits that really reached the disk.
    'fsync = on',
    'synchronous_commit = on',
    'full_page_writes = on',
    'wal_writer_delay = 10ms',
    'max_wal_size = 2GB',
    'log_min_messages = warning',
    ...statements,
    // Debezium (ORDERFLOW_RELAY=debezium) reads the outbox from the WAL through a logical slot.
    `wal_level = ${opts.walLevel ?? 'replica'}`,
    '',
  ].join('\n');
}

export function databaseUrl(port: number): string {
  return `postgres://postgres@127.0.0.1:${port}/postgres`;
}

/** The bin dir of the newest installed PostgreSQL, e.g. /usr/lib/postgresql/15/bin. */
export function findPgBin(root = '/usr/lib/postgresql'): string | undefined {
  let versions: string[];
  try {
    versions = readdirSync(root);
  } catch {
    return undefined;
  }
  return versions
    .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a))
    .map((v) => join(root, v, 'bin'))[0];
}

async function ensureInstalled(io: InfraIo): Promise<string> {
  const found = findPgBin();
  if (found) return found;
  if (!isRoot()) throw InfraError('postgres: PostgreSQL is not installed; run: sudo apt-get install -y postgresql');
  const started = Date.now();
  io.say('postgres: not installed; running: apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql');
  await run('apt-get', ['update']);
  await run('env', ['DEBIAN_FRONTEND=noninteractive', 'apt-get', 'install', '-y', '--no-install-recommends', 'postgresql']);
  const bin = findPgBin();
  if (!bin) throw InfraError('postgres: apt-get installed postgresql but no /usr/lib/postgresql/*/bin/initdb appeared');
  io.say(`postgres: installed in ${seconds(started)} (${bin})`);
  return bin;
}

/** PostgreSQL refuses to run as root: as root, run its tools as the `postgres` user. */
const asPg = (cmd: string, args: string[]): [string, string[]] => (isRoot() ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args]);

/**
 * The cluster's folder. As root it must be reachable by the `postgres` user; when the cache
 * sits under a folder that user cannot enter (say /root), a stable folder in /var/tmp is used.
 */
async function clusterHome(dir: string, io: InfraIo, create: boolean): Promise<string> {
  const home = join(dir, 'postgres');
  if (!isRoot()) {
    if (create) mkdirSync(home, { recursive: true });
    return home;
  }
  const candidates = [home, join('/var/tmp', `orderflow-infra-${createHash('sha1').update(dir).digest('hex').slice(0, 10)}`, 'postgres')];
  for (const [i, candidate] of candidates.entries()) {
    if (create) {
      mkdirSync(candidate, { recursive: true });
      await run('chown', ['postgres:postgres', candidate]);
    } else if (!existsSync(candidate)) continue;
    if ((await exitCode(...asPg('test', ['-w', candidate, '-a', '-x', candidate]))) === 0) {
      if (i > 0 && create) io.say(`postgres: user postgres cannot enter ${home}; using ${candidate}`);
      return candidate;
    }
  }
  if (!create) return home;
  throw InfraError(`postgres: user postgres can write neither ${candidates.join(' nor ')}`);
}

function paths(home: string) {
  return { home, data: join(home, 'data'), socketDir: join(home, 'run'), logFile: join(home, 'postgres.log'), conf: join(home, 'data', 'orderflow.conf') };
}

function configuredPort(conf: string): number | undefined {
  try {
    const m = /^port = (\d+)/m.exec(readFileSync(conf, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** True when a PostgreSQL server on `port` lets user postgres in and answers a query. */
export async function postgresAnswers(port: number, timeoutMs = 3000): Promise<boolean> {
  const client = new pg.Client({ connectionString: databaseUrl(port), connectionTimeoutMillis: timeoutMs });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

async function isRunning(bin: string | undefined, data: string): Promise<boolean> {
  if (!bin || !existsSync(join(data, 'PG_VERSION'))) return false;
  return (await exitCode(...asPg(join(bin, 'pg_ctl'), ['status', '-D', data]))) === 0;
}

function found(io: InfraIo, port: number, owned: boolean): InfraState {
  const env = { DATABASE_URL: databaseUrl(port) };
  io.emit(`DATABASE_URL=${env.DATABASE_URL}`);
  return { running: true, owned, env };
}

async function start(opts: PostgresOptions, io: InfraIo): Promise<InfraState> {
  const bin = await ensureInstalled(io);
  const p = paths(await clusterHome(opts.dir, io, true));
  if (await isRunning(bin, p.data)) {
    const port = configuredPort(p.conf) ?? opts.port;
    io.say(`postgres: already running (${p.data}) on port ${port}${port === opts.port ? '' : `, not ${opts.port}; stop it first to move it`}`);
    return found(io, port, true);
  }
  if (await portOpen(opts.port)) {
    if (await postgresAnswers(opts.port)) {
      io.say(`postgres: a server not started by this command already answers on 127.0.0.1:${opts.port}; using it`);
      return found(io, opts.port, false);
    }
    throw InfraError(`postgres: port ${opts.port} is taken by something that does not let user postgres in; set ORDERFLOW_PG_PORT`);
  }

  if (!existsSync(join(p.data, 'PG_VERSION'))) {
    const started = Date.now();
    const [cmd, args] = asPg(join(bin, 'initdb'), ['-D', p.data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-locale', '--no-instructions']);
    await run(cmd, args, { capture: true });
    appendFileSync(join(p.data, 'postgresql.conf'), `\ninclude_if_exists = 'orderflow.conf'\n`);
    io.say(`postgres: cluster created in ${p.data} in ${seconds(started)}`);
  }
  mkdirSync(p.socketDir, { recursive: true });
  // A unix socket path must fit in about 107 bytes.
  const socketDir = p.socketDir.length <= 90 ? p.socketDir : '/tmp';
  const statementStats = existsSync(join(bin, '..', 'lib', 'pg_stat_statements.so'));
  writeFileSync(p.conf, postgresSettings({ port: opts.port, socketDir, statementStats, walLevel: opts.walLevel }));
  if (isRoot()) await run('chown', ['-R', 'postgres:postgres', p.socketDir, p.conf]);

  const started = Date.now();
  const [cmd, args] = asPg(join(bin, 'pg_ctl'), ['start', '-D', p.data, '-l', p.logFile, '-w', '-t', '60', '-s']);
  try {
    await run(cmd, args, { capture: true });
  } catch (err) {
    throw InfraError(`postgres: pg_ctl start failed; last lines of ${p.logFile}:\n${tail(p.logFile)}`, { cause: err });
  }
  if (!(await postgresAnswers(opts.port))) throw InfraError(`postgres: started but does not answer on 127.0.0.1:${opts.port}; see ${p.logFile}`);
  io.say(`postgres: ready on 127.0.0.1:${opts.port} in ${seconds(started)} (data ${p.data}, log ${p.logFile})`);
  return found(io, opts.port, true);
}

async function stop(opts: PostgresOptions, io: InfraIo): Promise<InfraState> {
  const bin = findPgBin();
  const p = paths(await clusterHome(opts.dir, io, false));
  if (!bin || !(await isRunning(bin, p.data))) {
    io.say('postgres: not running (no live cluster started by this command)');
    return { running: false, owned: false, env: {} };
  }
  const started = Date.now();
  const [cmd, args] = asPg(join(bin, 'pg_ctl'), ['stop', '-D', p.data, '-m', 'fast', '-w', '-t', '60', '-s']);
  await run(cmd, args, { capture: true });
  io.say(`postgres: stopped in ${seconds(started)}`);
  return { running: false, owned: true, env: {} };
}

async function status(opts: PostgresOptions, io: InfraIo): Promise<InfraState> {
  const p = paths(await clusterHome(opts.dir, io, false));
  if (await isRunning(findPgBin(), p.data)) {
    const port = configuredPort(p.conf) ?? opts.port;
    io.say(`postgres: running, 127.0.0.1:${port}, data ${p.data}`);
    return found(io, port, true);
  }
  if (await postgresAnswers(opts.port)) {
    io.say(`postgres: a server not started by this command answers on 127.0.0.1:${opts.port}`);
    return found(io, opts.port, false);
  }
  io.say('postgres: stopped');
  return { running: false, owned: false, env: {} };
}

/** Starts, stops or reports the local cluster; settings go to `io.emit` as `DATABASE_URL=...`. */
export async function postgresInfra(action: 'start' | 'stop' | 'status', opts: PostgresOptions): Promise<InfraState> {
  const io = opts.io ?? stdIo;
  if (action === 'start') return start(opts, io);
  if (action === 'stop') return stop(opts, io);
  return status(opts, io);
}
