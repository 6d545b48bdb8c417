/**
 * Health probes every service answers:
 * - GET /health/live: 200 {"status":"ok"} while the process serves HTTP at all; it checks no
 *   dependency, so a database or broker outage never gets a healthy process restarted;
 * - GET /health/ready (and GET /health, as before): runs the service's named checks at
 *   once, each bounded by `timeoutMs`; 200 {"status":"ok","checks":{"database":"ok",…}}
 *   when all pass, else 503 {"status":"unavailable","checks":{"bus":"down: <why>",…}};
 *   503 {"status":"draining"} once the instance shuts down (drain.ts), whatever the checks.
 *   Ready means the process can serve its HTTP routes: it is what a balancer (the gateway,
 *   a Kubernetes Service) routes by and what the supervisor waits for after a restart;
 * - GET /health/consumers: the same, with the `consumerChecks`: 200 once every consumer is a
 *   member of its group (owning partitions, or standing by to take them over). A restarted
 *   instance is ready, and serves, while its consumers rejoin: that can take seconds on
 *   Kafka, and its routes do not need them. A service without consumers answers 200.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';

/** Resolves when the dependency is fine; rejects with why it is not. */
export type HealthCheck = () => Promise<void>;

export interface HealthOptions {
  /** Added to the answers so a person reading one knows which service spoke. */
  service?: string;
  checks?: Record<string, HealthCheck>;
  /** Each check's bound; default 2 s. */
  timeoutMs?: number;
  /** Served on /health/consumers, not part of readiness: are the consumers members of their groups? */
  consumerChecks?: Record<string, HealthCheck>;
  /** Where the readiness answer is served; default /health/ready and /health. */
  readyPaths?: string[];
  /** True once the instance drains before its shutdown (drain.ts): not ready, whatever the checks. */
  draining?: () => boolean;
}

export const healthPaths = ['/health', '/health/live', '/health/ready', '/health/consumers'] as const;

export function installHealthRoutes(app: FastifyInstance, opts: HealthOptions = {}): void {
  const timeoutMs = opts.timeoutMs ?? 2_000;
  const named = Object.entries(opts.checks ?? {});
  const service = opts.service === undefined ? {} : { service: opts.service };

  app.get('/health/live', async () => ({ status: 'ok', ...service }));

  const answer = (named: Array<[string, HealthCheck]>) => async (_req: unknown, reply: FastifyReply) => {
    if (opts.draining?.()) return reply.code(503).send({ status: 'draining', ...service });
    const results = await Promise.all(named.map(([name, check]) => bounded(check, timeoutMs, name)));
    const checks = Object.fromEntries(named.map(([name], i) => [name, results[i]]));
    const ok = results.every((r) => r === 'ok');
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ok' : 'unavailable', ...service, checks });
  };
  const ready = answer(named);
  for (const path of opts.readyPaths ?? ['/health/ready', '/health']) app.get(path, ready);
  if (opts.consumerChecks) app.get('/health/consumers', answer(Object.entries(opts.consumerChecks)));
}

async function bounded(check: HealthCheck, timeoutMs: number, name: string): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${name} did not answer within ${timeoutMs} ms`)), timeoutMs))),
    ]);
    return 'ok';
  } catch (err) {
    return `down: ${err instanceof Error ? err.message : String(err)}`;
  } finally {
    clearTimeout(timer);
  }
}
