/**
 * What the image's commands read from the environment: the only file of deploy/image that does.
 */
import { existsSync } from 'node:fs';
import { infraDir } from '#runtime/infra/config.ts';

const HOST_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

type Env = Record<string, string | undefined>;

export interface ImageConfig {
  /** ORDERFLOW_INFRA_DIR (or .infra): our containers.conf and the base's scratch space. */
  infraDir: string;
  /**
   * A CA bundle the build's npm must trust too (a machine behind a TLS-inspecting proxy, as
   * this one is): NODE_EXTRA_CA_CERTS, else SSL_CERT_FILE, else the host's Debian bundle when it
   * has one, so the build trusts what the host's npm trusts; mounted read-only, never copied.
   */
  extraCaCerts?: string;
}

export function loadImageConfig(env: Env = process.env): Readonly<ImageConfig> {
  return Object.freeze({
    infraDir: infraDir(env as NodeJS.ProcessEnv),
    extraCaCerts: env.NODE_EXTRA_CA_CERTS || env.SSL_CERT_FILE || (existsSync(HOST_BUNDLE) ? HOST_BUNDLE : undefined),
  });
}
