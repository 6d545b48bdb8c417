/**
 * The AsyncAPI 3.0 document of every message, drawn from the contracts: a channel per topic
 * (and its dead-letter topic), a `send` operation per owner and topic, and a message per
 * type and version with its payload schema (the contract's own TypeBox schema, which is
 * JSON Schema), its key and its owner. `npm run api-docs` writes it to docs/asyncapi.json;
 * a test fails when the committed file is stale, and validates it with @asyncapi/parser.
 */
import type { Contract } from './contract.ts';
import { contracts as allContracts } from './index.ts';
import { allTopics, deadLetterTopic } from './topics.ts';
import { streamRecords } from './analytics.ts';

export const ASYNCAPI_PATH = 'docs/asyncapi.json';

const messageId = (c: Contract) => `${c.type}.v${c.version}`;
// The TypeBox markers are symbols: JSON drops them and leaves plain JSON Schema.
const jsonSchema = (schema: unknown): unknown => JSON.parse(JSON.stringify(schema));

// The record value wraps the payload (platform/bus/envelope.ts).
const envelopeOf = (c: Contract) => ({
  type: 'object',
  required: ['id', 'type', 'version', 'key', 'occurredAt', 'payload'],
  properties: {
    id: { type: 'string', format: 'uuid', description: 'The message id (UUIDv7); consumers are idempotent by it.' },
    type: { const: c.type },
    version: { const: c.version },
    key: { type: 'string', description: `The record key: the payload's ${c.key}.` },
    occurredAt: { type: 'string', format: 'date-time' },
    payload: jsonSchema(c.schema),
  },
});

const headers = {
  type: 'object',
  required: ['type'],
  properties: {
    type: { type: 'string', description: 'The message type, so a consumer can skip or dead-letter a record unread.' },
    correlationId: { type: 'string', description: 'The id of the first message of this story (the order placement).' },
    causationId: { type: 'string', description: 'The id of the message whose handling produced this one.' },
    traceparent: { type: 'string', description: 'W3C trace context, when tracing is on.' },
  },
};

export function asyncApiDocument(contracts: readonly Contract[] = allContracts, version = '0.1.0'): Record<string, unknown> {
  const sorted = [...contracts].sort((a, b) => a.topic.localeCompare(b.topic) || a.type.localeCompare(b.type) || a.version - b.version);
  const channels: Record<string, unknown> = {};
  const operations: Record<string, unknown> = {};
  const messages: Record<string, unknown> = {};
  for (const c of sorted) {
    messages[messageId(c)] = {
      name: c.type,
      title: `${c.type} v${c.version}`,
      summary: `A${c.kind === 'event' ? 'n event' : ' command'} of ${c.owner}, keyed by ${c.key}.`,
      contentType: 'application/json',
      headers,
      payload: envelopeOf(c),
      bindings: { kafka: { key: { type: 'string', description: `The payload's ${c.key}` }, bindingVersion: '0.5.0' } },
      'x-owner': c.owner,
      'x-kind': c.kind,
      'x-version': c.version,
      'x-key': c.key,
    };
  }
  for (const topic of [...allTopics].sort()) {
    const here = sorted.filter((c) => c.topic === topic);
    const owner = here[0]?.owner;
    const refs = Object.fromEntries(here.map((c) => [messageId(c), { $ref: `#/components/messages/${messageId(c)}` }]));
    channels[topic] = {
      address: topic,
      title: topic,
      description: topic.endsWith('.commands') ? `Commands ${owner} carries out.` : `Events ${owner} publishes.`,
      messages: refs,
      'x-owner': owner,
    };
    // Dead letters keep the record as it was, with dlq-* headers saying why.
    channels[deadLetterTopic(topic)] = {
      address: deadLetterTopic(topic),
      title: deadLetterTopic(topic),
      description: `Records of ${topic} a consumer gave up on, unchanged, with dlq-error-code, dlq-error-message, dlq-attempts, dlq-original-* and dlq-id (the row of the consuming service's dead_letters table, which holds its state) headers. Kept forever unless ORDERFLOW_DLQ_RETENTION_DAYS says otherwise. Listed, replayed and discarded with orderflow dlq.`,
      messages: refs,
    };
    if (owner !== undefined) {
      operations[`${owner}-sends-${topic}`] = {
        action: 'send',
        channel: { $ref: `#/channels/${topic}` },
        // Ingestion keeps no database: the log is its store, appended to straight away.
        summary: owner === 'ingestion' ? `${owner} appends to ${topic} directly: the log is where client events are kept.` : `${owner} publishes to ${topic} through its transactional outbox.`,
        messages: here.map((c) => ({ $ref: `#/channels/${topic}/messages/${messageId(c)}` })),
      };
    }
  }
  // The stream processors' records: no envelope, the value is the record (contracts/analytics.ts).
  for (const r of streamRecords) {
    const id = `${r.topic}.record`;
    messages[id] = {
      name: r.topic,
      title: r.topic,
      summary: r.description,
      contentType: 'application/json',
      payload: jsonSchema(r.schema),
      bindings: { kafka: { key: { type: 'string', description: r.key }, bindingVersion: '0.5.0' } },
      'x-owner': r.owner,
      'x-kind': 'stream-record',
      'x-key': r.key,
    };
    channels[r.topic] = { address: r.topic, title: r.topic, description: `Records ${r.owner}'s stream processors publish. ${r.description}`, messages: { [id]: { $ref: `#/components/messages/${id}` } }, 'x-owner': r.owner };
    operations[`${r.owner}-sends-${r.topic}`] = {
      action: 'send',
      channel: { $ref: `#/channels/${r.topic}` },
      summary: `${r.owner}'s stream processors publish to ${r.topic} from the outbox of their changelog (platform/streams).`,
      messages: [{ $ref: `#/channels/${r.topic}/messages/${id}` }],
    };
  }
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'orderflow messages',
      version,
      description: 'Every message of orderflow: its topic, type, version, key, owner and payload. Generated from src/contracts by npm run api-docs; the evolution policy is in docs/contracts.md.',
    },
    defaultContentType: 'application/json',
    servers: {
      local: { host: '127.0.0.1:9092', protocol: 'kafka', description: 'The broker of npm run infra:kafka; on the embedded default the same topics live in the embedded log.' },
    },
    channels,
    operations,
    components: { messages },
  };
}
