/**
 * The orderflow dashboards: an overview of the whole system and one page per service, on the
 * metric set of issue 8 (docs/observability.md). `npm run dashboards` draws them as Prometheus
 * consoles and Grafana dashboards; edit here, never the generated files.
 */
import { gauge, quantile, series, sumRate, type Dashboard, type Panel, type Row } from './model.ts';

const HTTP = 'orderflow_http_request_duration_seconds';
const SERVER_ERROR = 'status_code=~"5.."';

/** What a service has beyond HTTP and its process: it decides which rows its page gets. */
interface ServiceTraits {
  name: string;
  title: string;
  description: string;
  /** Consumes from the bus: lag, messages by outcome, batches, dead letters. */
  consumes: boolean;
  /** Publishes through the outbox and its relay. */
  outbox: boolean;
  /** Runs the order saga (orders only). */
  saga: boolean;
  /** Calls other services over HTTP behind circuit breakers (gateway; orders in rest). */
  circuits: boolean;
}

export const services: ServiceTraits[] = [
  { name: 'gateway', title: 'Gateway', description: 'The public API on :8080, in front of the four services: no database, no bus.', consumes: false, outbox: false, saga: false, circuits: true },
  { name: 'orders', title: 'Orders', description: 'Takes orders and runs the saga (events), reacts to the others (choreography) or calls them (rest).', consumes: true, outbox: true, saga: true, circuits: true },
  { name: 'inventory', title: 'Inventory', description: 'The catalog and stock: reserves and releases stock for orders.', consumes: true, outbox: true, saga: false, circuits: false },
  { name: 'payments', title: 'Payments', description: 'Charges and refunds orders.', consumes: true, outbox: true, saga: false, circuits: false },
  { name: 'shipping', title: 'Shipping', description: 'Schedules shipments for paid orders.', consumes: true, outbox: true, saga: false, circuits: false },
  { name: 'notifications', title: 'Notifications', description: 'Tells customers of their orders, shipments, refunds and abandoned carts: in-app (list, live stream) and by e-mail (its delivery queue).', consumes: true, outbox: false, saga: false, circuits: false },
  { name: 'cart', title: 'Cart', description: 'Customers\' carts, priced from its copy of the catalog; checkout places the order through orders.', consumes: true, outbox: true, saga: false, circuits: false },
];

const timeseries = (title: string, unit: Panel['unit'], queries: Panel['queries'], description?: string): Panel =>
  ({ title, kind: 'timeseries', unit, queries, ...(description ? { description } : {}) });
const stat = (title: string, unit: Panel['unit'], expr: string, description?: string): Panel =>
  ({ title, kind: 'stat', unit, queries: [{ expr, legend: title }], ...(description ? { description } : {}) });

const CIRCUIT_STATES = '0 closed, 1 half-open, 2 open.';

function sagaPanels(): Panel[] {
  return [
    timeseries('Orders/s by outcome', 'orders/s', [{ expr: sumRate('orderflow_orders_total', ['status', 'reason']), legend: '{{status}} {{reason}}' }],
      'Orders reaching a terminal status, by status and reason of cancellation.'),
    timeseries('Saga latency p50 / p99', 'seconds', [
      { expr: quantile(0.5, 'orderflow_saga_duration_seconds', ['arch']), legend: 'p50 {{arch}}' },
      { expr: quantile(0.99, 'orderflow_saga_duration_seconds', ['arch']), legend: 'p99 {{arch}}' },
    ], 'From an order placed to its terminal status.'),
    timeseries('Oldest pending order', 'seconds', [{ expr: gauge('max', 'orderflow_orders_pending_oldest_age_seconds', []), legend: 'oldest PENDING' }],
      'Age of the oldest order still PENDING; the SagaPastDeadline alert fires past 120 s (three step deadlines and a sweep).'),
  ];
}

function runtimePanels(by: string[], matchers: string[], legend: string): Panel[] {
  return [
    timeseries('CPU', 'cores', [{ expr: sumRate('process_cpu_seconds_total', by, matchers), legend }], 'CPU seconds per second: 1 is one core busy.'),
    timeseries('Memory (resident)', 'bytes', [{ expr: gauge('sum', 'process_resident_memory_bytes', by, matchers), legend }]),
  ];
}

