/**
 * The two deployments every end-to-end test runs on: the embedded default (SQLite files
 * and the embedded log) and the distributed one (Apache Kafka and PostgreSQL, found through
 * KAFKA_BROKERS and DATABASE_URL).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kafkaSkip, postgresSkip, uniqueName } from '../infra.ts';

export interface Deployment {
  name: 'embedded' | 'distributed';
  /** Why this deployment cannot run here (tests skip with it), or undefined. */
  skip: () => string | undefined;
  /** Environment for every service process, and a cleanup. */
  prepare(): { dataDir: string; env: Record<string, string>; cleanup(): void };
}

const tempDir = () => mkdtempSync(join(tmpdir(), 'orderflow-e2e-'));

export const deployments: Deployment[] = [
  {
    name: 'embedded',
    skip: () => undefined,
    prepare() {
      const dataDir = tempDir();
      return { dataDir, env: { ORDERFLOW_BUS: 'embedded', ORDERFLOW_STORE: 'sqlite', LOG_LEVEL: 'warn' }, cleanup: () => rmSync(dataDir, { recursive: true, force: true }) };
    },
  },
  {
    name: 'distributed',
    skip: () => kafkaSkip() ?? postgresSkip(),
    prepare() {
      const dataDir = tempDir();
      return {
        dataDir,
        env: {
          ORDERFLOW_BUS: 'kafka',
          ORDERFLOW_STORE: 'postgres',
          KAFKA_BROKERS: process.env.KAFKA_BROKERS ?? '',
          DATABASE_URL: process.env.DATABASE_URL ?? '',
          ORDERFLOW_NAMESPACE: uniqueName('e2e').toLowerCase(),
          ORDERFLOW_PARTITIONS: '4',
          LOG_LEVEL: 'warn',
        },
        cleanup: () => rmSync(dataDir, { recursive: true, force: true }),
      };
    },
  },
];
