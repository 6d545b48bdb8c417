/**
 * A service instance is a static member of its Kafka groups (group.instance.id =
 * ORDERFLOW_INSTANCE): killed with kill -9 and restarted at once by the supervisor, it takes
 * its partitions back without a rebalance, instead of every partition of the group waiting
 * out the dead member's session (10 s). Measured on the real broker, with real processes.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { describe, test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openKafkaBus } from '#platform/bus/kafka/kafka-bus.ts';
import { consumerSettings } from '#platform/bus/kafka/kafka-subscription.ts';
import { silentLogger } from '#platform/log.ts';
import { kafkaSkip, uniqueName } from '#test/infra.ts';

const child = fileURLToPath(new URL('../support/kafka-member-child.ts', import.meta.url));
const TOPIC = 'members';

function member(t: TestContext, args: string[]): { proc: ChildProcess; seen: Set<string> } {
  const proc = spawn(process.execPath, [child, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => void proc.kill('SIGKILL'));
  const seen = new Set<string>();
  createInterface({ input: proc.stdout! }).on('line', (line) => seen.add(line));
  return { proc, seen };
}

async function until(what: string, check: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('static group membership on Kafka', { skip: kafkaSkip() }, () => {
  test('an instance killed and restarted at once consumes every partition again well inside the session timeout', async (t) => {
    const brokers = process.env.KAFKA_BROKERS ?? '';
    const namespace = uniqueName('static');
    const bus = await openKafkaBus({ brokers: brokers.split(','), clientId: 'static-test', namespace, log: silentLogger });
    t.after(() => bus.close());
    await bus.ensureTopics([{ name: TOPIC, partitions: 4 }]);
    // One record per partition (keys spread over the four), until every one is seen.
    let round = 0;
    const publishRound = async () => {
      round++;
      const records = Array.from({ length: 16 }, (_, i) => ({ topic: TOPIC, key: `k${i}`, value: `r${round}-${i}`, headers: {} }));
      await bus.publish(records);
      return records.map((r) => r.value);
    };
    const args = [brokers, namespace, TOPIC, 'g', 'orders-1'];

    const first = member(t, args);
    let values = await publishRound();
    await until('the first process has every record', () => values.every((v) => first.seen.has(v)), 60_000);
    first.proc.kill('SIGKILL');
    await new Promise((r) => first.proc.once('exit', r));

    // The supervisor restarts it at once, with the same instance name.
    const restarted = Date.now();
    const second = member(t, args);
    values = await publishRound();
    await until('the restarted process has every record', () => values.every((v) => second.seen.has(v)), 60_000);
    const ms = Date.now() - restarted;
    t.diagnostic(`restart to every partition consumed: ${ms} ms (session timeout ${consumerSettings.sessionTimeout} ms)`);
    assert.ok(ms < consumerSettings.sessionTimeout * 0.6, `${ms} ms: the group waited for the dead member's session instead of taking the instance back`);
  });
});
