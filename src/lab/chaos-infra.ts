/**
 * A Kafka broker and a PostgreSQL server of chaos's own, for --restart-broker and
 * --restart-postgres: on free ports in a temporary folder, restarted under load, stopped
 * and removed at the end. The shared KAFKA_BROKERS and DATABASE_URL are never restarted:
 * other people's work runs on them. Kafka's jars come from the infra cache
 * (ORDERFLOW_INFRA_DIR) when it has them, rather than fetched again.
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { kafkaInfra, kafkaPaths } from '#runtime/infra/kafka.ts';
import { postgresInfra } from '#runtime/infra/postgres.ts';
import { InfraError, portOpen, type InfraState } from '#runtime/infra/processes.ts';

export interface OwnServer {
  /** KAFKA_BROKERS or DATABASE_URL. */
  address: string;
  /** Stops it, waits `downMs`, starts it again; resolves once it answers. */
  restart(downMs: number): Promise<void>;
}

export interface OwnInfra {
  kafka?: OwnServer;
  postgres?: OwnServer;
  /** Stops both and removes their folder; idempotent. */
  stop(): Promise<void>;
}

/**
 * A port free with the next one too (Kafka's controller listener takes port+1), below
 * Linux's ephemeral range (32768 up): there an outgoing connection may take the port
 * between this check and the server's bind (it happened: the broker died on bind).
 */
async function freePortPair(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (!(await portOpen(port, '127.0.0.1', 200)) && !(await portOpen(port + 1, '127.0.0.1', 200))) return port;
  }
  throw InfraError('no two free ports in a row for a broker of chaos\'s own');
}

/** Started by us, on our port, or refused: restarting a server someone else runs is what this module exists to avoid. */
function owned(what: string, state: InfraState): InfraState {
  if (!state.owned) throw InfraError(`${what}: the free port chosen was taken by a server chaos did not start; not restarting someone else's`);
  return state;
}

export async function startOwnInfra(o: { kafka: boolean; postgres: boolean; cacheDir: string; say: (line: string) => void }): Promise<OwnInfra> {
  const dir = mkdtempSync(join(tmpdir(), 'orderflow-chaos-infra-'));
  // Run as root, PostgreSQL runs as user postgres, who must reach its cluster in here.
  chmodSync(dir, 0o755);
  const io = { say: (line: string) => o.say(`  ${line}`), emit: () => {} };
  const stops: Array<() => Promise<unknown>> = [];
  const infra: OwnInfra = {
    async stop() {
      for (const stop of stops.splice(0).reverse()) await stop().catch((err) => o.say(`chaos: stopping own infra: ${(err as Error).message}`));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    if (o.kafka) {
      const port = await freePortPair();
      const own = kafkaPaths(dir, port);
      const shared = kafkaPaths(o.cacheDir, port);
      if (existsSync(shared.libs) && existsSync(shared.pom)) {
        mkdirSync(own.home, { recursive: true });
        copyFileSync(shared.pom, own.pom);
        symlinkSync(shared.libs, own.libs);
      }
      const opts = { dir, port, io };
      o.say(`chaos: starting a Kafka broker of its own on 127.0.0.1:${port}`);
      owned('kafka', await kafkaInfra('start', opts));
      stops.push(() => kafkaInfra('stop', opts));
      infra.kafka = {
        address: `127.0.0.1:${port}`,
        async restart(downMs) {
          await kafkaInfra('stop', opts);
          await sleep(downMs);
          owned('kafka', await kafkaInfra('start', opts));
        },
      };
    }
    if (o.postgres) {
      const port = await freePortPair();
      const opts = { dir, port, io };
      o.say(`chaos: starting a PostgreSQL server of its own on 127.0.0.1:${port}`);
      const state = owned('postgres', await postgresInfra('start', opts));
      stops.push(() => postgresInfra('stop', opts));
      infra.postgres = {
        address: state.env.DATABASE_URL,
        async restart(downMs) {
          await postgresInfra('stop', opts);
          await sleep(downMs);
          owned('postgres', await postgresInfra('start', opts));
        },
      };
    }
  } catch (err) {
    await infra.stop();
    throw err;
  }
  return infra;
}
