import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import nodemailer from 'nodemailer';
import { isOrderflowError } from '#platform/errors.ts';
import { isLoopback, listeningAddresses } from '#test/sockets.ts';
import { mailpit } from '#test/support/mailpit.ts';
import { loadInfraConfig } from './config.ts';
import { pidAlive, portOpen, readPid, type InfraIo } from './processes.ts';
import { freePorts } from '../supervisor.ts';
import { buildMailpit, installedMailpit, MAILPIT_VERSION, mailpitArgs, mailpitInfra, mailpitPaths } from './mailpit.ts';

function recordingIo() {
  const said: string[] = [];
  const emitted: string[] = [];
  const io: InfraIo = { say: (l) => void said.push(l), emit: (l) => void emitted.push(l) };
  return { io, said, emitted };
}

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'mailpit-infra-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * An infra dir of the test's own, so a developer's Mailpit is never touched, with the binary
 * of the shared cache (built there once: about two minutes the first time) linked in.
 */
async function ownInfraDir(t: TestContext): Promise<string> {
  const bin = await buildMailpit(loadInfraConfig().dir, recordingIo().io);
  const dir = mkdtempSync(join(tmpdir(), 'mailpit-infra-'));
  // One hook, the server stopped before its pid file goes with the directory.
  t.after(async () => {
    await mailpitInfra('stop', { dir, smtpPort: 0, httpPort: 0, io: recordingIo().io });
    rmSync(dir, { recursive: true, force: true });
  });
  const p = mailpitPaths(dir);
  mkdirSync(p.gobin, { recursive: true });
  symlinkSync(bin, p.bin);
  writeFileSync(p.installed, `${MAILPIT_VERSION}\n`);
  return dir;
}

test('Mailpit binds SMTP and HTTP on 127.0.0.1, keeps its mailbox in the infra dir and takes any SMTP login', () => {
  const args = mailpitArgs({ smtpPort: 11025, httpPort: 18025, database: '/c/mailpit/data/mailpit.db' });
  for (const a of ['--smtp=127.0.0.1:11025', '--listen=127.0.0.1:18025', '--database=/c/mailpit/data/mailpit.db', '--smtp-auth-accept-any', '--smtp-auth-allow-insecure', '--disable-version-check']) {
    assert.ok(args.includes(a), `${a} in ${args.join(' ')}`);
  }
  assert.equal(mailpitPaths('/c').bin, '/c/mailpit/bin/mailpit');
  assert.equal(mailpitPaths('/c').database, '/c/mailpit/data/mailpit.db');
  const defaults = loadInfraConfig({});
  assert.deepEqual([defaults.mailpitSmtpPort, defaults.mailpitHttpPort], [1025, 8025]);
  const set = loadInfraConfig({ ORDERFLOW_MAILPIT_SMTP_PORT: '11025', ORDERFLOW_MAILPIT_HTTP_PORT: '18025' });
  assert.deepEqual([set.mailpitSmtpPort, set.mailpitHttpPort], [11025, 18025]);
  assert.throws(() => loadInfraConfig({ ORDERFLOW_MAILPIT_SMTP_PORT: 'smtp' }), (err) => isOrderflowError(err, 'PLT_ERR_CONFIG'));
  assert.throws(() => loadInfraConfig({ ORDERFLOW_MAILPIT_HTTP_PORT: '70000' }), (err) => isOrderflowError(err, 'PLT_ERR_CONFIG'));
});

test('a build counts only when its marker names the pinned version and the binary is there', (t) => {
  const dir = tempDir(t);
  const p = mailpitPaths(dir);
  assert.equal(installedMailpit(dir), undefined);
  mkdirSync(p.gobin, { recursive: true });
  writeFileSync(p.bin, '');
  assert.equal(installedMailpit(dir), undefined, 'a binary without the marker is half made');
  writeFileSync(p.installed, 'v1.0.0\n');
  assert.equal(installedMailpit(dir), undefined, 'another version is rebuilt');
  writeFileSync(p.installed, `${MAILPIT_VERSION}\n`);
  assert.equal(installedMailpit(dir), p.bin);
  rmSync(p.bin);
  assert.equal(installedMailpit(dir), undefined);
});

