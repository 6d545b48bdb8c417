/** The services of orderflow and their default ports (system.ts re-exports them). */
export const serviceNames = ['gateway', 'orders', 'inventory', 'payments', 'shipping', 'users', 'notifications', 'ingestion', 'analytics', 'cart'] as const;
export type ServiceName = (typeof serviceNames)[number];

export const defaultPorts: Readonly<Record<ServiceName, number>> = Object.freeze({ gateway: 8080, orders: 8081, inventory: 8082, payments: 8083, shipping: 8084, users: 8085, notifications: 8087, ingestion: 8088, analytics: 8089, cart: 8086 });
