/**
 * The Prometheus file_sd target file: `orderflow up` lists its running services there (the
 * /metrics address of each, labelled with its name, the architecture and the deployment),
 * and the local Prometheus (prometheus.ts) scrapes what it lists, picking up every rewrite.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export type TargetGroup = Readonly<{ targets: string[]; labels: Readonly<Record<string, string>> }>;

/**
 * One group per service: `urls` maps a service's name to its base URL (http://127.0.0.1:8081),
 * or its instances' URLs when it runs several (Prometheus tells them apart by their
 * `instance` label, host:port); `labels` go on every group (arch, deployment), `service` on its own.
 */
export function serviceTargets(urls: Readonly<Record<string, string | readonly string[]>>, labels: Readonly<Record<string, string>> = {}): TargetGroup[] {
  return Object.entries(urls).map(([service, url]) => ({ targets: (typeof url === 'string' ? [url] : url).map((u) => new URL(u).host), labels: { ...labels, service } }));
}

/**
 * Writes the target file whole: into a temporary file renamed over it, since Prometheus
 * rereads it on every change and would reject a half-written one.
 */
export function writePrometheusTargets(file: string, groups: readonly TargetGroup[]): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(groups, null, 2)}\n`);
  renameSync(tmp, file);
}

/**
 * Lists nothing: the services are gone on purpose, so Prometheus drops them rather than
 * reporting them down. False when the file could not be written: a stop goes on regardless.
 */
export function clearPrometheusTargets(file: string): boolean {
  try {
    writePrometheusTargets(file, []);
    return true;
  } catch {
    return false;
  }
}