function overview(): Dashboard {
  const summary: Row = {
    title: 'Now',
    panels: [
      stat('Services up', 'count', `sum(${series('up')})`, 'Scrape targets of the orderflow job that answer.'),
      stat('Services down', 'count', `count(${series('up')} == 0) or vector(0)`, 'Scrape targets that do not answer: the ServiceDown alert fires after 30 s.'),
      stat('Orders/s', 'orders/s', sumRate('orderflow_orders_total', [])),
      stat('Saga p99', 'seconds', quantile(0.99, 'orderflow_saga_duration_seconds', [])),
      stat('Consumer lag', 'records', gauge('sum', 'orderflow_consumer_lag', []), 'Records not yet committed, all groups.'),
      stat('Dead letters', 'records', gauge('sum', 'orderflow_dead_letters', []), 'Pending dead letters (the dead_letters tables): each one needs a look, then a replay or a discard.'),
      stat('Outbox backlog', 'records', gauge('sum', 'orderflow_outbox_pending', [])),
    ],
  };
  return {
    slug: 'overview',
    name: 'Overview',
    title: 'orderflow: overview',
    description: 'The whole system: orders and their saga, the bus, the outboxes, and every service\'s load.',
    rows: [
      summary,
      { title: 'Orders', panels: sagaPanels() },
      {
        title: 'Messaging',
        panels: [
          timeseries('Consumer lag per group', 'records', [{ expr: gauge('sum', 'orderflow_consumer_lag', ['group']), legend: '{{group}}' }],
            'Records not yet committed by each consumer group, all partitions.'),
          timeseries('Messages/s by outcome', 'messages/s', [{ expr: sumRate('orderflow_messages_total', ['outcome']), legend: '{{outcome}}' }]),
          timeseries('Dead letters', 'records', [{ expr: gauge('sum', 'orderflow_dead_letters', ['topic']), legend: '{{topic}}' }]),
          timeseries('Outbox backlog', 'records', [{ expr: gauge('sum', 'orderflow_outbox_pending', ['service']), legend: '{{service}}' }],
            'Outbox rows not yet published, per service.'),
          timeseries('Outbox oldest unpublished row', 'seconds', [{ expr: gauge('max', 'orderflow_outbox_oldest_age_seconds', ['service']), legend: '{{service}}' }],
            'Grows when a relay cannot publish; the OutboxBacklogAging alert fires past 30 s.'),
        ],
      },
      {
        title: 'HTTP',
        panels: [
          timeseries('Requests/s per service', 'requests/s', [{ expr: sumRate(`${HTTP}_count`, ['service']), legend: '{{service}}' }]),
          timeseries('Server errors/s per service', 'requests/s', [{ expr: sumRate(`${HTTP}_count`, ['service'], [SERVER_ERROR]), legend: '{{service}}' }],
            'Answers with a 5xx status.'),
          timeseries('HTTP p99 per service', 'seconds', [{ expr: quantile(0.99, HTTP, ['service']), legend: '{{service}}' }]),
          timeseries('Circuit states', 'circuit', [{ expr: gauge('max', 'orderflow_circuit_state', ['service', 'upstream']), legend: '{{service}} → {{upstream}}' }],
            `Circuit breakers of the calls between services: ${CIRCUIT_STATES}`),
        ],
      },
      { title: 'Processes', panels: runtimePanels(['service'], [], '{{service}}') },
    ],
  };
}