test('mailpit start refuses a port taken by something that is not Mailpit, and one port for both', async (t) => {
  const server = createServer((_req, res) => res.end('hello')).listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const { port } = server.address() as { port: number };
  const dir = tempDir(t);
  const [free] = await freePorts(1);
  const { io } = recordingIo();
  await assert.rejects(mailpitInfra('start', { dir, smtpPort: free, httpPort: port, io }), (err) => isOrderflowError(err, 'PLT_ERR_INFRA') && /not Mailpit; set ORDERFLOW_MAILPIT_HTTP_PORT/.test(err.message));
  await assert.rejects(mailpitInfra('start', { dir, smtpPort: port, httpPort: free, io }), (err) => isOrderflowError(err, 'PLT_ERR_INFRA') && /SMTP port \d+ is taken; set ORDERFLOW_MAILPIT_SMTP_PORT/.test(err.message));
  await assert.rejects(mailpitInfra('start', { dir, smtpPort: free, httpPort: free, io }), (err) => isOrderflowError(err, 'PLT_ERR_INFRA') && /both/.test(err.message));
  assert.equal(installedMailpit(dir), undefined, 'nothing was built for a start that could not run');
});

test('status of a Mailpit never built says so', async (t) => {
  const { io, said } = recordingIo();
  const dir = tempDir(t);
  const [smtpPort, httpPort] = await freePorts(2);
  const state = await mailpitInfra('status', { dir, smtpPort, httpPort, io });
  assert.deepEqual(state, { running: false, owned: false, env: {} });
  assert.match(said.at(-1)!, /stopped \(not built yet/);
});

test('mailpit start, status, an e-mail over SMTP read back through the API, delete all, stop: idempotent both ways', async (t) => {
  const dir = await ownInfraDir(t);
  const [smtpPort, httpPort] = await freePorts(2);
  const env = { SMTP_URL: `smtp://127.0.0.1:${smtpPort}`, MAILPIT_URL: `http://127.0.0.1:${httpPort}` };
  const { io, said, emitted } = recordingIo();

  const started = await mailpitInfra('start', { dir, smtpPort, httpPort, io });
  assert.deepEqual(started, { running: true, owned: true, env });
  assert.deepEqual(emitted, [`SMTP_URL=${env.SMTP_URL}`, `MAILPIT_URL=${env.MAILPIT_URL}`]);
  assert.doesNotMatch(said.join('\n'), /building/, 'the cached build is used');
  const pid = readPid(mailpitPaths(dir).pidFile)!;
  assert.ok(pid > 0 && pidAlive(pid));
  for (const port of [smtpPort, httpPort]) {
    const addresses = listeningAddresses(port);
    assert.ok(addresses.length > 0 && addresses.every(isLoopback), `${port} listens on ${addresses.join(', ')}, loopback only`);
  }

  const again = await mailpitInfra('start', { dir, smtpPort, httpPort, io });
  assert.equal(again.owned, true);
  assert.equal(readPid(mailpitPaths(dir).pidFile), pid, 'the second start reuses the running server');
  assert.match(said.join('\n'), /already running/);
  assert.deepEqual(await mailpitInfra('status', { dir, smtpPort, httpPort, io }), started);

  // With a login, as a service configured for a real relay would send: accepted over plain SMTP.
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port: smtpPort, secure: false, auth: { user: 'orderflow', pass: 'anything' } });
  t.after(() => transport.close());
  await transport.sendMail({ from: 'orders@orderflow.test', to: 'infra@example.test', subject: 'infra check', text: 'hello' });
  const box = mailpit(env.MAILPIT_URL);
  const [mail] = await box.waitFor('infra@example.test');
  assert.equal(mail.Subject, 'infra check');
  assert.equal(mail.Text.trim(), 'hello');
  await box.deleteAll();
  assert.deepEqual(await box.messages(), []);
  await transport.sendMail({ from: 'orders@orderflow.test', to: 'infra@example.test', subject: 'left behind', text: 'until the next start' });
  assert.equal((await box.waitFor('infra@example.test')).length, 1);

  assert.deepEqual(await mailpitInfra('stop', { dir, smtpPort, httpPort, io }), { running: false, owned: true, env: {} });
  assert.equal(pidAlive(pid), false);
  assert.equal(await portOpen(smtpPort), false);
  assert.equal(await portOpen(httpPort), false);
  assert.deepEqual(await mailpitInfra('stop', { dir, smtpPort, httpPort, io }), { running: false, owned: false, env: {} });
  assert.deepEqual(await mailpitInfra('status', { dir, smtpPort, httpPort, io }), { running: false, owned: false, env: {} });

  // A new start is a fresh mailbox: what a run finds is what it sent.
  await mailpitInfra('start', { dir, smtpPort, httpPort, io });
  assert.deepEqual(await box.messages(), []);
});
