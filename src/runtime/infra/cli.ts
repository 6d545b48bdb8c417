/**
 * `orderflow infra kafka|postgres|connect|zipkin|prometheus|mailpit|all [start|stop|status]`: local
 * Kafka, PostgreSQL, Kafka Connect, Zipkin, Prometheus and Mailpit (SMTP) for dev and CI;
 * `orderflow infra schemathesis|deploy-tools [install|status]`: the API fuzzer the tests run, and
 * what `npm run deploy:check` runs (helm, kubeconform, check-jsonschema, the schemas). Settings are printed on stdout as KEY=VALUE lines (eval-able); progress goes to stderr.
 */
import { loadInfraConfig } from './config.ts';
import { kafkaInfra } from './kafka.ts';
import { kafkaClusterInfra, MAX_BROKERS } from './kafka-cluster.ts';
import { postgresInfra } from './postgres.ts';
import { connectInfra } from './connect.ts';
import { zipkinInfra } from './zipkin.ts';
import { prometheusInfra } from './prometheus.ts';
import { mailpitInfra } from './mailpit.ts';
import { schemathesisInfra } from './schemathesis.ts';
import { deployToolsInfra } from './deploy-tools.ts';
import { isOrderflowError } from '#platform/errors.ts';
import { stdIo, type InfraIo, type InfraState } from './processes.ts';

const ACTIONS = ['start', 'stop', 'status'] as const;
type Action = (typeof ACTIONS)[number];

const SERVICES = ['kafka', 'postgres', 'connect', 'zipkin', 'prometheus', 'mailpit', 'all'];

// A tool, not a server: installed, never started.
const TOOL_ACTIONS = ['install', 'status'] as const;
type ToolAction = (typeof TOOL_ACTIONS)[number];

const USAGE = `usage: orderflow infra <kafka|postgres|connect|zipkin|prometheus|mailpit|all> [start|stop|status] [--brokers N] [--secure] [--jdbc-sink]
       orderflow infra schemathesis [install|status]
       orderflow infra deploy-tools [install|status]
  all is kafka and postgres. --secure (kafka start): a SASL_SSL listener on the Kafka port + 2 as well.
  --brokers N (kafka, default 1): N KRaft nodes (2..${MAX_BROKERS}), node n on the Kafka port + 2(n-1) and its
       controller on the next; topics default to replication factor min(3, N), min.insync.replicas 2 at 3.
       Give it to stop and status too. start starts the nodes that are not running (a killed one rejoins).
  --jdbc-sink (connect start): Debezium's JDBC sink plugin too, for the event archive as PostgreSQL tables.
  schemathesis: the OpenAPI fuzzer, pinned, in a venv under <infra dir>/schemathesis (pip from PyPI, Python 3.11+).
  deploy-tools: helm and kubeconform (go install), check-jsonschema and kubernetes-validate (PyPI), the
       compose-spec schema and the chart's CRDs (Go module proxy), pinned, under <infra dir>/deploy-tools: npm run deploy:check's.
  env: ORDERFLOW_INFRA_DIR (cache, default ./.infra), ORDERFLOW_KAFKA_PORT (9092; port+1 for the controller),
       ORDERFLOW_PG_PORT (5432), ORDERFLOW_PG_WAL_LEVEL (replica; logical for the Debezium relay),
       ORDERFLOW_CONNECT_PORT (18083; Kafka Connect), KAFKA_BROKERS (for connect),
       ORDERFLOW_ZIPKIN_PORT (9411; traces, UI at /zipkin/),
       ORDERFLOW_PROMETHEUS_PORT (9090; scrapes what orderflow up lists in <infra dir>/prometheus/targets/orderflow.json),
       ORDERFLOW_MAILPIT_SMTP_PORT (1025) and ORDERFLOW_MAILPIT_HTTP_PORT (8025; API at /api/v1/; built with go install, Go 1.26+),
       ORDERFLOW_PYTHON (python3; makes Schemathesis's venv)`;

