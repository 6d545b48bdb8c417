/** Loggers for tests. */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { silentLogger, type Logger } from '#platform/log.ts';
import { logMixin } from '#platform/telemetry/log-context.ts';

/** A logger that remembers its warnings (pino's shape, only what the handlers call). */
export function recordingLogger(): { log: Logger; warnings: unknown[] } {
  const warnings: unknown[] = [];
  const log = Object.create(silentLogger) as Logger;
  log.warn = ((obj: unknown) => void warnings.push(obj)) as Logger['warn'];
  return { log, warnings };
}

/** A pino logger like createLogger's (same mixin), whose lines are parsed into `lines`. */
export function capturingLogger(): { log: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  return { lines, log: pino({ level: 'info', mixin: logMixin }, stream) };
}
