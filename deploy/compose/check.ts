/**
 * The checks of deploy/compose.yaml, for `npm run deploy:check`. No Docker engine runs here
 * and nothing can be pulled, so the file is checked, not run:
 * - check-jsonschema against compose-go's compose-spec schema (what Docker Compose itself
 *   validates with): every key and value shape;
 * - then what a schema cannot see: every depends_on names a service (and one waited for as
 *   healthy has a healthcheck), every orderflow service is here with its port and a
 *   healthcheck on /health/ready, the backends run two replicas without a shared static
 *   group member id, the users service has its signing key, each service's own config
 *   accepts its environment and reads every name set (settings.ts), every bind-mounted file
 *   is in the repository, only the gateway, Grafana, Zipkin and Prometheus publish ports, and
 *   Prometheus and Grafana find what they are given (observability.ts).
 * Every problem found is reported, each with its code, in one DEP_ERR_COMPOSE_INVALID.
 *
 *   npm run deploy:check -- --only compose   (deploy/check.ts)
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { defineError } from '#platform/errors.ts';
import { defaultGatewayMetricsPort, defaultPorts, serviceNames } from '#runtime/system.ts';
import type { DeployTools } from '#runtime/infra/deploy-tools.ts';
import { bindMountsOf, dependenciesOf, environmentOf, isRecord, parseCompose, publishedPortsOf, type ComposeFile, type ComposeProblem } from './model.ts';

export type { ComposeProblem };
import { observabilityProblems } from './observability.ts';
import { settingsProblems } from './settings.ts';

export const ComposeInvalid = defineError('DEP_ERR_COMPOSE_INVALID', 500);

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
export const composeFile = resolve(repoRoot, 'deploy/compose.yaml');

/** The only ports on the host: the public API, and the observability UIs. */
export const publishedPorts: Readonly<Record<string, number>> = Object.freeze({ gateway: 8080, grafana: 3000, zipkin: 9411, prometheus: 9090 });
/** Replicas of each backend service (every orderflow service but the gateway). */
export const BACKEND_REPLICAS = 2;

const run = promisify(execFile);

/** check-jsonschema's verdict on the file: no problem, or one with its report. */
export async function schemaProblems(tools: Pick<DeployTools, 'checkJsonschema' | 'composeSchema'>, file: string): Promise<ComposeProblem[]> {
  try {
    await run(tools.checkJsonschema, ['--schemafile', tools.composeSchema, file]);
    return [];
  } catch (err) {
    const { stdout, stderr, code } = err as { stdout?: string; stderr?: string; code?: number | string };
    if (typeof code !== 'number') throw ComposeInvalid(`check-jsonschema could not run (${tools.checkJsonschema}): ${(err as Error).message}`, { cause: err });
    return [{ code: 'DEP_ERR_COMPOSE_SCHEMA', message: `the compose-spec schema refuses ${file}:\n${`${stdout ?? ''}${stderr ?? ''}`.trim()}` }];
  }
}

