/** Topic names. Commands go to the topic of the service that carries them out; events to their owner's. */
export const Topics = {
  ordersEvents: 'orders.events',
  inventoryCommands: 'inventory.commands',
  inventoryEvents: 'inventory.events',
  paymentsCommands: 'payments.commands',
  paymentsEvents: 'payments.events',
  shippingCommands: 'shipping.commands',
  shippingEvents: 'shipping.events',
  usersEvents: 'users.events',
  /** What shoppers' clients report (views, searches, cart changes), keyed by session: the ingestion service's store. */
  clientEvents: 'client.events',
  cartEvents: 'cart.events',
} as const;

export type TopicName = (typeof Topics)[keyof typeof Topics];

export const allTopics: TopicName[] = Object.values(Topics);

export const deadLetterTopic = (topic: string): string => `${topic}.dlq`;
