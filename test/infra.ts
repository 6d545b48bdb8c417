/**
 * How tests find real infrastructure. Tests that need Kafka, PostgreSQL, Kafka Connect,
 * Zipkin, Prometheus or Mailpit read KAFKA_BROKERS / DATABASE_URL / CONNECT_URL / ZIPKIN_URL /
 * PROMETHEUS_URL / SMTP_URL and MAILPIT_URL; tools (promtool, Chromium, Schemathesis) are looked for where they are installed.
 * Without them they skip with a clear message; with ORDERFLOW_REQUIRE_INFRA=1 (CI) their
 * absence is a failure instead.
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { TestContext } from 'node:test';
import { infraDir } from '#runtime/infra/config.ts';
import { installedSchemathesis, SCHEMATHESIS_VERSION } from '#runtime/infra/schemathesis.ts';
import { installedDeployTools, type DeployTools } from '#runtime/infra/deploy-tools.ts';

const required = process.env.ORDERFLOW_REQUIRE_INFRA === '1';

function need(name: string, what: string, command: string): { value?: string; skip?: string } {
  const value = process.env[name];
  if (value) return { value };
  return absent(`${name} is not set: start ${what} (npm run infra:${command}) and export ${name}`);
}

/** A skip reason, or, under ORDERFLOW_REQUIRE_INFRA=1, a failure. */
function absent(why: string): { skip: string } {
  if (required) throw new Error(`${why} (ORDERFLOW_REQUIRE_INFRA=1: required)`);
  return { skip: `${why} to run this test` };
}

/** For `describe`/`test` options: `{ skip: kafkaSkip() }` skips when Kafka is absent (fails under CI). */
export const kafkaSkip = (): string | undefined => need('KAFKA_BROKERS', 'Kafka', 'kafka').skip;
/** The broker's SASL_SSL listener (npm run infra:kafka -- --secure), for the bus contract over TLS and SCRAM. */
export const kafkaSecureSkip = (): string | undefined => need('KAFKA_SECURE_BROKERS', 'Kafka with its SASL_SSL listener', 'kafka -- --secure').skip;
export const postgresSkip = (): string | undefined => need('DATABASE_URL', 'PostgreSQL', 'postgres').skip;

/** Kafka Connect with Debezium (npm run infra:connect), for the Debezium relay's tests; required under CI too. */
export const connectSkip = (): string | undefined => need('CONNECT_URL', 'Kafka Connect', 'connect').skip;

/** Prometheus (npm run infra:prometheus), for tests that query what it scraped or evaluated. */
export const prometheusSkip = (): string | undefined => need('PROMETHEUS_URL', 'Prometheus', 'prometheus').skip;

/** For the Debezium relay: the server must decode its WAL logically (skips, or fails under CI, when not). */
export const logicalWalSkip = (walLevel: string | undefined): string | undefined =>
  walLevel === 'logical' ? undefined : absent(`DATABASE_URL's server is at wal_level=${walLevel ?? 'unknown'}: start it with ORDERFLOW_PG_WAL_LEVEL=logical npm run infra:postgres`).skip;

/** Zipkin (npm run infra:zipkin), for the tracing tests; required under CI too. */
export const zipkinSkip = (): string | undefined => need('ZIPKIN_URL', 'Zipkin', 'zipkin').skip;

/** Mailpit (npm run infra:mailpit), for e-mails sent to SMTP_URL and read back at MAILPIT_URL; required under CI too. */
export const mailpitSkip = (): string | undefined => need('SMTP_URL', 'Mailpit', 'mailpit').skip ?? need('MAILPIT_URL', 'Mailpit', 'mailpit').skip;

/** The path of an executable on PATH, or undefined. */
export function executable(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter).filter(Boolean)) {
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  return undefined;
}

const debianPrometheus = 'apt-get install prometheus (Debian\'s package has promtool and prometheus)';

/** promtool, for the alert rules' tests (`promtool check/test rules`); required under CI too. */
export const promtoolSkip = (): string | undefined =>
  executable('promtool') ? undefined : absent(`promtool is not installed: ${debianPrometheus}`).skip;

/** The prometheus binary, for the tests that serve the consoles; required under CI too. */
export const prometheusBinarySkip = (): string | undefined =>
  executable('prometheus') ? undefined : absent(`prometheus is not installed: ${debianPrometheus}`).skip;

/** Chromium, for the tests of pages in a real browser (apt-get install chromium); required under CI too. */
export const chromiumPath = (): string | undefined => process.env.CHROMIUM_PATH || executable('chromium') || executable('chromium-browser');
export const chromiumSkip = (): string | undefined =>
  chromiumPath() ? undefined : absent('Chromium is not installed: apt-get install chromium, or set CHROMIUM_PATH').skip;

/** Schemathesis in the infra dir (npm run infra:schemathesis), for the API fuzzing tests; required under CI too. */
export const schemathesisSkip = (): string | undefined =>
  installedSchemathesis(infraDir()) ? undefined : absent(`Schemathesis ${SCHEMATHESIS_VERSION} is not installed in ${infraDir()}: npm run infra:schemathesis`).skip;

/**
 * The deploy checks' tools in the infra dir (npm run infra:deploy-tools -- install): check-jsonschema
 * and the compose-spec schema, helm, kubeconform; or why a test skips (fails under CI).
 */
export async function deployTools(): Promise<{ tools?: DeployTools; skip?: string }> {
  const tools = await installedDeployTools(infraDir());
  return tools ? { tools } : absent(`the deploy tools are not installed in ${infraDir()}: npm run infra:deploy-tools -- install`);
}

/**
 * The orderflow image the container tests run (ORDERFLOW_IMAGE, as `node deploy/image/main.ts
 * build` prints it), and podman to run it; required under CI, which builds it first.
 */
export const imageSkip = (): string | undefined =>
  !process.env.ORDERFLOW_IMAGE ? absent('ORDERFLOW_IMAGE is not set: build the image (node deploy/image/main.ts build --local-base, or without --local-base where the official Node image can be pulled) and export the ORDERFLOW_IMAGE=<ref> it prints').skip
    : !executable('podman') ? absent('podman is not installed: apt-get install podman buildah runc').skip
      : undefined;

/** Inside a test: returns the brokers, or skips the test (fails under CI). */
export function kafkaBrokers(t: TestContext): string[] | undefined {
  const r = need('KAFKA_BROKERS', 'Kafka', 'kafka');
  if (r.skip) t.skip(r.skip);
  return r.value?.split(',').map((s) => s.trim());
}

export function databaseUrl(t: TestContext): string | undefined {
  const r = need('DATABASE_URL', 'PostgreSQL', 'postgres');
  if (r.skip) t.skip(r.skip);
  return r.value;
}

/** A name unique to this test run, for databases, topics and groups. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
}
