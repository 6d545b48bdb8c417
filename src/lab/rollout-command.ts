/**
 * `orderflow lab rollout`: the command line of rollout-lab.ts. Exit 1 when a request failed,
 * an order was lost or made twice, or an invariant broke.
 */
import { parseArgs } from 'node:util';
import { architectures, type Architecture } from '#platform/config.ts';
import { ConfigError } from '#platform/errors.ts';
import { loadRuntimeConfig } from '#runtime/config.ts';
import { formatRolloutLab, rolloutPassed, runRolloutLab } from './rollout-lab.ts';

export const USAGE = `usage: orderflow lab rollout [--arch events] [--distributed] [--rate 40] [--warmup 10] [--before 10]
       [--after 5] [--replicas 2] [--services orders,...] [--drain 120] [--json] [--verbose]
  Starts the system with --replicas instances of each backend service (a throwaway data
  directory and namespace), loads it at --rate requests a second (half orders, each with its
  Idempotency-Key, half reads; never retried), rolls out every instance one by one as
  \`orderflow rollout\` does, then checks every accepted order through the public API. Prints
  the failed requests (must be 0), orders accepted, lost and duplicated, the invariants, the
  latency before, during and after the rollout, and the rollout's duration.
  --arch         events (default), choreography or rest
  --distributed  Kafka at KAFKA_BROKERS and PostgreSQL at DATABASE_URL
  --rate         requests a second (default 40)
  --warmup       seconds of load first, in no latency figure: a fresh system is slower (default 10)
  --before       seconds of load before the rollout, the baseline (default 10)
  --after        seconds of load after it (default 5)
  --replicas     instances of each backend service (default 2; a rollout needs 2 or more)
  --services     only these services' instances are rolled out (default all, the gateway included)
  --drain        most seconds to wait for the accepted orders to be terminal (default 120)
  --json         the result as JSON on stdout
  --verbose      the services' own log lines on stderr`;

const num = (name: string, raw: string, ok: (n: number) => boolean, what: string) => {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || !ok(n)) throw ConfigError(`--${name} must be ${what}; got "${raw}"`);
  return n;
};

export async function labRolloutCommand(argv: string[]): Promise<number> {
  const { values: v } = parseArgs({
    args: argv,
    strict: true,
    allowNegative: true,
    options: {
      arch: { type: 'string', default: 'events' },
      distributed: { type: 'boolean', default: false },
      rate: { type: 'string', default: '40' },
      warmup: { type: 'string', default: '10' },
      before: { type: 'string', default: '10' },
      after: { type: 'string', default: '5' },
      replicas: { type: 'string', default: '2' },
      services: { type: 'string' },
      drain: { type: 'string', default: '120' },
      json: { type: 'boolean', default: false },
      verbose: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (v.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (!(architectures as readonly string[]).includes(v.arch)) throw ConfigError(`--arch takes ${architectures.join(', ')}; got "${v.arch}"`);
  const runtime = loadRuntimeConfig();
  const say = (line: string) => void process.stderr.write(`${line}\n`);
  const r = await runRolloutLab({
    arch: v.arch as Architecture,
    rate: num('rate', v.rate, (n) => n > 0 && n <= 10_000, 'a positive number of requests a second'),
    warmupSeconds: num('warmup', v.warmup, (n) => n >= 0, 'a non-negative number of seconds'),
    beforeSeconds: num('before', v.before, (n) => n >= 0, 'a non-negative number of seconds'),
    afterSeconds: num('after', v.after, (n) => n >= 0, 'a non-negative number of seconds'),
    replicas: num('replicas', v.replicas, (n) => Number.isInteger(n) && n >= 2 && n <= 16, 'a whole number from 2 to 16'),
    services: v.services?.split(',').map((s) => s.trim()).filter(Boolean),
    drainSeconds: num('drain', v.drain, (n) => n > 0, 'a positive number of seconds'),
    kafka: v.distributed ? { brokers: runtime.kafkaBrokers } : undefined,
    postgres: v.distributed ? { url: runtime.databaseUrl } : undefined,
    say,
    serviceLog: v.verbose ? say : undefined,
  });
  process.stdout.write(v.json ? `${JSON.stringify(r, null, 2)}\n` : `${formatRolloutLab(r)}\n`);
  return rolloutPassed(r) ? 0 : 1;
}