/** What a schema cannot check. `baseDir`: where the file's relative paths resolve (its own directory, as Compose does). */
export function composeProblems(doc: ComposeFile, baseDir: string): ComposeProblem[] {
  const problems: ComposeProblem[] = [];
  const problem = (code: string, message: string) => problems.push({ code: `DEP_ERR_COMPOSE_${code}`, message });
  const services = isRecord(doc.services) ? doc.services : {};
  const names = Object.keys(services);

  for (const [name, service] of Object.entries(services)) {
    for (const [dep, condition] of Object.entries(dependenciesOf(service))) {
      if (!(dep in services)) problem('DEPENDS_ON', `${name} depends on "${dep}", which is no service of the file (${names.join(', ')})`);
      else if (condition === 'service_healthy' && !hasHealthcheck(services[dep])) problem('DEPENDS_ON', `${name} waits for ${dep} to be healthy, but ${dep} has no healthcheck: it never will be`);
    }
    if (!hasHealthcheck(service)) problem('HEALTHCHECK', `${name} has no healthcheck`);
    for (const port of publishedPortsOf(service)) {
      if (publishedPorts[name] !== port.target) problem('PORTS', `${name} publishes ${port.spec} on the host: only ${Object.entries(publishedPorts).map(([s, p]) => `${s} ${p}`).join(', ')} may be`);
    }
    for (const mount of bindMountsOf(service, baseDir)) {
      if (!existsSync(mount.source)) problem('MOUNT', `${name} mounts ${relative(repoRoot, mount.source)} at ${mount.target}, and there is no such file or directory`);
    }
  }
  for (const [name, published] of Object.entries(publishedPorts)) {
    if (name in services && !publishedPortsOf(services[name]).some((p) => p.target === published)) problem('PORTS', `${name} must publish its port ${published} on the host`);
  }
  // A secret's file is the user's to make (docs/deploy.md); a config's must be in the repository.
  for (const [name, entry] of Object.entries(isRecord(doc.configs) ? doc.configs : {})) {
    const file = isRecord(entry) && typeof entry.file === 'string' ? resolve(baseDir, entry.file) : undefined;
    if (file && !existsSync(file)) problem('MOUNT', `config ${name} is the file ${relative(repoRoot, file)}, which does not exist`);
  }

  for (const service of serviceNames) {
    const def = services[service];
    if (!def) {
      problem('SERVICE_MISSING', `the orderflow service ${service} is not in the file`);
      continue;
    }
    const env = environmentOf(def);
    if (env.PORT !== String(defaultPorts[service])) problem('SERVICE_PORT', `${service} must listen on its port ${defaultPorts[service]} (PORT), which the others' *_URL and Prometheus use; it has PORT=${env.PORT ?? '(unset)'}`);
    const test = healthcheckTest(def);
    if (test && !test.includes('/health/ready')) problem('HEALTHCHECK', `${service}'s healthcheck must ask /health/ready: ${test}`);
    const replicas = isRecord(def.deploy) && def.deploy.replicas !== undefined ? Number(def.deploy.replicas) : 1;
    if (service === 'gateway') {
      if (replicas !== 1) problem('REPLICAS', `the gateway runs one replica (its published port is one address); it has ${replicas}`);
      continue;
    }
    if (replicas !== BACKEND_REPLICAS) problem('REPLICAS', `${service} must run ${BACKEND_REPLICAS} replicas (deploy.replicas); it has ${replicas}`);
    if (env.ORDERFLOW_INSTANCE) problem('REPLICAS', `${service} sets ORDERFLOW_INSTANCE: its replicas would share one static group.instance.id and fence each other out of their consumer groups`);
    if (env.ORDERFLOW_REPLICAS !== String(replicas)) problem('REPLICAS', `${service} runs ${replicas} replicas but says ORDERFLOW_REPLICAS=${env.ORDERFLOW_REPLICAS ?? '(unset)'}: a replica that thinks it is alone keeps caches the other's commits make stale`);
  }
  if (services.users) signingKeyProblems(doc, services.users, problem);
  if (services.gateway && environmentOf(services.gateway).GATEWAY_METRICS_PORT !== String(defaultGatewayMetricsPort)) {
    problem('SERVICE_PORT', `the gateway must serve /metrics on GATEWAY_METRICS_PORT=${defaultGatewayMetricsPort}, where Prometheus scrapes it`);
  }
  problems.push(...settingsProblems(services, resolve(repoRoot, 'src')));
  problems.push(...observabilityProblems(services, baseDir));
  return problems;
}

/** On PostgreSQL the users service refuses to start without its key; its replicas must share one. */
function signingKeyProblems(doc: ComposeFile, users: Record<string, unknown>, problem: (code: string, message: string) => void): void {
  const env = environmentOf(users);
  if (env.USERS_SIGNING_KEY) return;
  const file = env.USERS_SIGNING_KEY_FILE;
  if (!file) {
    problem('SIGNING_KEY', 'users has neither USERS_SIGNING_KEY nor USERS_SIGNING_KEY_FILE: on PostgreSQL it will not start');
    return;
  }
  const secret = /^\/run\/secrets\/([^/]+)$/.exec(file)?.[1];
  if (!secret) return;
  const attached = (Array.isArray(users.secrets) ? users.secrets : []).some((s) => s === secret || (isRecord(s) && s.source === secret && s.target === undefined));
  if (!attached) problem('SIGNING_KEY', `users reads its key from ${file}, but the secret ${secret} is not given to it (secrets:)`);
  else if (!isRecord(doc.secrets) || !(secret in doc.secrets)) problem('SIGNING_KEY', `users is given the secret ${secret}, which the file does not define (top-level secrets:)`);
}

function healthcheckTest(service: Record<string, unknown>): string | undefined {
  const hc = service.healthcheck;
  if (!isRecord(hc) || hc.disable === true || hc.test === undefined) return undefined;
  return Array.isArray(hc.test) ? hc.test.join(' ') : String(hc.test);
}

const hasHealthcheck = (service: Record<string, unknown>): boolean => {
  const test = healthcheckTest(service);
  return test !== undefined && test !== 'NONE';
};

export interface ComposeCheckOptions {
  /** deploy/compose.yaml unless told. */
  file?: string;
  /** Where its relative paths resolve: the file's directory unless told (a spoiled copy elsewhere still means the repository's). */
  baseDir?: string;
}

/** Runs every check; resolves to what was checked, or throws DEP_ERR_COMPOSE_INVALID listing every problem (details.problems). */
export async function checkCompose(tools: Pick<DeployTools, 'checkJsonschema' | 'composeSchema'>, opts: ComposeCheckOptions = {}): Promise<{ file: string; services: number }> {
  const file = resolve(opts.file ?? composeFile);
  const doc = parseCompose(readFileSync(file, 'utf8'));
  const problems = [...await schemaProblems(tools, file), ...composeProblems(doc, opts.baseDir ?? dirname(file))];
  if (problems.length > 0) {
    throw ComposeInvalid(`${relative(repoRoot, file)} has ${problems.length} problem(s):\n${problems.map((p) => `- [${p.code}] ${p.message}`).join('\n')}`, { details: { problems } });
  }
  return { file, services: Object.keys(doc.services ?? {}).length };
}
