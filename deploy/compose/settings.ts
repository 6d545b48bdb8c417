/**
 * The orderflow services' environment in the compose file, against what the services read:
 * - each service's own loadConfig must accept the environment the file gives it (its
 *   `${VARIABLES}` filled with example values, as a user's deploy/.env would), so a value a
 *   service would refuse at start (a bad number, a missing key setting) is caught here;
 * - every name set must be one that some config.ts reads: a misspelt setting is otherwise
 *   ignored without a word, and the service runs on its default.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isOrderflowError } from '#platform/errors.ts';
import { serviceNames, type ServiceName } from '#runtime/system.ts';
import { loadConfig as analytics } from '#services/analytics/config.ts';
import { loadConfig as cart } from '#services/cart/config.ts';
import { loadConfig as gateway } from '#services/gateway/config.ts';
import { loadConfig as ingestion } from '#services/ingestion/config.ts';
import { loadConfig as inventory } from '#services/inventory/config.ts';
import { loadConfig as notifications } from '#services/notifications/config.ts';
import { loadConfig as orders } from '#services/orders/config.ts';
import { loadConfig as payments } from '#services/payments/config.ts';
import { loadConfig as shipping } from '#services/shipping/config.ts';
import { loadConfig as users } from '#services/users/config.ts';
import { environmentOf, type ComposeProblem, type ComposeService } from './model.ts';

type Env = Record<string, string | undefined>;

const loaders: Readonly<Record<ServiceName, (env: Env) => unknown>> = { analytics, cart, gateway, ingestion, inventory, notifications, orders, payments, shipping, users };

/** Read by Node and the libraries themselves, not by a config.ts. */
const libraryPrefixes = ['NODE_', 'OTEL_', 'UV_'];

/** Compose's `${VAR}`, `${VAR:-default}`, `${VAR:?error}`, `$VAR` and `$$`, every variable given `value(name)`. */
export function interpolate(text: string, value: (name: string) => string): string {
  return text.replace(/\$\$|\$\{(\w+)(?::?[-?+][^}]*)?\}|\$(\w+)/g, (match, braced?: string, bare?: string) => (match === '$$' ? '$' : value(braced ?? bare ?? '')));
}

/** Every environment name a config.ts of the platform or a service reads (env.NAME, or 'NAME' handed to a reader). */
export function settingNames(srcDir: string): Set<string> {
  const files = [join(srcDir, 'platform/config.ts'), ...readdirSync(join(srcDir, 'services')).map((s) => join(srcDir, 'services', s, 'config.ts'))];
  const names = new Set<string>();
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const m of text.matchAll(/env\.([A-Z][A-Z0-9_]+)|'([A-Z][A-Z0-9]*_[A-Z0-9_]+|PORT|HOST)'/g)) names.add(m[1] ?? m[2]);
  }
  return names;
}

export function settingsProblems(services: Record<string, ComposeService>, srcDir: string): ComposeProblem[] {
  const problems: ComposeProblem[] = [];
  const known = settingNames(srcDir);
  for (const service of serviceNames) {
    if (!services[service]) continue;
    const env = Object.fromEntries(Object.entries(environmentOf(services[service])).map(([k, v]) => [k, interpolate(v, () => 'example')]));
    for (const name of Object.keys(env)) {
      if (!known.has(name) && !libraryPrefixes.some((p) => name.startsWith(p))) {
        problems.push({ code: 'DEP_ERR_COMPOSE_SETTINGS', message: `${service} sets ${name}, which no config.ts reads: a misspelt setting is ignored` });
      }
    }
    try {
      loaders[service](env);
    } catch (err) {
      if (!isOrderflowError(err)) throw err;
      problems.push({ code: 'DEP_ERR_COMPOSE_SETTINGS', message: `${service} would refuse its environment at start: ${err.message}` });
    }
  }
  return problems;
}
