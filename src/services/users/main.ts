/** The users service's composition root. */
import { closeOnSignals, startServiceHost } from '#platform/service/host.ts';
import { startRetention } from '#platform/db/retention.ts';
import { allTopics, checkMessage } from '#contracts/index.ts';
import { createAccounts } from './accounts.ts';
import { loadConfig } from './config.ts';
import { registerRoutes } from './http.ts';
import { loadSigningKey } from './keys.ts';
import { createPasswords } from './passwords.ts';
import { readSeedFile, seedAccounts } from './seed.ts';
import { deleteExpiredTokens, migrations } from './store.ts';

const config = loadConfig();
const key = await loadSigningKey(config.signingKey);
const host = await startServiceHost({ name: 'users', platform: config.platform, migrations, topics: allTopics, validate: checkMessage });
closeOnSignals(host);
const accounts = createAccounts({ db: host.db, passwords: createPasswords(config.passwordCost), key, tokens: config.tokens, ids: host.ids, clock: host.clock });
registerRoutes(host.app, { db: host.db, accounts, key });
if (config.seedFile) {
  const made = await seedAccounts(host.db, accounts, readSeedFile(config.seedFile));
  if (made.length > 0) host.log.info({ accounts: made }, 'seeded accounts');
}
const purge = startRetention({
  name: 'refresh tokens',
  log: host.log,
  intervalMs: config.tokenPurgeIntervalMs,
  horizon: () => host.clock.now().toISOString(),
  deleteOlder: (before, limit) => deleteExpiredTokens(host.db, before, limit),
});
host.onClose(() => purge.stop());
await host.listen(config.port, config.host);
