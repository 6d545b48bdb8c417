/**
 * What the image's commands read from the environment: the only file of deploy/image that does.
 */
import { infraDir } from '#runtime/infra/config.ts';

type Env = Record<string, string | undefined>;

export interface ImageConfig {
  /** ORDERFLOW_INFRA_DIR (or .infra): our containers.conf and the base's scratch space. */
  infraDir: string;
  /**
   * NODE_EXTRA_CA_CERTS: a CA bundle the build's npm must trust too (a machine behind a
   * TLS-inspecting proxy, as this one is); mounted read-only into the build, never copied.
   */
  extraCaCerts?: string;
}

export function loadImageConfig(env: Env = process.env): Readonly<ImageConfig> {
  return Object.freeze({
    infraDir: infraDir(env as NodeJS.ProcessEnv),
    extraCaCerts: env.NODE_EXTRA_CA_CERTS || undefined,
  });
}
