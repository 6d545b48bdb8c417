/**
 * What shoppers' clients report: a product viewed, a search, a cart line changed. They are
 * facts about a session (an anonymous visitor, or a customer when the client was logged
 * in), keyed by the session so that one visit's events stay in order on one partition.
 * `occurredAt` of the envelope is the client's timestamp (event time, for analytics'
 * windows); the ingestion service refuses one too far from its own clock.
 */
import { Type } from '@sinclair/typebox';
import { defineContract } from './contract.ts';
import { Uuid } from './shared.ts';
import { Topics } from './topics.ts';

const Visit = {
  sessionId: Type.String({ minLength: 1, maxLength: 100 }),
  /** The customer, when the client sent a valid access token; absent for an anonymous visitor. */
  customerId: Type.Optional(Type.String({ minLength: 1 })),
};

export const ProductViewed = defineContract({
  type: 'ProductViewed', version: 1, topic: Topics.clientEvents, owner: 'ingestion', kind: 'event', key: 'sessionId',
  schema: Type.Object({ ...Visit, productId: Uuid }),
});

export const ProductSearched = defineContract({
  type: 'ProductSearched', version: 1, topic: Topics.clientEvents, owner: 'ingestion', kind: 'event', key: 'sessionId',
  schema: Type.Object({ ...Visit, query: Type.String({ minLength: 1, maxLength: 200 }), resultCount: Type.Optional(Type.Integer({ minimum: 0 })) }),
});

export const CartUpdated = defineContract({
  type: 'CartUpdated', version: 1, topic: Topics.clientEvents, owner: 'ingestion', kind: 'event', key: 'sessionId',
  schema: Type.Object({ ...Visit, productId: Uuid, quantity: Type.Integer({ minimum: 0, maximum: 1000 }) }),
});
