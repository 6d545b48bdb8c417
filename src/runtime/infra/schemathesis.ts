/**
 * Schemathesis, the OpenAPI fuzzer the tests point at the public API (test/support/schemathesis.ts):
 * a Python virtual environment of its own under `<dir>/schemathesis/venv`, filled by pip from
 * PyPI with a pinned set of packages, installed once and kept while that set stays the same.
 * Nothing runs in the background: `install` and `status` only.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { installPipVenv, pipVenvPaths, pipVenvReady, type PipVenv } from './pip-venv.ts';
import { emitAll, InfraError, run, stdIo, type InfraIo, type InfraState } from './processes.ts';

export const SCHEMATHESIS_VERSION = '4.32.5';

/**
 * Schemathesis and every package it pulls in, each at one version (pip freeze of a fresh
 * install): a new release of Hypothesis or jsonschema-rs changes what a seed generates, and a
 * fuzz run must replay the same requests on every machine until someone moves the pins.
 * Schemathesis 4.32 needs Python 3.11 or newer.
 */
export const SCHEMATHESIS_REQUIREMENTS: readonly string[] = [
  `schemathesis==${SCHEMATHESIS_VERSION}`,
  'anyio==4.16.0',
  'certifi==2026.10.19.post1',
  'charset-normalizer==3.5.3',
  'click==8.5.1',
  'graphql-core==3.3.2',
  'harfile==0.6.0',
  'hypothesis==6.170.27',
  'hypothesis-graphql==0.13.5',
  'idna==3.20',
  'iniconfig==2.3.1',
  'jsonschema_rs==0.60.3',
  'markdown-it-py==4.3.0',
  'MarkupSafe==3.0.4',
  'mdurl==0.1.2',
  'packaging==26.4',
  'pluggy==1.7.0',
  'Pygments==2.21.0',
  'pyrate-limiter==4.6.0',
  'pytest==9.2.0',
  'PyYAML==6.0.4',
  'requests==2.34.2',
  'rich==15.0.0',
  'sortedcontainers==2.4.0',
  'typing_extensions==4.16.0',
  'urllib3==2.8.0',
  'Werkzeug==3.1.9',
];

const VENV: PipVenv = { name: 'schemathesis', requirements: SCHEMATHESIS_REQUIREMENTS, minPython: [3, 11] };

export type SchemathesisOptions = Readonly<{
  /** Infra cache root; the venv lives in `<dir>/schemathesis/venv`. */
  dir: string;
  /** The interpreter that makes the venv (ORDERFLOW_PYTHON, default python3). */
  python: string;
  io?: InfraIo;
}>;

export function schemathesisPaths(dir: string) {
  const p = pipVenvPaths(join(dir, 'schemathesis'));
  return { ...p, bin: p.bin('schemathesis') };
}

export function schemathesisRequirements(): string {
  return `${SCHEMATHESIS_REQUIREMENTS.join('\n')}\n`;
}

/** The command when the venv holds exactly the pinned set (its interpreter still there), else undefined. */
export function installedSchemathesis(dir: string): string | undefined {
  const p = schemathesisPaths(dir);
  return pipVenvReady(p.home, VENV) && existsSync(p.bin) ? p.bin : undefined;
}

const settings = (bin: string): Record<string, string> => ({ SCHEMATHESIS: bin });

async function install(opts: SchemathesisOptions, io: InfraIo): Promise<InfraState> {
  const p = schemathesisPaths(opts.dir);
  if (installedSchemathesis(opts.dir) !== undefined) {
    io.say(`schemathesis: ${SCHEMATHESIS_VERSION} already installed in ${p.venv}`);
  } else {
    await installPipVenv(p.home, VENV, opts.python, io);
    const version = await run(p.bin, ['--version'], { capture: true });
    if (!version.includes(SCHEMATHESIS_VERSION)) throw InfraError(`schemathesis: the venv reports "${version.trim()}", not ${SCHEMATHESIS_VERSION}`);
  }
  emitAll(io, settings(p.bin));
  return { running: true, owned: true, env: settings(p.bin) };
}

function status(opts: SchemathesisOptions, io: InfraIo): InfraState {
  const bin = installedSchemathesis(opts.dir);
  if (bin === undefined) {
    io.say(`schemathesis: ${SCHEMATHESIS_VERSION} is not installed in ${schemathesisPaths(opts.dir).venv} (orderflow infra schemathesis install)`);
    return { running: false, owned: false, env: {} };
  }
  io.say(`schemathesis: ${SCHEMATHESIS_VERSION} installed, ${bin}`);
  emitAll(io, settings(bin));
  return { running: true, owned: true, env: settings(bin) };
}

/** Installs Schemathesis (once) or says whether it is; the command goes to `io.emit` as `SCHEMATHESIS=...`. */
export async function schemathesisInfra(action: 'install' | 'status', opts: SchemathesisOptions): Promise<InfraState> {
  const io = opts.io ?? stdIo;
  return action === 'install' ? install(opts, io) : status(opts, io);
}
