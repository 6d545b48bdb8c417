/** Loggers for tests. */
import { silentLogger, type Logger } from '#platform/log.ts';

/** A logger that remembers its warnings (pino's shape, only what the handlers call). */
export function recordingLogger(): { log: Logger; warnings: unknown[] } {
  const warnings: unknown[] = [];
  const log = Object.create(silentLogger) as Logger;
  log.warn = ((obj: unknown) => void warnings.push(obj)) as Logger['warn'];
  return { log, warnings };
}
