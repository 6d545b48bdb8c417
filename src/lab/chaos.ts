/**
 * `orderflow chaos`: start the system, drive a steady mixed load, kill random service
 * instances at random moments, then check every invariant through the public API and print
 * the counts. Exits 1 when an order was lost or made twice or an invariant broke.
 */
import { parseArgs } from 'node:util';
import { architectures, type Architecture } from '#platform/config.ts';
import { ConfigError, isOrderflowError } from '#platform/errors.ts';
import { loadRuntimeConfig } from '#runtime/config.ts';
import { infraDir } from '#runtime/infra/config.ts';
import { serviceNames, type ServiceName, type System } from '#runtime/system.ts';
import { defaultVictims } from './chaos-kills.ts';
import { runChaos, type ChaosResult, type ChaosRunOptions } from './chaos-run.ts';

export const USAGE = `usage: orderflow chaos [--kills 30] [--arch events|choreography|rest,...] [--distributed]
       [--rate 30] [--seed 1] [--gap 0.5,2.5] [--services orders,inventory,payments,shipping]
       [--replicas 1] [--tail 2] [--drain 120] [--restart-broker] [--restart-postgres]
       [--infra-down 5] [--kill-leader] [--leader-at 10] [--json] [--verbose]
  Starts the whole system (every service its own process, a throwaway data directory and
  namespace), creates a catalog with scarce products, places orders at a steady rate (10 %
  declined cards, 10 % unserved countries; each with its own Idempotency-Key, retried with it
  while the system answers 5xx or nothing) and kills (SIGKILL) a random running instance of the
  services every --gap seconds, not waiting for the last one to be back. Then it stops the load,
  waits for every accepted order to be CONFIRMED or CANCELLED (the drain, timed) and checks
  every invariant through the public API. Prints the kills, the orders attempted and accepted
  (and the share accepted at the first attempt), lost, duplicated, violations, drain time and
  duration. Exit code 1 on any lost order, duplicate or violation.
  --kills     how many kills (default 30)
  --arch      one architecture, or several separated by commas, each run in turn (default events)
  --distributed  Kafka at KAFKA_BROKERS and PostgreSQL at DATABASE_URL (as up), in a namespace of its own
  --rate      orders per second (default 30)
  --seed      the seed of the orders' mix, the kill moments and victims (default 1)
  --gap       seconds between two kills, uniform between the two (default 0.5,2.5)
  --services  whose instances may be killed (default the four behind the gateway; gateway may be added)
  --replicas  instances of each backend service; with 2 or more a service's last running
              instance is never killed, so every kill has a sibling to fail over to
  --tail      seconds the load goes on after the last kill (default 2)
  --drain     most seconds to wait for the accepted orders once the load stopped (default 120)
  --restart-broker    with --distributed: Kafka is a broker of the run's own (free port, temporary
                      folder), stopped and started again under load after the kills; measured: how
                      long until every order accepted by then is terminal. The shared KAFKA_BROKERS is
                      never restarted.
  --restart-postgres  the same with a PostgreSQL server of the run's own instead of DATABASE_URL
  --infra-down  seconds a restarted server stays stopped (default 5)
  --kill-leader  with --distributed: Kafka is a cluster of three KRaft nodes of the run's own
                (replication factor 3, min.insync.replicas 2); after the kills, once the load has
                run --leader-at seconds (default 10), the leader of the partition of the orders'
                topics that carried the most records is killed (SIGKILL); measured: the seconds
                until an order accepted after the kill through that partition is terminal (the
                recovery), and, the node started again, until it is back in sync on every partition
  --json      the results as JSON on stdout
  --verbose   the services' own log lines on stderr`;

export interface ChaosOptions extends Omit<ChaosRunOptions, 'say' | 'serviceLog' | 'signal' | 'onSystem'> {
  archs: Architecture[];
  json: boolean;
  verbose: boolean;
}

const number = (name: string, raw: string, check: (n: number) => boolean, what: string): number => {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || !check(n)) throw ConfigError(`--${name} must be ${what}; got "${raw}"`);
  return n;
};
const positiveInt = (name: string, raw: string) => number(name, raw, (n) => Number.isInteger(n) && n >= 1, 'a positive integer');

