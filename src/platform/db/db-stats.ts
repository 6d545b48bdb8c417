/**
 * Counts what a service asks of its database, for the lab's per-order cost: every
 * statement sent (BEGIN, COMMIT and ROLLBACK included, so the count equals round trips;
 * a multi-statement script is one) and every transaction by outcome. A statement sent
 * outside BEGIN … COMMIT is a transaction of its own to the engine (PostgreSQL's
 * xact_commit counts it too), so it is counted as an implicit commit: the client view
 * then adds up to the server's. An implicit transaction that fails is still counted as a
 * commit (the adapters do not report a statement's outcome); rare enough not to matter.
 */
import { Counter, type Registry } from 'prom-client';

export interface DbStats {
  /**
   * One statement sent; `inTransaction` tells whether an explicit transaction was open when
   * it was. Returns what the statement does to the transaction state (read once per statement).
   */
  sent(sql: string, inTransaction: boolean): Verb;
}

export const DB_STATEMENTS = 'orderflow_db_statements_total';
export const DB_TRANSACTIONS = 'orderflow_db_transactions_total';

export type Verb = 'begin' | 'commit' | 'rollback' | 'other';

/** What a statement does to the transaction state, from its first word. */
export function verbOf(sql: string): Verb {
  const word = /^\s*([A-Za-z]+)/.exec(sql)?.[1]?.toUpperCase();
  if (word === 'BEGIN' || word === 'START') return 'begin';
  if (word === 'COMMIT' || word === 'END') return 'commit';
  // ROLLBACK TO SAVEPOINT ends no transaction.
  if (word === 'ROLLBACK' && !/^\s*ROLLBACK\s+(TRANSACTION\s+|WORK\s+)?TO\b/i.test(sql)) return 'rollback';
  return 'other';
}

/**
 * `orderflow_db_statements_total` and `orderflow_db_transactions_total{outcome, kind}`
 * (outcome commit|rollback; kind explicit for BEGIN … COMMIT, implicit for a lone
 * statement), registered into `registry`.
 */
export function createDbStats(registry: Registry): DbStats {
  const statements = new Counter({
    name: DB_STATEMENTS,
    help: 'Database statements sent (round trips), BEGIN/COMMIT/ROLLBACK included.',
    registers: [registry],
  });
  const transactions = new Counter({
    name: DB_TRANSACTIONS,
    help: 'Database transactions ended, by outcome (commit|rollback) and kind (explicit BEGIN … COMMIT, or implicit: one statement outside a transaction).',
    labelNames: ['outcome', 'kind'] as const,
    registers: [registry],
  });
  const explicitCommit = transactions.labels('commit', 'explicit');
  const explicitRollback = transactions.labels('rollback', 'explicit');
  const implicitCommit = transactions.labels('commit', 'implicit');
  return {
    sent(sql, inTransaction) {
      statements.inc();
      const verb = verbOf(sql);
      if (verb === 'commit') explicitCommit.inc();
      else if (verb === 'rollback') explicitRollback.inc();
      else if (verb === 'other' && !inTransaction) implicitCommit.inc();
      return verb;
    },
  };
}

interface Queryable {
  query: (...args: any[]) => any;
}

/**
 * Counts every query a `pg` client sends: installed on each pooled connection as it opens
 * (the pool's 'connect' event), so pool.query, transactions and scripts are all seen
 * without the adapter counting at each call site. The client tracks BEGIN … COMMIT itself.
 */
export function countPgQueries(client: Queryable, stats: DbStats): void {
  const query = client.query;
  let inTransaction = false;
  client.query = function countedQuery(this: unknown, config: unknown, ...rest: unknown[]) {
    const text = typeof config === 'string' ? config : String((config as { text?: unknown } | null)?.text ?? '');
    const verb = stats.sent(text, inTransaction);
    if (verb === 'begin') inTransaction = true;
    else if (verb === 'commit' || verb === 'rollback') inTransaction = false;
    return query.call(this, config, ...rest);
  };
}
