/**
 * The compose file's Prometheus and Grafana checked through their own mounts: what the
 * container would read is looked up on the host, so a path that would mount fine but hold
 * the wrong thing (no rule file under the rules glob, a dashboards folder the provider does
 * not point at, a data source the dashboards cannot pick) is caught here, not on a user's
 * first `up`.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { parse } from 'yaml';
import { defaultGatewayMetricsPort, defaultPorts, serviceNames, type ServiceName } from '#runtime/system.ts';
import { bindMountsOf, hostPathOf, isRecord, type BindMount, type ComposeProblem, type ComposeService } from './model.ts';

/** The job the alert rules and the dashboards select (job="orderflow"). */
export const SCRAPE_JOB = 'orderflow';
const PROMETHEUS_CONFIG = '/etc/prometheus/prometheus.yml';
const GRAFANA_DATASOURCES = '/etc/grafana/provisioning/datasources';
const GRAFANA_DASHBOARD_PROVIDERS = '/etc/grafana/provisioning/dashboards';

/** Where Prometheus scrapes each service: its port, the gateway's internal metrics port. */
const metricsPort = (service: ServiceName): number => (service === 'gateway' ? defaultGatewayMetricsPort : defaultPorts[service]);

export function observabilityProblems(services: Record<string, ComposeService>, baseDir: string): ComposeProblem[] {
  const problems: ComposeProblem[] = [];
  const problem = (code: string, message: string) => problems.push({ code, message });
  if (services.prometheus) prometheusProblems(services.prometheus, bindMountsOf(services.prometheus, baseDir), problem);
  if (services.grafana) grafanaProblems(services, bindMountsOf(services.grafana, baseDir), problem);
  return problems;
}

/** A file's YAML, or undefined when it is absent (reported by the caller, with what it was for). */
function readYaml(path: string | undefined): Record<string, unknown> | undefined {
  if (!path || !existsSync(path) || !statSync(path).isFile()) return undefined;
  const doc = parse(readFileSync(path, 'utf8')) as unknown;
  return isRecord(doc) ? doc : {};
}

/** The host files a container path names, `*` in its last segment included. */
function filesMatching(hostPath: string): string[] {
  const pattern = basename(hostPath);
  if (!pattern.includes('*')) return existsSync(hostPath) ? [hostPath] : [];
  const dir = dirname(hostPath);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return [];
  const re = new RegExp(`^${pattern.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*')}$`);
  return readdirSync(dir).filter((f) => re.test(f)).map((f) => join(dir, f));
}

function prometheusProblems(prometheus: ComposeService, mounts: BindMount[], problem: (code: string, message: string) => void): void {
  const command = Array.isArray(prometheus.command) ? prometheus.command.map(String) : [];
  const configPath = command.find((a) => a.startsWith('--config.file='))?.slice('--config.file='.length) ?? PROMETHEUS_CONFIG;
  const config = readYaml(hostPathOf(mounts, configPath));
  if (!config) {
    problem('DEP_ERR_COMPOSE_SCRAPE', `prometheus reads ${configPath}, which no bind mount of it provides from the repository`);
    return;
  }
  const ruleFiles = Array.isArray(config.rule_files) ? config.rule_files.map(String) : [];
  if (ruleFiles.length === 0) problem('DEP_ERR_COMPOSE_RULE_FILES', 'prometheus loads no rule_files: the alert rules of deploy/prometheus/rules would not be evaluated');
  for (const rule of ruleFiles) {
    const host = hostPathOf(mounts, rule);
    if (!host) problem('DEP_ERR_COMPOSE_RULE_FILES', `prometheus's rule_files names ${rule}, which no bind mount of it provides`);
    else if (filesMatching(host).length === 0) problem('DEP_ERR_COMPOSE_RULE_FILES', `prometheus's rule_files names ${rule}, and the mounted ${host} holds no such file`);
  }

  const jobs = Array.isArray(config.scrape_configs) ? config.scrape_configs.filter(isRecord) : [];
  const job = jobs.find((j) => j.job_name === SCRAPE_JOB);
  if (!job) {
    problem('DEP_ERR_COMPOSE_SCRAPE', `prometheus has no scrape job "${SCRAPE_JOB}": the alert rules and dashboards select job="${SCRAPE_JOB}"`);
    return;
  }
  const targets = new Set<string>();
  for (const sd of Array.isArray(job.dns_sd_configs) ? job.dns_sd_configs.filter(isRecord) : []) {
    for (const name of Array.isArray(sd.names) ? sd.names : []) targets.add(`${name}:${sd.port}`);
  }
  for (const sc of Array.isArray(job.static_configs) ? job.static_configs.filter(isRecord) : []) {
    for (const t of Array.isArray(sc.targets) ? sc.targets : []) targets.add(String(t));
  }
  for (const service of serviceNames) {
    const target = `${service}:${metricsPort(service)}`;
    if (!targets.has(target)) problem('DEP_ERR_COMPOSE_SCRAPE', `prometheus's job "${SCRAPE_JOB}" does not scrape ${target} (${service}'s /metrics)`);
  }
}

