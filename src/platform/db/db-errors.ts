/**
 * Errors raised by the Db adapters and the migration runner. Driver errors (constraint
 * violations, serialisation failures) pass through unwrapped so callers can read their codes;
 * only our own timeouts are coded (the driver's error as the cause).
 */
import { defineError } from '../errors.ts';

/** A statement or transaction was started on a Db after `close()`. */
export const DbClosed = defineError('PLT_ERR_DB_CLOSED', 503);
/** A transaction's Sql was used after its callback settled (a leaked reference). */
export const TransactionFinished = defineError('PLT_ERR_TRANSACTION_FINISHED', 500);
/** A migration failed to apply; `cause` holds the driver error. */
export const MigrationFailed = defineError('PLT_ERR_MIGRATION_FAILED', 500);
/** A statement ran past statement_timeout, or a transaction idled past idle_in_transaction_session_timeout (postgres.ts). */
export const DbTimeout = defineError('PLT_ERR_DB_TIMEOUT', 503);
