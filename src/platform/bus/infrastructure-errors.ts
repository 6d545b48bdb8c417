/**
 * What a consumer never dead-letters: an error that says the database or a dependency is
 * unavailable, or a transient conflict, rather than that the message cannot be handled.
 * The batch is then rejected and delivered again after a pause.
 */
const INFRA_CODES = new Set([
  'PLT_ERR_DB_CLOSED', 'PLT_ERR_DB_TIMEOUT', 'PLT_ERR_DEPENDENCY_UNAVAILABLE', 'PLT_ERR_SHUTTING_DOWN',
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH',
  '57P01', '57P02', '57P03', '53300', '53200', '53100', '58030',
  // Transient by nature: a serialization failure, a deadlock or a lost optimistic-concurrency
  // race succeeds when run again, so it must never send a good message to the dead letters.
  '40001', '40P01', 'PLT_ERR_CONCURRENCY_CONFLICT',
]);
// SQLite primary result codes: BUSY, LOCKED, NOMEM, READONLY, IOERR, CORRUPT, FULL, CANTOPEN.
const SQLITE_INFRA_ERRCODES = new Set([5, 6, 7, 8, 10, 11, 13, 14]);

/**
 * True when `err` (or anything in its cause chain) says the database or a dependency is
 * unavailable rather than that the message cannot be handled.
 */
export function isInfrastructureError(err: unknown): boolean {
  for (let e: any = err, depth = 0; e != null && depth < 10; e = e.cause, depth++) {
    const code = typeof e.code === 'string' ? e.code : undefined;
    if (code !== undefined && (INFRA_CODES.has(code) || code.startsWith('08'))) return true;
    if (typeof e.errcode === 'number' && SQLITE_INFRA_ERRCODES.has(e.errcode & 0xff)) return true;
    if (e instanceof AggregateError && e.errors.some(isInfrastructureError)) return true;
    if (typeof e.message === 'string' && /Connection terminated|connection (is )?closed/i.test(e.message)) return true;
  }
  return false;
}
