/**
 * The Kafka broker and the PostgreSQL server a run talks to, as processes of this machine,
 * for their CPU. The box may run other brokers and clusters (another checkout's, a CDC
 * setup's), so each is found by what the run connects to, not by its command line alone:
 * the broker is the kafka.Kafka process that listens on the first broker's port; the
 * PostgreSQL server is the parent of a backend the lab opens (SELECT pg_backend_pid());
 * the Kafka Connect worker (the Debezium relay) is the one listening on CONNECT_URL's port;
 * Zipkin (lab --tracing), the Java process of a zipkin jar listening on ZIPKIN_URL's port.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import pg from 'pg';
import type { Watched } from './sampler.ts';

export async function infraProcesses(want: { kafkaBrokers?: string; postgresUrl?: string; connectUrl?: string; zipkinUrl?: string }): Promise<Watched[]> {
  const out: Watched[] = [];
  if (want.kafkaBrokers) {
    const kafka = kafkaBroker(want.kafkaBrokers);
    if (kafka !== undefined) out.push({ name: 'kafka', pids: () => [kafka] });
  }
  if (want.postgresUrl) {
    const postmaster = await postmasterOf(want.postgresUrl);
    if (postmaster !== undefined) out.push({ name: 'postgres', pids: () => [postmaster, ...childrenOf(postmaster)], reapsChildren: true });
  }
  if (want.connectUrl) {
    const connect = listeningJvm(portOf(want.connectUrl), (a) => a.startsWith('org.apache.kafka.connect.cli.'));
    if (connect !== undefined) out.push({ name: 'connect', pids: () => [connect] });
  }
  if (want.zipkinUrl) {
    const zipkin = zipkinServer(want.zipkinUrl);
    if (zipkin !== undefined) out.push({ name: 'zipkin', pids: () => [zipkin] });
  }
  return out;
}

/** The Zipkin server at `url` (its base URL): a Java process run from a zipkin jar, listening on the URL's port. */
export function zipkinServer(url: string): number | undefined {
  return listeningJvm(portOf(url), (a) => /zipkin[^/]*\.jar$/i.test(a));
}

/** The port of an http(s) URL, its scheme's default when it names none. */
function portOf(url: string): number {
  const u = new URL(url);
  return Number(u.port || (u.protocol === 'https:' ? 443 : 80));
}

/** The kafka.Kafka process listening on the port of the first of `brokers` (host:port,…). */
export function kafkaBroker(brokers: string): number | undefined {
  return listeningJvm(Number(brokers.split(',')[0].trim().split(':').at(-1)), (a) => a.startsWith('kafka.Kafka'));
}

/** The process with an argument that `isOurs` (its main class, its jar) and that listens on `port`. */
function listeningJvm(port: number, isOurs: (arg: string) => boolean): number | undefined {
  const inodes = listeningInodes(port);
  const candidates = pids().filter((pid) => cmdline(pid).some(isOurs));
  return candidates.find((pid) => ownsSocket(pid, inodes));
}

/** The postmaster of the server at `url`: the parent of a backend of ours. */
export async function postmasterOf(url: string): Promise<number | undefined> {
  const client = new pg.Client({ connectionString: url, application_name: 'orderflow-lab', connectionTimeoutMillis: 5000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const backend = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;
    return parentOf(backend);
  } catch {
    return undefined; // a server elsewhere: nothing of this machine to measure
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The parent pid, field 4 of /proc/<pid>/stat (counted after the command name, which may hold spaces). */
export function parentFromStat(stat: string): number | undefined {
  const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  return Number.isInteger(ppid) && ppid > 0 ? ppid : undefined;
}

function parentOf(pid: number): number | undefined {
  try {
    return parentFromStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Socket inodes listening on `port` (IPv4 and IPv6); state 0A is LISTEN. */
function listeningInodes(port: number): Set<string> {
  const out = new Set<string>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== '0A') continue;
      if (parseInt(f[1].split(':').at(-1)!, 16) === port) out.add(f[9]);
    }
  }
  return out;
}

function ownsSocket(pid: number, inodes: Set<string>): boolean {
  if (inodes.size === 0) return false;
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return false;
  }
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m && inodes.has(m[1])) return true;
    } catch {
      // closed meanwhile
    }
  }
  return false;
}

function pids(): number[] {
  try {
    return readdirSync('/proc').map(Number).filter(Number.isInteger);
  } catch {
    return [];
  }
}

function cmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return [];
  }
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}
