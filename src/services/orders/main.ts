/**
 * The orders service's composition root: the saga orchestrator of the events architecture,
 * the follower of the facts in the choreography.
 */
import { closeOnSignals, startServiceHost } from '#platform/service/host.ts';
import { allTopics, Topics, checkMessage } from '#contracts/index.ts';
import { loadConfig } from './config.ts';
import { follow } from './domain/choreography.ts';
import { createHandlers } from './handlers.ts';
import { registerRoutes, type RestSaga } from './http.ts';
import { createDownstream } from './rest/downstream.ts';
import { createRestDriver } from './rest/drive.ts';
import { startRecovery } from './rest/recovery.ts';
import { createStateCache, disabledStateCache } from './state-cache.ts';
import { createAdmission } from './admission.ts';
import { migrations } from './store.ts';
import { createOrdersMetrics } from './metrics.ts';
import { startSweeper } from './deadlines.ts';
import { startIdempotencyExpiry } from './idempotency-expiry.ts';
import { createBatchWriter } from '#platform/db/batch-writer.ts';
import { registerCircuitStates } from '#platform/telemetry/circuit-metrics.ts';

const config = loadConfig();
const host = await startServiceHost({ name: 'orders', platform: config.platform, migrations, topics: allTopics, validate: checkMessage });
closeOnSignals(host);
// One cache for both writers of the streams: POST /orders and the saga's replies; none
// with replicas, where those writers are other processes too (state-cache.ts).
const cache = config.platform.replicas === 1 ? createStateCache() : disabledStateCache();
// choreography: POST sends OrderPlaced alone, and the replies are followed, not reacted to.
const choreography = config.platform.arch === 'choreography';
// rest: the saga is driven by calls inside POST /orders, and recovery finishes the sagas
// whose request was cut short.
const rest = config.platform.arch === 'rest';
const write = host.write;
const onOutcome = createOrdersMetrics(host.app.metrics, host.db, config.platform.arch);
let restSaga: RestSaga | undefined;
if (rest) {
  const downstream = createDownstream(config.rest);
  registerCircuitStates(host.app.metrics, downstream.breakers);
  const driver = createRestDriver({ db: host.db, write, downstream, clock: host.clock, log: host.log, deadlineMs: config.rest.requestDeadlineMs, onOutcome });
  restSaga = { driver, downstream };
  const recovery = startRecovery({ db: host.db, driver, downstream, log: host.log, recoverAfterMs: config.rest.recoverAfterMs });
  host.onClose(async () => {
    await recovery.stop();
    await downstream.close();
  });
}
// events, choreography: shed new orders while too many sagas are unfinished (admission.ts).
const admission = rest ? undefined : createAdmission({ db: host.db, maxPending: config.maxPending, log: host.log });
const idempotencyTtlMs = config.idempotency.ttlHours * 3_600_000;
registerRoutes(host.app, { db: host.db, ids: host.ids, clock: host.clock, cache, write, arch: config.platform.arch, restSaga, admission, idempotencyTtlMs });
// Listening before consuming: a (re)started instance serves its routes while its consumers
// join their groups (seconds on Kafka); /health/consumers says when they have.
await host.listen(config.port, config.host);
const handlers = createHandlers({ clock: host.clock, log: host.log, dialect: host.db.dialect, cache, onOutcome, ...(choreography ? { react: follow } : {}) });
if (choreography) {
  // Orders follows the outcomes only. StockReserved and PaymentCharged decide nothing here,
  // and they arrive from two topics consumed at once, within milliseconds of each other
  // (payments reacts to StockReserved while orders reads it): recording them made two
  // writers of one stream, whose optimistic-concurrency conflicts rolled back and
  // redelivered whole batches on PostgreSQL. Unhandled types are skipped without a transaction.
  delete handlers.StockReserved;
  delete handlers.PaymentCharged;
}
// rest: no saga on the bus, only the catalog copy from inventory's product events (it
// prices orders from the same table as the other architectures).
await host.consume({
  groupId: 'orders',
  topics: rest ? [Topics.inventoryEvents] : [Topics.inventoryEvents, Topics.paymentsEvents, Topics.shippingEvents],
  handlers: rest ? { ProductCreated: handlers.ProductCreated, ProductPriceChanged: handlers.ProductPriceChanged } : handlers,
});
// Every architecture: no order stays PENDING past its step's deadline. A writer of its own:
// the HTTP writer refuses jobs past ORDERFLOW_WRITE_QUEUE_MAX, and an overload, when the
// saga backlog grows, is when the timeouts matter most (a pass is at most 200 of them).
const sweeper = startSweeper({
  db: host.db,
  write: createBatchWriter(host.db),
  arch: config.platform.arch,
  clock: host.clock,
  log: host.log,
  deadlineMs: config.deadlines.stepDeadlineMs,
  intervalMs: config.deadlines.sweepIntervalMs,
  cache,
  onOutcome,
});
host.onClose(() => sweeper.stop());
const expiry = startIdempotencyExpiry({ db: host.db, log: host.log, clock: host.clock, ttlMs: idempotencyTtlMs, intervalMs: config.idempotency.purgeIntervalMs });
host.onClose(() => expiry.stop());
