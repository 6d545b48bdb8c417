/**
 * deploy/compose.yaml as the checks read it: the file parsed as Compose parses it (YAML merge
 * keys resolved, `${...}` left as written), and the few shapes Compose allows two ways
 * (a list or a map of environment, depends_on, volumes, ports) brought to one.
 */
import { isAbsolute, join, resolve } from 'node:path';
import { parse } from 'yaml';

/** One thing wrong with a compose file: a stable code and what to fix. */
export interface ComposeProblem {
  code: string;
  message: string;
}

export type ComposeService = Record<string, unknown>;

export interface ComposeFile {
  services?: Record<string, ComposeService>;
  secrets?: Record<string, { file?: string } | undefined>;
  configs?: Record<string, { file?: string } | undefined>;
  [key: string]: unknown;
}

/** Compose files use YAML merge keys (`<<: *anchor`), a YAML 1.1 feature `yaml` leaves off unless asked. */
export const parseCompose = (text: string): ComposeFile => parse(text, { merge: true }) as ComposeFile;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `environment` as a map, from either form (`KEY: value` or `- KEY=value`). */
export function environmentOf(service: ComposeService): Record<string, string> {
  const env = service.environment;
  if (Array.isArray(env)) {
    return Object.fromEntries(env.map((entry) => {
      const [key, ...value] = String(entry).split('=');
      return [key, value.join('=')];
    }));
  }
  if (!isRecord(env)) return {};
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === null || v === undefined ? '' : String(v)]));
}

/** depends_on as service name → condition (the list form means service_started). */
export function dependenciesOf(service: ComposeService): Record<string, string> {
  const deps = service.depends_on;
  if (Array.isArray(deps)) return Object.fromEntries(deps.map((name) => [String(name), 'service_started']));
  if (!isRecord(deps)) return {};
  return Object.fromEntries(Object.entries(deps).map(([name, v]) => [name, isRecord(v) && typeof v.condition === 'string' ? v.condition : 'service_started']));
}

export interface BindMount {
  /** The host path, absolute. */
  source: string;
  /** Where the container sees it. */
  target: string;
}

/** The service's bind mounts (named volumes left out), their relative sources resolved from baseDir as Compose does. */
export function bindMountsOf(service: ComposeService, baseDir: string): BindMount[] {
  const volumes = Array.isArray(service.volumes) ? service.volumes : [];
  const mounts: BindMount[] = [];
  for (const v of volumes) {
    let source: string | undefined;
    let target: string | undefined;
    if (typeof v === 'string') {
      [source, target] = v.split(':');
      // A named volume's source is a name, a bind mount's a path.
      if (target === undefined || !/^[./~]/.test(source)) continue;
    } else if (isRecord(v) && v.type === 'bind' && typeof v.source === 'string' && typeof v.target === 'string') {
      ({ source, target } = v as { source: string; target: string });
    } else {
      continue;
    }
    mounts.push({ source: isAbsolute(source) ? source : resolve(baseDir, source), target });
  }
  return mounts;
}

/** The host path behind a path inside the container, through the service's bind mounts (the deepest one wins); undefined when none covers it. */
export function hostPathOf(mounts: readonly BindMount[], containerPath: string): string | undefined {
  const covering = mounts
    .filter((m) => containerPath === m.target || containerPath.startsWith(`${m.target.replace(/\/$/, '')}/`))
    .sort((a, b) => b.target.length - a.target.length)[0];
  if (!covering) return undefined;
  const rest = containerPath.slice(covering.target.replace(/\/$/, '').length).replace(/^\//, '');
  return rest ? join(covering.source, rest) : covering.source;
}

export interface PublishedPort {
  /** The container's port. */
  target: number;
  /** As written: "127.0.0.1:8080:8080", or the long form's fields. */
  spec: string;
}

/** The ports a service publishes on the host, from either syntax. */
export function publishedPortsOf(service: ComposeService): PublishedPort[] {
  const ports = Array.isArray(service.ports) ? service.ports : [];
  return ports.map((p) => {
    if (isRecord(p)) return { target: Number(p.target), spec: JSON.stringify(p) };
    // [ip:][host[-range]:]container[/protocol]: the container's port is the last field.
    const spec = String(p);
    const container = spec.split('/')[0].split(':').at(-1) ?? '';
    return { target: Number(container.split('-')[0]), spec };
  });
}

export { isRecord };
