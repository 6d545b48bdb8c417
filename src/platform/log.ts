/**
 * One pino logger per process; services derive children per module. Each line carries the
 * trace and the order or message being handled when there is one (telemetry/log-context.ts).
 */
import { pino, type Logger } from 'pino';
import { logMixin } from './telemetry/log-context.ts';

export type { Logger };

export function createLogger(name: string, level = 'info'): Logger {
  return pino({ name, level, base: { pid: process.pid, service: name }, mixin: logMixin });
}

/** A logger that drops everything, for tests and tools that print their own output. */
export const silentLogger: Logger = pino({ level: 'silent' });