function servicePage(s: ServiceTraits): Dashboard {
  const of = [`service="${s.name}"`];
  const rows: Row[] = [];
  rows.push({
    title: 'Now',
    panels: [
      stat('Instances up', 'count', `sum(${series('up', of)})`),
      stat('Requests/s', 'requests/s', sumRate(`${HTTP}_count`, [], of)),
      stat('HTTP p99', 'seconds', quantile(0.99, HTTP, [], of)),
      ...(s.consumes ? [stat('Consumer lag', 'records', gauge('sum', 'orderflow_consumer_lag', [], of))] : []),
      ...(s.outbox ? [stat('Outbox backlog', 'records', gauge('sum', 'orderflow_outbox_pending', [], of))] : []),
    ],
  });
  rows.push({
    title: 'HTTP routes',
    panels: [
      timeseries('Requests/s by route', 'requests/s', [{ expr: sumRate(`${HTTP}_count`, ['method', 'route'], of), legend: '{{method}} {{route}}' }]),
      timeseries('Server errors/s by route', 'requests/s', [{ expr: sumRate(`${HTTP}_count`, ['method', 'route', 'status_code'], [...of, SERVER_ERROR]), legend: '{{method}} {{route}} {{status_code}}' }]),
      timeseries('p99 by route', 'seconds', [{ expr: quantile(0.99, HTTP, ['method', 'route'], of), legend: '{{method}} {{route}}' }]),
    ],
  });
  if (s.saga) rows.push({ title: 'Saga', panels: sagaPanels() });
  if (s.consumes) {
    rows.push({
      title: 'Consumers',
      panels: [
        timeseries('Consumer lag', 'records', [{ expr: gauge('sum', 'orderflow_consumer_lag', ['group', 'topic'], of), legend: '{{group}} {{topic}}' }],
          'Records not yet committed by the group, all partitions of the topic.'),
        timeseries('Messages/s by outcome', 'messages/s', [{ expr: sumRate('orderflow_messages_total', ['type', 'outcome'], of), legend: '{{type}} {{outcome}}' }]),
        timeseries('Batch size p50 / p99', 'records', [
          { expr: quantile(0.5, 'orderflow_batch_size', ['group'], of), legend: 'p50 {{group}}' },
          { expr: quantile(0.99, 'orderflow_batch_size', ['group'], of), legend: 'p99 {{group}}' },
        ], 'Records per delivered batch: near 1 when the consumer keeps up, larger under load.'),
        timeseries('Batch handling p99', 'seconds', [{ expr: quantile(0.99, 'orderflow_message_batch_duration_seconds', ['group'], of), legend: '{{group}}' }]),
        timeseries('Dead letters', 'records', [{ expr: gauge('sum', 'orderflow_dead_letters', ['topic'], of), legend: '{{topic}}' }]),
      ],
    });
  }
  if (s.outbox) {
    rows.push({
      title: 'Outbox relay',
      panels: [
        timeseries('Relay publish p99', 'seconds', [{ expr: quantile(0.99, 'orderflow_relay_publish_seconds', [], of), legend: 'p99' }],
          'One publish call of the relay (a batch of outbox rows) to the bus.'),
        timeseries('Outbox backlog', 'records', [{ expr: gauge('sum', 'orderflow_outbox_pending', [], of), legend: 'unpublished rows' }]),
        timeseries('Outbox oldest unpublished row', 'seconds', [{ expr: gauge('max', 'orderflow_outbox_oldest_age_seconds', [], of), legend: 'oldest' }]),
      ],
    });
  }
  if (s.circuits) {
    rows.push({
      title: 'Circuit breakers',
      panels: [timeseries('Circuit state by upstream', 'circuit', [{ expr: gauge('max', 'orderflow_circuit_state', ['upstream'], of), legend: '{{upstream}}' }], CIRCUIT_STATES)],
    });
  }
  rows.push({
    title: 'Process',
    panels: [
      ...runtimePanels([], of, s.name),
      timeseries('Event loop lag', 'seconds', [
        { expr: gauge('max', 'nodejs_eventloop_lag_p99_seconds', [], of), legend: 'p99' },
        { expr: gauge('max', 'nodejs_eventloop_lag_mean_seconds', [], of), legend: 'mean' },
      ], 'How late timers run: a busy or blocked event loop delays every request and message.'),
    ],
  });
  return { slug: s.name, name: s.title, title: `orderflow: ${s.name}`, description: s.description, rows };
}

/** Every page, the overview first (the order of the consoles' menu). */
export const dashboards: Dashboard[] = [overview(), ...services.map(servicePage)];
