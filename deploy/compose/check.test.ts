/**
 * deploy/compose.yaml under its checks: the real file passes the real check-jsonschema and
 * every check of our own, and each check fails on a copy spoiled in the way it exists for.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { isOrderflowError } from '#platform/errors.ts';
import { deployTools, executable, promtoolSkip } from '#test/infra.ts';
import { checkCompose, composeFile, composeProblems, schemaProblems, type ComposeProblem } from './check.ts';
import { parseCompose, type ComposeFile } from './model.ts';

const { tools, skip } = await deployTools();
const deployDir = dirname(composeFile);
const real = (): ComposeFile => parseCompose(readFileSync(composeFile, 'utf8'));

const temp = (t: { after: (fn: () => void) => void }): string => {
  const dir = mkdtempSync(join(tmpdir(), 'orderflow-compose-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
};

/** The problems of the real file after `spoil`, its relative paths still meaning the repository's. */
function problemsAfter(spoil: (doc: ComposeFile) => void): ComposeProblem[] {
  const doc = real();
  spoil(doc);
  return composeProblems(doc, deployDir);
}

function assertProblem(problems: ComposeProblem[], code: string, text: RegExp): void {
  assert.ok(problems.some((p) => p.code === code && text.test(p.message)), `expected ${code} matching ${text}; got ${JSON.stringify(problems, null, 2)}`);
}

const services = (doc: ComposeFile) => doc.services as Record<string, Record<string, unknown>>;

