/**
 * A Kafka broker of a test's own, on free ports, for tests that stop and start it (the
 * shared broker of KAFKA_BROKERS is never touched). Reuses the jars of the machine's infra
 * cache (ORDERFLOW_INFRA_DIR) when there are any, rather than fetch them again.
 */
import type { TestContext } from 'node:test';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kafkaInfra, kafkaPaths } from '#runtime/infra/kafka.ts';

export interface OwnKafka {
  brokers: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

async function free(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A port free with the next one too (Kafka's controller listener takes port+1). */
async function freePortPair(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    if ((await free(port)) && (await free(port + 1))) return port;
  }
  throw new Error('no two free ports in a row');
}

/** Starts a broker in a temporary folder; stopped and removed after the test. */
export async function startOwnKafka(t: TestContext): Promise<OwnKafka> {
  const dir = mkdtempSync(join(tmpdir(), 'orderflow-own-kafka-'));
  const port = await freePortPair();
  const own = kafkaPaths(join(dir, 'infra'), port);
  const cache = process.env.ORDERFLOW_INFRA_DIR;
  if (cache) {
    const shared = kafkaPaths(cache, port);
    if (existsSync(shared.libs) && existsSync(shared.pom)) {
      mkdirSync(own.home, { recursive: true });
      copyFileSync(shared.pom, own.pom);
      symlinkSync(shared.libs, own.libs);
    }
  }
  const broker = { dir: join(dir, 'infra'), port, io: { say: () => {}, emit: () => {} } };
  const kafka: OwnKafka = {
    brokers: `127.0.0.1:${port}`,
    start: () => kafkaInfra('start', broker).then(() => undefined),
    stop: () => kafkaInfra('stop', broker).then(() => undefined),
  };
  await kafka.start();
  t.after(async () => {
    await kafka.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });
  return kafka;
}
