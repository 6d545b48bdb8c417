/**
 * Python tools from PyPI (Schemathesis, check-jsonschema, kubernetes-validate), each in a
 * virtual environment of its own under `<home>/venv`, filled by pip from a pinned list and
 * kept while that list stays the same. A venv is not relocatable (its scripts name their
 * interpreter by absolute path), so it is made in place; the marker, written last and holding
 * the list it was made from, is what says it is whole.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InfraError, run, seconds, stdIo, type InfraIo } from './processes.ts';

export type PipVenv = Readonly<{
  /** For messages: the tool the venv is for. */
  name: string;
  /** Every package at one version (pip freeze of a fresh install), so every machine runs the same. */
  requirements: readonly string[];
  /** The oldest Python the pinned set runs on. */
  minPython: readonly [number, number];
}>;

export function pipVenvPaths(home: string) {
  const venv = join(home, 'venv');
  return {
    home,
    venv,
    python: join(venv, 'bin', 'python'),
    /** A console script the venv installed. */
    bin: (script: string) => join(venv, 'bin', script),
    requirements: join(home, 'requirements.txt'),
    /** Written last, holding the requirements it was installed from: a venv without it is half made. */
    installed: join(home, 'installed.txt'),
  };
}

const requirementsText = (v: PipVenv) => `${v.requirements.join('\n')}\n`;

/** True when the venv in `home` holds exactly `v`'s pinned set and its interpreter is still there. */
export function pipVenvReady(home: string, v: PipVenv): boolean {
  const p = pipVenvPaths(home);
  try {
    if (readFileSync(p.installed, 'utf8') !== requirementsText(v)) return false;
  } catch {
    return false;
  }
  // existsSync follows the venv's symlink to its interpreter: false once that Python is gone.
  return existsSync(p.python);
}

async function checkPython(python: string, v: PipVenv): Promise<void> {
  const out = await run(python, ['-c', 'import sys, venv, ensurepip; print("%d.%d" % sys.version_info[:2])'], { capture: true }).catch((cause: unknown) => {
    throw InfraError(`${v.name}: ${python} cannot make a virtual environment (Debian: apt-get install python3 python3-venv; or set ORDERFLOW_PYTHON)`, { cause });
  });
  const [major, minor] = out.trim().split('.').map(Number);
  if (major < v.minPython[0] || (major === v.minPython[0] && minor < v.minPython[1])) {
    throw InfraError(`${v.name}: needs Python ${v.minPython.join('.')} or newer, ${python} is ${out.trim()}; set ORDERFLOW_PYTHON`);
  }
}

/** Makes the venv in `home` with `python` unless it is ready; resolves to its paths. */
export async function installPipVenv(home: string, v: PipVenv, python: string, io: InfraIo = stdIo): Promise<ReturnType<typeof pipVenvPaths>> {
  const p = pipVenvPaths(home);
  if (pipVenvReady(home, v)) return p;
  await checkPython(python, v);
  const started = Date.now();
  io.say(`${v.name}: installing from PyPI into ${p.venv}`);
  rmSync(p.installed, { force: true });
  rmSync(p.venv, { recursive: true, force: true });
  mkdirSync(p.home, { recursive: true });
  writeFileSync(p.requirements, requirementsText(v));
  await run(python, ['-m', 'venv', p.venv], { capture: true });
  await run(p.python, ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '-q', '-r', p.requirements], { cwd: p.home, capture: true });
  writeFileSync(p.installed, requirementsText(v));
  io.say(`${v.name}: installed in ${seconds(started)}`);
  return p;
}