interface Datasource {
  uid?: string;
  type?: string;
  url?: string;
}

function grafanaProblems(services: Record<string, ComposeService>, mounts: BindMount[], problem: (code: string, message: string) => void): void {
  const yamlFiles = (containerDir: string): Record<string, unknown>[] => {
    const dir = hostPathOf(mounts, containerDir);
    if (!dir || !existsSync(dir) || !statSync(dir).isDirectory()) return [];
    return readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).map((f) => readYaml(join(dir, f)) ?? {});
  };
  const datasources: Datasource[] = yamlFiles(GRAFANA_DATASOURCES).flatMap((d) => (Array.isArray(d.datasources) ? d.datasources.filter(isRecord) : []) as Datasource[]);
  if (datasources.length === 0) problem('DEP_ERR_COMPOSE_GRAFANA', `grafana is given no data source (${GRAFANA_DATASOURCES})`);
  for (const ds of datasources) {
    const host = ds.url ? new URL(ds.url).hostname : undefined;
    if (host && !(host in services)) problem('DEP_ERR_COMPOSE_GRAFANA', `grafana's data source ${ds.uid ?? ds.type} points at ${ds.url}: "${host}" is no service of the file`);
  }

  const providers = yamlFiles(GRAFANA_DASHBOARD_PROVIDERS).flatMap((d) => (Array.isArray(d.providers) ? d.providers.filter(isRecord) : []));
  const dashboards: string[] = [];
  for (const p of providers) {
    const path = isRecord(p.options) && typeof p.options.path === 'string' ? p.options.path : undefined;
    const dir = path ? hostPathOf(mounts, path) : undefined;
    const found = dir && existsSync(dir) && statSync(dir).isDirectory() ? readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => join(dir, f)) : [];
    if (found.length === 0) problem('DEP_ERR_COMPOSE_GRAFANA', `grafana's dashboard provider ${String(p.name)} reads ${path}, where no bind mount puts a dashboard`);
    dashboards.push(...found);
  }
  if (providers.length === 0) problem('DEP_ERR_COMPOSE_GRAFANA', `grafana is given no dashboard provider (${GRAFANA_DASHBOARD_PROVIDERS})`);

  for (const file of dashboards) {
    const dashboard = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    for (const why of unresolvedDatasources(dashboard, datasources)) problem('DEP_ERR_COMPOSE_GRAFANA', `dashboard ${basename(file)}: ${why}`);
  }
}

/** Every data source reference of a dashboard that no provisioned data source answers. */
function unresolvedDatasources(dashboard: Record<string, unknown>, datasources: Datasource[]): string[] {
  const templating = isRecord(dashboard.templating) && Array.isArray(dashboard.templating.list) ? dashboard.templating.list.filter(isRecord) : [];
  const variables = new Map(templating.filter((v) => v.type === 'datasource').map((v) => [String(v.name), String(v.query)]));
  const types = new Set(datasources.map((d) => d.type));
  const uids = new Set(datasources.map((d) => d.uid));
  const refs = new Set<string>();
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    if (!isRecord(node)) return;
    for (const [key, value] of Object.entries(node)) {
      if (key === 'datasource' && isRecord(value)) refs.add(JSON.stringify([value.type, value.uid]));
      else walk(value);
    }
  };
  walk(dashboard.panels);
  const problems: string[] = [];
  for (const v of variables.values()) if (!types.has(v)) problems.push(`its data source variable wants a ${v} data source; there is none`);
  for (const ref of refs) {
    const [type, uid] = JSON.parse(ref) as [string | undefined, string | undefined];
    const variable = /^\$\{?(\w+)\}?$/.exec(uid ?? '')?.[1];
    if (variable) {
      if (!variables.has(variable)) problems.push(`a panel's data source is the variable ${uid}, which the dashboard does not define`);
      else if (type && variables.get(variable) !== type) problems.push(`a panel wants a ${type} data source from ${uid}, which lists ${variables.get(variable)} ones`);
    } else if (!uids.has(uid) && type !== 'grafana') {
      problems.push(`a panel's data source is uid ${uid}, which is not provisioned`);
    }
  }
  return problems;
}