/** Runs one infra command and returns the process exit code: 0 ok, 1 failure, 2 usage, 3 status of a stopped service. */
export async function infraCommand(argv: string[], io: InfraIo = stdIo): Promise<number> {
  if (argv[0] === 'schemathesis' || argv[0] === 'deploy-tools') return toolCommand(argv[0], argv.slice(1), io);
  const secure = argv.includes('--secure');
  const jdbcSink = argv.includes('--jdbc-sink');
  const split = brokersArg(argv);
  if (split === undefined) {
    io.say(USAGE);
    return 2;
  }
  const { brokers, args } = split;
  const [what, rawAction = 'start', ...rest] = args.filter((a) => a !== '--secure' && a !== '--jdbc-sink');
  const action = rawAction as Action;
  if (!what || !SERVICES.includes(what) || !ACTIONS.includes(action) || rest.length > 0 || (secure && (what !== 'kafka' || action !== 'start' || brokers > 1)) || (jdbcSink && (what !== 'connect' || action !== 'start')) || (brokers > 1 && what !== 'kafka' && what !== 'all')) {
    io.say(USAGE);
    return 2;
  }
  try {
    const config = loadInfraConfig();
    const kafka = () => (brokers > 1
      ? kafkaClusterInfra(action, { dir: config.dir, port: config.kafkaPort, brokers, io })
      : kafkaInfra(action, { dir: config.dir, port: config.kafkaPort, secure, io }));
    const postgres = () => postgresInfra(action, { dir: config.dir, port: config.pgPort, walLevel: config.pgWalLevel, io });
    const connect = () => connectInfra(action, { dir: config.dir, port: config.connectPort, kafkaBrokers: config.kafkaBrokers, jdbcSink, io });
    const zipkin = () => zipkinInfra(action, { dir: config.dir, port: config.zipkinPort, io });
    const prometheus = () => prometheusInfra(action, { dir: config.dir, port: config.prometheusPort, files: config.prometheus, io });
    const mailpit = () => mailpitInfra(action, { dir: config.dir, smtpPort: config.mailpitSmtpPort, httpPort: config.mailpitHttpPort, io });
    let states: InfraState[];
    if (what === 'kafka') states = [await kafka()];
    else if (what === 'postgres') states = [await postgres()];
    else if (what === 'connect') states = [await connect()];
    else if (what === 'zipkin') states = [await zipkin()];
    else if (what === 'prometheus') states = [await prometheus()];
    else if (what === 'mailpit') states = [await mailpit()];
    else if (action === 'stop') {
      // Stop both even when one fails.
      const results = await Promise.allSettled([kafka(), postgres()]);
      const failed = results.find((r) => r.status === 'rejected');
      if (failed) throw (failed as PromiseRejectedResult).reason;
      states = results.map((r) => (r as PromiseFulfilledResult<InfraState>).value);
    } else states = [await postgres(), await kafka()];
    return action === 'status' && states.some((s) => !s.running) ? 3 : 0;
  } catch (err) {
    return failed(err, io);
  }
}

/** `--brokers N` (or `--brokers=N`) taken out of `argv`: N (1 when absent) and the rest; undefined when N is not 1..MAX_BROKERS. */
export function brokersArg(argv: readonly string[]): { brokers: number; args: string[] } | undefined {
  const args: string[] = [];
  let raw: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--brokers') raw = argv[++i] ?? '';
    else if (argv[i].startsWith('--brokers=')) raw = argv[i].slice('--brokers='.length);
    else args.push(argv[i]);
  }
  if (raw === undefined) return { brokers: 1, args };
  const brokers = Number(raw);
  return /^\d+$/.test(raw) && brokers >= 1 && brokers <= MAX_BROKERS ? { brokers, args } : undefined;
}

/** `schemathesis|deploy-tools [install|status]`: 0 installed, 1 failure, 2 usage, 3 status when not installed. */
async function toolCommand(tool: 'schemathesis' | 'deploy-tools', argv: string[], io: InfraIo): Promise<number> {
  const [rawAction = 'install', ...rest] = argv;
  const action = rawAction as ToolAction;
  if (!TOOL_ACTIONS.includes(action) || rest.length > 0) {
    io.say(USAGE);
    return 2;
  }
  try {
    const config = loadInfraConfig();
    const opts = { dir: config.dir, python: config.python, io };
    const state = tool === 'schemathesis' ? await schemathesisInfra(action, opts) : await deployToolsInfra(action, opts);
    return state.running ? 0 : 3;
  } catch (err) {
    return failed(err, io);
  }
}

function failed(err: unknown, io: InfraIo): number {
  io.say(isOrderflowError(err) ? `infra: ${err.message} [${err.code}]` : `infra: ${(err as Error).stack ?? String(err)}`);
  return 1;
}
