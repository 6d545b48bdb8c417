import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { kafkaSkip, postgresSkip, zipkinSkip } from '#test/infra.ts';
import { kafkaBroker, parentFromStat, postmasterOf, zipkinServer } from './infra-processes.ts';

const cmdline = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');

test('the parent pid is read after the command name, spaces and parentheses included', () => {
  assert.equal(parentFromStat('4242 (postgres: a (b) c) S 2576 4242 4242 0 -1'), 2576);
  assert.equal(parentFromStat('1 (init) S 0 1 1'), undefined);
});

test('the PostgreSQL server measured is the one the run connects to: the parent of our backend', { skip: postgresSkip() }, async () => {
  const pid = await postmasterOf(process.env.DATABASE_URL!);
  assert.ok(pid, 'found on this machine');
  const argv = cmdline(pid);
  assert.match(argv[0], /postgres$/);
  assert.ok(argv.includes('-D'), 'the postmaster, not a backend');
});

test('an unreachable PostgreSQL server has no process here', async () => {
  assert.equal(await postmasterOf('postgres://postgres@127.0.0.1:1/postgres'), undefined);
});

test('the Kafka broker measured is the kafka.Kafka process listening on the first broker port', { skip: kafkaSkip() }, () => {
  const pid = kafkaBroker(process.env.KAFKA_BROKERS!);
  assert.ok(pid, 'found on this machine');
  assert.ok(cmdline(pid).includes('kafka.Kafka'));
  assert.equal(kafkaBroker('127.0.0.1:1'), undefined, 'no broker listens on port 1');
});

test('the Zipkin measured with tracing on is the zipkin jar listening on ZIPKIN_URL\'s port', { skip: zipkinSkip() }, () => {
  const pid = zipkinServer(process.env.ZIPKIN_URL!);
  assert.ok(pid, 'found on this machine');
  assert.ok(cmdline(pid).some((a) => /zipkin[^/]*\.jar$/.test(a)), cmdline(pid).join(' '));
  assert.equal(zipkinServer('http://127.0.0.1:1'), undefined, 'no Zipkin listens on port 1');
});
