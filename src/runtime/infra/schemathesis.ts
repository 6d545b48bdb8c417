/**
 * Schemathesis, the OpenAPI fuzzer the tests point at the public API (test/support/schemathesis.ts):
 * a Python virtual environment of its own under `<dir>/schemathesis/venv`, filled by pip from
 * PyPI with a pinned set of packages, installed once and kept while that set stays the same.
 * Nothing runs in the background: `install` and `status` only.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { emitAll, InfraError, run, seconds, stdIo, type InfraIo, type InfraState } from './processes.ts';

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

const MIN_PYTHON = [3, 11] as const;

export type SchemathesisOptions = Readonly<{
  /** Infra cache root; the venv lives in `<dir>/schemathesis/venv`. */
  dir: string;
  /** The interpreter that makes the venv (ORDERFLOW_PYTHON, default python3). */
  python: string;
  io?: InfraIo;
}>;

export function schemathesisPaths(dir: string) {
  const home = join(dir, 'schemathesis');
  const venv = join(home, 'venv');
  return {
    home,
    venv,
    python: join(venv, 'bin', 'python'),
    bin: join(venv, 'bin', 'schemathesis'),
    requirements: join(home, 'requirements.txt'),
    /** Written last, holding the requirements it was installed from: a venv without it is half made. */
    installed: join(home, 'installed.txt'),
  };
}

export function schemathesisRequirements(): string {
  return `${SCHEMATHESIS_REQUIREMENTS.join('\n')}\n`;
}

/** The command when the venv holds exactly the pinned set (its interpreter still there), else undefined. */
export function installedSchemathesis(dir: string): string | undefined {
  const p = schemathesisPaths(dir);
  try {
    if (readFileSync(p.installed, 'utf8') !== schemathesisRequirements()) return undefined;
  } catch {
    return undefined;
  }
  // existsSync follows the venv's symlink to its interpreter: false once that Python is gone.
  return existsSync(p.python) && existsSync(p.bin) ? p.bin : undefined;
}

async function checkPython(python: string): Promise<void> {
  const out = await run(python, ['-c', 'import sys, venv, ensurepip; print("%d.%d" % sys.version_info[:2])'], { capture: true }).catch((cause: unknown) => {
    throw InfraError(`schemathesis: ${python} cannot make a virtual environment (Debian: apt-get install python3 python3-venv; or set ORDERFLOW_PYTHON)`, { cause });
  });
  const [major, minor] = out.trim().split('.').map(Number);
  if (major < MIN_PYTHON[0] || (major === MIN_PYTHON[0] && minor < MIN_PYTHON[1])) {
    throw InfraError(`schemathesis: ${SCHEMATHESIS_VERSION} needs Python ${MIN_PYTHON.join('.')} or newer, ${python} is ${out.trim()}; set ORDERFLOW_PYTHON`);
  }
}

const settings = (bin: string): Record<string, string> => ({ SCHEMATHESIS: bin });

async function install(opts: SchemathesisOptions, io: InfraIo): Promise<InfraState> {
  const p = schemathesisPaths(opts.dir);
  const ready = installedSchemathesis(opts.dir);
  if (ready !== undefined) {
    io.say(`schemathesis: ${SCHEMATHESIS_VERSION} already installed in ${p.venv}`);
    emitAll(io, settings(ready));
    return { running: true, owned: true, env: settings(ready) };
  }
  await checkPython(opts.python);
  const started = Date.now();
  io.say(`schemathesis: installing ${SCHEMATHESIS_VERSION} from PyPI into ${p.venv}`);
  // A venv is not relocatable (its scripts name their interpreter by absolute path), so it is
  // made in place; the marker, written last, is what says it is whole.
  rmSync(p.installed, { force: true });
  rmSync(p.venv, { recursive: true, force: true });
  mkdirSync(p.home, { recursive: true });
  writeFileSync(p.requirements, schemathesisRequirements());
  await run(opts.python, ['-m', 'venv', p.venv], { capture: true });
  await run(p.python, ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '-q', '-r', p.requirements], { cwd: p.home, capture: true });
  const version = await run(p.bin, ['--version'], { capture: true });
  if (!version.includes(SCHEMATHESIS_VERSION)) throw InfraError(`schemathesis: the venv reports "${version.trim()}", not ${SCHEMATHESIS_VERSION}`);
  writeFileSync(p.installed, schemathesisRequirements());
  io.say(`schemathesis: installed in ${seconds(started)}`);
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