describe('the compose file\'s own checks', () => {
  test('the real compose file has no problem', () => {
    assert.deepEqual(composeProblems(real(), deployDir), []);
  });

  test('a depends_on naming a service the file lacks is refused', () => {
    const problems = problemsAfter((doc) => {
      (services(doc).gateway.depends_on as Record<string, unknown>).order = { condition: 'service_healthy' };
    });
    assertProblem(problems, 'DEP_ERR_COMPOSE_DEPENDS_ON', /gateway depends on "order"/);
  });

  test('waiting for a service to be healthy that has no healthcheck is refused', () => {
    const problems = problemsAfter((doc) => {
      delete services(doc).postgres.healthcheck;
    });
    assertProblem(problems, 'DEP_ERR_COMPOSE_DEPENDS_ON', /orders waits for postgres to be healthy, but postgres has no healthcheck/);
    assertProblem(problems, 'DEP_ERR_COMPOSE_HEALTHCHECK', /postgres has no healthcheck/);
  });

  test('a missing orderflow service is refused', () => {
    const problems = problemsAfter((doc) => {
      delete services(doc).cart;
    });
    assertProblem(problems, 'DEP_ERR_COMPOSE_SERVICE_MISSING', /the orderflow service cart is not in the file/);
    // The gateway still waits for it, and Prometheus still scrapes it: both said.
    assertProblem(problems, 'DEP_ERR_COMPOSE_DEPENDS_ON', /gateway depends on "cart"/);
  });

  test('a backend with one replica, or a shared ORDERFLOW_INSTANCE, is refused', () => {
    const problems = problemsAfter((doc) => {
      services(doc).orders.deploy = { replicas: 1 };
      (services(doc).payments.environment as Record<string, string>).ORDERFLOW_INSTANCE = 'payments-1';
    });
    assertProblem(problems, 'DEP_ERR_COMPOSE_REPLICAS', /orders must run 2 replicas/);
    assertProblem(problems, 'DEP_ERR_COMPOSE_REPLICAS', /orders runs 1 replicas but says ORDERFLOW_REPLICAS=2/);
    assertProblem(problems, 'DEP_ERR_COMPOSE_REPLICAS', /payments sets ORDERFLOW_INSTANCE/);
  });

  test('a service on another port than its own is refused', () => {
    const problems = problemsAfter((doc) => {
      (services(doc).shipping.environment as Record<string, string>).PORT = '9000';
    });
    assertProblem(problems, 'DEP_ERR_COMPOSE_SERVICE_PORT', /shipping must listen on its port 8084/);
  });

  test('a setting a service would refuse, or one no service reads, is refused', () => {
    const problems = problemsAfter((doc) => {
      const env = services(doc).orders.environment as Record<string, string>;
      env.ORDERFLOW_REPLICATION_FACTOR = 'three';
      env.ORDERS_STEP_DEADLINE = '30000';
    });
    assertProblem(problems, 'DEP_ERR_COMPOSE_SETTINGS', /orders would refuse its environment at start: ORDERFLOW_REPLICATION_FACTOR must be a positive integer/);
    assertProblem(problems, 'DEP_ERR_COMPOSE_SETTINGS', /orders sets ORDERS_STEP_DEADLINE, which no config.ts reads/);
  });

  test('a mounted file that is not in the repository is refused', () => {
    const problems = problemsAfter((doc) => {
      (services(doc).prometheus.volumes as string[])[0] = './compose/prometheus.yaml:/etc/prometheus/prometheus.yml:ro';
    });
    assertProblem(problems, 'DEP_ERR_COMPOSE_MOUNT', /prometheus mounts deploy\/compose\/prometheus\.yaml .*no such file/);
  });

  test('a rules mount that holds no rule file is refused', () => {
    const problems = problemsAfter((doc) => {
      (services(doc).prometheus.volumes as string[])[1] = './prometheus/consoles:/etc/prometheus/rules:ro';
    });
    assertProblem(problems, 'DEP_ERR_COMPOSE_RULE_FILES', /rule_files names \/etc\/prometheus\/rules\/\*\.yml, and the mounted .*consoles\/\*\.yml holds no such file/);
  });

  test('a port published by anything but the gateway, Grafana, Zipkin and Prometheus is refused', () => {
    const problems = problemsAfter((doc) => {
      services(doc).postgres.ports = ['5432:5432'];
      services(doc).gateway.ports = ['127.0.0.1:8443:8443'];
    });
    assertProblem(problems, 'DEP_ERR_COMPOSE_PORTS', /postgres publishes 5432:5432/);
    assertProblem(problems, 'DEP_ERR_COMPOSE_PORTS', /gateway must publish its port 8080/);
  });

  test('a users service without its signing key is refused', () => {
    const problems = problemsAfter((doc) => {
      delete (services(doc).users.environment as Record<string, string>).USERS_SIGNING_KEY_FILE;
    });
    assertProblem(problems, 'DEP_ERR_COMPOSE_SIGNING_KEY', /neither USERS_SIGNING_KEY nor USERS_SIGNING_KEY_FILE/);
    const unattached = problemsAfter((doc) => {
      delete services(doc).users.secrets;
    });
    assertProblem(unattached, 'DEP_ERR_COMPOSE_SIGNING_KEY', /the secret users_signing_key is not given to it/);
  });

  test('a service Prometheus does not scrape is refused', (t) => {
    const dir = temp(t);
    const scrape = readFileSync(join(deployDir, 'compose/prometheus.yml'), 'utf8').replace(/^.*names: \[cart\].*\n/m, '');
    writeFileSync(join(dir, 'prometheus.yml'), scrape);
    const problems = problemsAfter((doc) => {
      (services(doc).prometheus.volumes as string[])[0] = `${join(dir, 'prometheus.yml')}:/etc/prometheus/prometheus.yml:ro`;
    });
    assert.deepEqual(problems.map((p) => p.code), ['DEP_ERR_COMPOSE_SCRAPE']);
    assertProblem(problems, 'DEP_ERR_COMPOSE_SCRAPE', /does not scrape cart:8086/);
  });

  test('a Grafana data source the dashboards cannot pick is refused', (t) => {
    const dir = temp(t);
    cpSync(join(deployDir, 'compose/grafana/provisioning/datasources'), dir, { recursive: true });
    const file = join(dir, 'orderflow.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace('type: prometheus', 'type: loki'));
    const problems = problemsAfter((doc) => {
      (services(doc).grafana.volumes as string[])[0] = `${dir}:/etc/grafana/provisioning/datasources:ro`;
    });
    assertProblem(problems, 'DEP_ERR_COMPOSE_GRAFANA', /dashboard overview\.json: its data source variable wants a prometheus data source; there is none/);
  });

  test('dashboards mounted where the provider does not look are refused', () => {
    const problems = problemsAfter((doc) => {
      (services(doc).grafana.volumes as string[])[2] = './grafana/dashboards:/var/lib/grafana/dashboards:ro';
    });
    assertProblem(problems, 'DEP_ERR_COMPOSE_GRAFANA', /provider orderflow reads \/etc\/grafana\/dashboards\/orderflow, where no bind mount puts a dashboard/);
  });
});

describe('the compose file against the compose-spec schema (check-jsonschema)', { skip }, () => {
  test('the real compose file passes the schema and every check', async () => {
    const checked = await checkCompose(tools!);
    assert.equal(checked.services, 17);
  });

  test('a property the schema does not know is refused', async (t) => {
    const doc = real();
    // `replicas` belongs under deploy:, not on the service.
    services(doc).orders.replicas = 2;
    const file = join(temp(t), 'compose.yaml');
    writeFileSync(file, stringify(doc));
    const problems = await schemaProblems(tools!, file);
    assertProblem(problems, 'DEP_ERR_COMPOSE_SCHEMA', /replicas/);
  });

  test('a spoiled copy fails checkCompose with each of its problems', async (t) => {
    const doc = real();
    // A condition Compose does not have (the schema lists three).
    (services(doc).orders.depends_on as Record<string, { condition: string }>).postgres.condition = 'service_ready';
    delete services(doc).analytics;
    const file = join(temp(t), 'compose.yaml');
    writeFileSync(file, stringify(doc));
    await assert.rejects(checkCompose(tools!, { file, baseDir: deployDir }), (err) => {
      assert.ok(isOrderflowError(err, 'DEP_ERR_COMPOSE_INVALID'));
      const codes = (err.details as { problems: ComposeProblem[] }).problems.map((p) => p.code);
      assert.ok(codes.includes('DEP_ERR_COMPOSE_SCHEMA'), codes.join());
      assert.ok(codes.includes('DEP_ERR_COMPOSE_SERVICE_MISSING'), codes.join());
      assert.match(err.message, /service_ready/);
      return true;
    });
  });
});

describe('the compose Prometheus configuration under promtool', { skip: promtoolSkip() }, () => {
  test('promtool accepts the scrape configuration, with the rule files it mounts', async (t) => {
    // The rules where the container would see them, here: the repository's.
    const config = readFileSync(join(deployDir, 'compose/prometheus.yml'), 'utf8').replace('/etc/prometheus/rules/', `${join(deployDir, 'prometheus/rules')}/`);
    const file = join(temp(t), 'prometheus.yml');
    writeFileSync(file, config);
    const { stdout } = await promisify(execFile)(executable('promtool')!, ['check', 'config', file]);
    assert.match(stdout, /SUCCESS: .*prometheus\.yml is valid prometheus config file syntax/);
    assert.match(stdout, /SUCCESS: 6 rules found/);
  });
});