/** The options of a command line; null when it asked for --help. */
export function parseChaosArgs(argv: string[], env?: Record<string, string | undefined>): ChaosOptions | null {
  const { values: v } = parseArgs({
    args: argv,
    strict: true,
    allowNegative: true,
    options: {
      kills: { type: 'string', default: '30' },
      arch: { type: 'string', default: 'events' },
      distributed: { type: 'boolean', default: false },
      rate: { type: 'string', default: '30' },
      seed: { type: 'string', default: '1' },
      gap: { type: 'string', default: '0.5,2.5' },
      services: { type: 'string', default: defaultVictims.join(',') },
      replicas: { type: 'string', default: '1' },
      tail: { type: 'string', default: '2' },
      drain: { type: 'string', default: '120' },
      'restart-broker': { type: 'boolean', default: false },
      'restart-postgres': { type: 'boolean', default: false },
      'infra-down': { type: 'string', default: '5' },
      'kill-leader': { type: 'boolean', default: false },
      'leader-at': { type: 'string', default: '10' },
      json: { type: 'boolean', default: false },
      verbose: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (v.help) return null;
  const archs = v.arch.split(',').map((a) => a.trim());
  for (const a of archs) if (!(architectures as readonly string[]).includes(a)) throw ConfigError(`--arch takes ${architectures.join(', ')}; got "${a}"`);
  const kills = number('kills', v.kills, (n) => Number.isInteger(n) && n >= 0, 'a whole number of kills (0 or more)');
  const gap = v.gap.split(',').map((s) => number('gap', s, (n) => n >= 0, 'one or two non-negative numbers of seconds, e.g. 0.5,2.5'));
  if (gap.length > 2 || gap[gap.length - 1] < gap[0]) throw ConfigError(`--gap takes the shortest and the longest gap in seconds, e.g. 0.5,2.5; got "${v.gap}"`);
  const services = v.services.split(',').map((s) => s.trim());
  for (const s of services) if (!(serviceNames as readonly string[]).includes(s)) throw ConfigError(`--services takes ${serviceNames.join(', ')}; got "${s}"`);
  const replicas = positiveInt('replicas', v.replicas);
  const runtime = loadRuntimeConfig(env);
  const restarts = v['restart-broker'] || v['restart-postgres'];
  if (restarts && !v.distributed) throw ConfigError('--restart-broker and --restart-postgres need --distributed (the embedded deployment has no broker or server to restart)');
  if (v['kill-leader'] && !v.distributed) throw ConfigError('--kill-leader needs --distributed (the embedded deployment has no broker to kill)');
  if (v['kill-leader'] && v['restart-broker']) throw ConfigError('--kill-leader and --restart-broker each bring a Kafka of their own: one at a time');
  return {
    archs: archs as Architecture[],
    kills,
    rate: number('rate', v.rate, (n) => n > 0 && n <= 10_000, 'a positive number of orders per second'),
    seed: number('seed', v.seed, (n) => Number.isInteger(n) && n >= 0 && n < 2 ** 32, 'an integer from 0 to 2^32-1'),
    gap: [gap[0], gap[gap.length - 1]],
    services: services as ServiceName[],
    replicas,
    kafka: v.distributed ? { brokers: runtime.kafkaBrokers } : undefined,
    postgres: v.distributed ? { url: runtime.databaseUrl } : undefined,
    tailSeconds: number('tail', v.tail, (n) => n >= 0, 'a non-negative number of seconds'),
    drainSeconds: number('drain', v.drain, (n) => n > 0, 'a positive number of seconds'),
    infraRestarts: restarts
      ? { broker: v['restart-broker'], postgres: v['restart-postgres'], downSeconds: number('infra-down', v['infra-down'], (n) => n >= 0, 'a non-negative number of seconds'), cacheDir: infraDir(env) }
      : undefined,
    leaderKill: v['kill-leader'] ? { atSeconds: number('leader-at', v['leader-at'], (n) => n >= 0, 'a non-negative number of seconds'), cacheDir: infraDir(env) } : undefined,
    json: v.json,
    verbose: v.verbose,
  };
}

/** Nothing lost, nothing twice, every invariant held (and there was a run to judge); a killed leader's partition flowed again. */
export const passed = (r: ChaosResult): boolean => r.lost.length === 0 && r.duplicated.length === 0 && r.violations.length === 0 && r.leaderKill?.recoverySeconds !== null;

const percent = (x: number | null) => (x === null ? '-' : `${(x * 100).toFixed(1)} %`);
const tally = (xs: Record<string, number>) => Object.entries(xs).sort(([a], [b]) => a.localeCompare(b)).map(([k, n]) => `${k} ${n}`).join(', ');

/** The counts of one run, for a terminal; the first lines of each list that is not empty. */
export function formatChaos(r: ChaosResult): string {
  const byInstance: Record<string, number> = {};
  for (const k of r.kills) byInstance[k.name] = (byInstance[k.name] ?? 0) + 1;
  const sample = (title: string, xs: string[]) => (xs.length === 0 ? [] : [`  ${title}:`, ...xs.slice(0, 10).map((x) => `    ${x}`), ...(xs.length > 10 ? [`    ... ${xs.length - 10} more`] : [])]);
  return [
    `chaos ${r.arch} on the ${r.deployment} deployment (seed ${r.seed}): ${passed(r) ? 'PASSED' : 'FAILED'}`,
    `  kills       ${r.kills.length}${r.kills.length ? ` (${tally(byInstance)})` : ''}`,
    `  orders      attempted ${r.attempted} at ${r.rate}/s over ${r.loadSeconds} s, accepted ${r.accepted + r.acceptedLate}${r.acceptedLate ? ` (${r.acceptedLate} only after the load)` : ''}, not accepted ${r.notAccepted}`,
    `  first try   ${percent(r.firstAttemptShare)} accepted at the first attempt (${r.retries} retried requests${r.retries ? `: ${tally(r.errors)}` : ''})`,
    `  outcomes    ${tally(r.outcomes)}`,
    `  lost        ${r.lost.length}`,
    `  duplicated  ${r.duplicated.length}`,
    `  violations  ${r.violations.length}`,
    ...r.infraRestarts.map((x) => `  ${x.what.padEnd(11)} restarted, back after ${x.downSeconds} s; its backlog of ${x.backlog} orders terminal ${x.backlogSeconds === null ? 'never' : `${x.backlogSeconds} s`} later`),
    ...(r.leaderKill ? [`  leader kill node ${r.leaderKill.leader}, leader of ${r.leaderKill.topic}[${r.leaderKill.partition}]: orders through it flow again ${r.leaderKill.recoverySeconds === null ? 'never' : `${r.leaderKill.recoverySeconds} s`} after the kill; back in sync ${r.leaderKill.rejoinSeconds === null ? 'never' : `${r.leaderKill.rejoinSeconds} s`} after its restart`] : []),
    `  drain       ${r.drainSeconds === null ? 'never (orders still pending)' : `${r.drainSeconds} s`}`,
    `  duration    ${r.durationSeconds} s`,
    ...sample('lost orders', r.lost),
    ...sample('duplicated', r.duplicated),
    ...sample('violations', r.violations),
  ].join('\n');
}

export async function chaosCommand(argv: string[]): Promise<number> {
  let options: ChaosOptions | null;
  try {
    options = parseChaosArgs(argv);
  } catch (err) {
    if (!isOrderflowError(err, ConfigError.code)) throw err;
    process.stderr.write(`orderflow chaos: ${err.message}\n\n${USAGE}\n`);
    return 2;
  }
  if (!options) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  const abort = new AbortController();
  let current: System | undefined;
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    if (++signals > 1) {
      for (const name of serviceNames) current?.kill(name, 'SIGKILL');
      process.stderr.write(`\n${signal} again: killed\n`);
      process.exit(130);
    }
    process.stderr.write(`\n${signal}: no more kills; stopping the load and checking what was placed (Ctrl-C again to kill at once)\n`);
    abort.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const say = (line: string) => void process.stderr.write(`${line}\n`);
  const results: ChaosResult[] = [];
  try {
    for (const arch of options.archs) {
      if (abort.signal.aborted) break;
      const r = await runChaos(arch, { ...options, say, serviceLog: options.verbose ? say : undefined, signal: abort.signal, onSystem: (s) => (current = s) });
      results.push(r);
      if (!options.json) process.stdout.write(`${formatChaos(r)}\n`);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (options.json) process.stdout.write(JSON.stringify(results, null, 2) + '\n');
  return results.every(passed) && !abort.signal.aborted ? 0 : 1;
}
