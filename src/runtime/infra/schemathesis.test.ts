import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isOrderflowError } from '#platform/errors.ts';
import { installedSchemathesis, SCHEMATHESIS_REQUIREMENTS, SCHEMATHESIS_VERSION, schemathesisInfra, schemathesisPaths, schemathesisRequirements } from './schemathesis.ts';

const quiet = { say: () => {}, emit: () => {} };

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'orderflow-schemathesis-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('every package of the fuzzer is pinned to one version, Schemathesis to SCHEMATHESIS_VERSION', () => {
  for (const line of SCHEMATHESIS_REQUIREMENTS) assert.match(line, /^[A-Za-z0-9_.-]+==[0-9][A-Za-z0-9.]*$/);
  const names = SCHEMATHESIS_REQUIREMENTS.map((l) => l.split('==')[0].toLowerCase().replace(/[-_.]+/g, '-'));
  assert.equal(new Set(names).size, names.length, 'a package pinned twice');
  assert.ok(SCHEMATHESIS_REQUIREMENTS.includes(`schemathesis==${SCHEMATHESIS_VERSION}`));
});

test('a venv counts as installed only with the pinned set recorded last and its interpreter still there', (t) => {
  const dir = tempDir(t);
  const p = schemathesisPaths(dir);
  mkdirSync(join(p.venv, 'bin'), { recursive: true });
  writeFileSync(p.python, '');
  writeFileSync(p.bin, '');
  assert.equal(installedSchemathesis(dir), undefined, 'a venv without its marker is half made');
  writeFileSync(p.installed, schemathesisRequirements().replace(SCHEMATHESIS_VERSION, '4.0.0'));
  assert.equal(installedSchemathesis(dir), undefined, 'other pins: installed again');
  writeFileSync(p.installed, schemathesisRequirements());
  assert.equal(installedSchemathesis(dir), p.bin);
  rmSync(p.python);
  assert.equal(installedSchemathesis(dir), undefined, 'the Python it was made with is gone');
});

test('status says not installed (no settings) where nothing was installed', async (t) => {
  const emitted: string[] = [];
  const state = await schemathesisInfra('status', { dir: tempDir(t), python: 'python3', io: { say: () => {}, emit: (l) => void emitted.push(l) } });
  assert.equal(state.running, false);
  assert.deepEqual(emitted, []);
});

test('install refuses, with what to install, a Python that cannot make a venv', async (t) => {
  const dir = tempDir(t);
  await assert.rejects(
    schemathesisInfra('install', { dir, python: join(dir, 'no-python'), io: quiet }),
    (err) => isOrderflowError(err, 'PLT_ERR_INFRA') && /python3-venv/.test(err.message),
  );
  assert.equal(installedSchemathesis(dir), undefined);
});

test('install refuses a Python older than Schemathesis needs, naming ORDERFLOW_PYTHON', async (t) => {
  const dir = tempDir(t);
  // A stand-in interpreter that passes the venv probe and reports 3.9.
  const python = join(dir, 'python3.9');
  writeFileSync(python, '#!/bin/sh\necho 3.9\n', { mode: 0o755 });
  await assert.rejects(
    schemathesisInfra('install', { dir, python, io: quiet }),
    (err) => isOrderflowError(err, 'PLT_ERR_INFRA') && /needs Python 3\.11 or newer, .* is 3\.9; set ORDERFLOW_PYTHON/.test(err.message),
  );
});
