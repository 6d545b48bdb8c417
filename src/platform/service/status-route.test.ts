// GET /_admin/status of a real host (SQLite and the embedded log): its deployment, its
// consumer group's lag and handled total as messages come and are handled, its outbox.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { encode, newEnvelope } from '../bus/envelope.ts';
import { loadPlatformConfig } from '../config.ts';
import { silentLogger } from '../log.ts';
import { startServiceHost } from './host.ts';
import type { ServiceStatusBody } from './status-route.ts';

const TOPIC = 'status-route-test';

async function until<T>(what: string, check: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = await check();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test("a host's status names its deployment, and each group's lag and handled total follow the messages on its topic", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'orderflow-status-route-'));
  const platform = loadPlatformConfig({ ORDERFLOW_DATA_DIR: dir, ORDERFLOW_PARTITIONS: '2', ORDERFLOW_ARCH: 'choreography' });
  const host = await startServiceHost({ name: 'statusroute', platform, migrations: [], topics: [TOPIC], validate: () => undefined, log: silentLogger });
  t.after(async () => {
    await host.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await host.consume({ groupId: 'statusroute', topics: [TOPIC], handlers: { 'test.Ping': async () => {} } });
  // A group nobody runs here (as a stream processor's, reported by watchGroup): what is published waits as its lag.
  host.watchGroup('statusroute-idle', [TOPIC]);
  const url = `http://127.0.0.1:${await host.listen(0)}`;
  const status = async (): Promise<ServiceStatusBody> => {
    const res = await fetch(`${url}/_admin/status`);
    assert.equal(res.status, 200);
    return (await res.json()) as ServiceStatusBody;
  };

  const first = await status();
  assert.deepEqual({ ...first, consumers: [] }, { service: 'statusroute', architecture: 'choreography', deployment: { bus: 'embedded', store: 'sqlite' }, consumers: [], outboxBacklog: 0 });
  assert.deepEqual(first.consumers, [
    { groupId: 'statusroute', topic: TOPIC, lag: 0, handled: 0 },
    { groupId: 'statusroute-idle', topic: TOPIC, lag: 0, handled: 0 },
  ]);

  const messages = [1, 2, 3, 4, 5].map((n) => newEnvelope({ type: 'test.Ping', key: `k${n}`, payload: { n } }));
  await host.bus.publish(messages.map((m) => encode(TOPIC, m)));
  const settled = await until('every record is handled', async () => {
    const { consumers } = await status();
    return consumers[0].handled === messages.length ? consumers : undefined;
  });
  assert.deepEqual(settled, [
    { groupId: 'statusroute', topic: TOPIC, lag: 0, handled: 5 },
    { groupId: 'statusroute-idle', topic: TOPIC, lag: 5, handled: 0 },
  ]);
});
