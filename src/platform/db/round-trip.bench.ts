/**
 * What a round trip to PostgreSQL costs on this machine, client and server CPU apart: the
 * same one-row transaction sent as three statements (BEGIN; a prepared INSERT; COMMIT, the
 * way the pg adapter runs a transaction) and as one (the three in one simple-protocol
 * query). Issue 7's profiles put pg's socket writes at 20–31 % of the services' CPU; this
 * says how much of a transaction's cost is its round trips rather than its work.
 *
 *   DATABASE_URL=postgres://… node src/platform/db/round-trip.bench.ts [transactions]
 */
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { dropPostgresDatabase, openPostgres } from './postgres.ts';

const url = process.env.DATABASE_URL;
if (!url) throw new Error('set DATABASE_URL');
const n = Number(process.argv[2] ?? 5000);
const database = `rtt_bench_${Date.now().toString(36)}`;
const created = await openPostgres({ url, database, poolSize: 1 });
await created.execute('CREATE TABLE t (id BIGINT PRIMARY KEY, v TEXT NOT NULL)');
await created.close();

const u = new URL(url);
u.pathname = `/${database}`;
const client = new pg.Client({ connectionString: u.toString() });
await client.connect();
const backend = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;

const ticks = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime, in clock ticks (1/100 s)
};

async function measure(label: string, run: (i: number) => Promise<void>, from: number) {
  for (let i = 0; i < 200; i++) await run(from + n + i); // warm-up, other ids
  const cpu0 = process.cpuUsage();
  const pg0 = ticks(backend);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await run(from + i);
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const pgMs = (ticks(backend) - pg0) * 10;
  const per = (ms: number) => ((ms * 1000) / n).toFixed(0);
  console.log(`| ${label} | ${per(wall)} | ${per((cpu.user + cpu.system) / 1000)} | ${per(pgMs)} |`);
}

console.log(`${n} one-row transactions, one connection, PostgreSQL on the same box`);
console.log('| transaction sent as | wall µs | client CPU µs | server CPU µs |');
console.log('|---|---:|---:|---:|');
await measure('BEGIN; INSERT (prepared); COMMIT: 3 round trips', async (i) => {
  await client.query('BEGIN');
  await client.query({ name: 'ins', text: 'INSERT INTO t (id, v) VALUES ($1, $2)', values: [i, 'x'] });
  await client.query('COMMIT');
}, 0);
await measure('the same in one query: 1 round trip', async (i) => {
  await client.query(`BEGIN; INSERT INTO t (id, v) VALUES (${i}, 'x'); COMMIT`);
}, 1_000_000);
await client.end();
await dropPostgresDatabase(url, database);
