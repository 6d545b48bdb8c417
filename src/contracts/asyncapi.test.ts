import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Parser } from '@asyncapi/parser';
import { ASYNCAPI_PATH, asyncApiDocument } from './asyncapi.ts';
import { allTopics, contracts } from './index.ts';
import { streamRecords } from './analytics.ts';

const root = join(import.meta.dirname, '..', '..');

test('the committed AsyncAPI document is what npm run api-docs draws from the contracts', () => {
  const committed = readFileSync(join(root, ASYNCAPI_PATH), 'utf8');
  assert.equal(committed, JSON.stringify(asyncApiDocument(), null, 2) + '\n', `${ASYNCAPI_PATH} is stale: run npm run api-docs`);
});

test('the AsyncAPI parser finds the document valid, with every topic, message version, key and owner', async () => {
  const { document, diagnostics } = await new Parser().parse(JSON.stringify(asyncApiDocument()));
  const errors = diagnostics.filter((d) => d.severity === 0);
  assert.deepEqual(errors.map((d) => `${d.path.join('/')}: ${d.message}`), []);
  assert.ok(document);
  const channels = document.channels().all().map((c) => c.address()).sort();
  assert.deepEqual(channels, [...allTopics, ...allTopics.map((t) => `${t}.dlq`), ...streamRecords.map((r) => r.topic)].sort());
  const messages = document.components().messages().all();
  assert.equal(messages.length, contracts.length + streamRecords.length);
  for (const c of contracts) {
    const m = messages.find((x) => x.id() === `${c.type}.v${c.version}`);
    assert.ok(m, `${c.type} v${c.version}`);
    assert.equal(m.json()['x-owner'], c.owner);
    assert.equal(m.json()['x-key'], c.key);
    assert.equal(document.channels().get(c.topic)?.messages().all().some((x) => x.id() === `${c.type}.v${c.version}`), true);
  }
  assert.equal(document.operations().all().every((o) => o.action() === 'send'), true);
});
