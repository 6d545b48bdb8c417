/**
 * Builds the orderflow image (deploy/Dockerfile, the repository as its context) with podman.
 */
import { fileURLToPath } from 'node:url';
import { podman } from '#runtime/infra/podman.ts';
import { ensureBase } from './base.ts';

const CA_IN_BUILD = '/run/orderflow-build-ca.crt';
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

export interface BuildOptions {
  infraDir: string;
  /** The image FROM: the official Node 24 slim image by default, the local base in CI. */
  base?: string;
  /** localhost/orderflow:<tag>. */
  tag: string;
  /** A CA bundle for the build's npm (loadImageConfig's extraCaCerts): mounted, not copied into a layer. */
  extraCaCerts?: string;
  say?: (line: string) => void;
}

export interface BuiltImage {
  ref: string;
  /** As podman reports it: the image's uncompressed size in bytes. */
  sizeBytes: number;
  buildSeconds: number;
}

export async function buildImage(opts: BuildOptions): Promise<BuiltImage> {
  const ref = `localhost/orderflow:${opts.tag}`;
  const t0 = Date.now();
  opts.say?.(`image: building ${ref}${opts.base ? ` on ${opts.base}` : ''}`);
  await podman(opts.infraDir, [
    'build',
    '-f', 'deploy/Dockerfile',
    // The docker format: the OCI image format has no HEALTHCHECK.
    '--format', 'docker',
    // npm ci reaches the registry from the host's network (no bridge is set up here).
    '--network', 'host',
    // The local base is in local storage only: never try to pull it.
    '--pull=never',
    ...(opts.base ? ['--build-arg', `BASE=${opts.base}`] : []),
    ...(opts.extraCaCerts ? ['--volume', `${opts.extraCaCerts}:${CA_IN_BUILD}:ro`, '--build-arg', `NODE_EXTRA_CA_CERTS=${CA_IN_BUILD}`] : []),
    '-t', ref,
    repoRoot,
  ], { inherit: true });
  const buildSeconds = Math.round((Date.now() - t0) / 100) / 10;
  const sizeBytes = Number((await podman(opts.infraDir, ['image', 'inspect', '--format', '{{.Size}}', ref])).trim());
  return { ref, sizeBytes, buildSeconds };
}

/**
 * What CI and `npm run deploy:check` run: the local base (made once, skipped when podman has
 * it), then the image on it. Resolves with the image built; its ref is ORDERFLOW_IMAGE.
 */
export async function buildOnLocalBase(opts: Omit<BuildOptions, 'base'>): Promise<BuiltImage> {
  const base = await ensureBase({ infraDir: opts.infraDir, say: opts.say });
  return buildImage({ ...opts, base });
}
