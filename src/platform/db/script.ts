/**
 * Multi-statement scripts (migrations). The Sql port runs one statement at a time, which
 * is what both drivers want for parameterised queries; a schema script holds several. The
 * adapters attach a hidden `runScript` method (keyed by this symbol, so it stays off the
 * port) to the Sql objects they hand out: SQLite runs the text with `exec`, PostgreSQL
 * with one simple-protocol query. A Db from elsewhere (a wrapper, a test double) falls
 * back to `splitStatements`, which runs the statements one by one.
 */
import type { Sql } from './db.ts';

export const runScript: unique symbol = Symbol('orderflow.db.runScript');

export interface ScriptSql extends Sql {
  [runScript]?: (sql: string) => Promise<void>;
}

/** Runs a multi-statement script (no parameters) through `sql`. */
export async function executeScript(sql: Sql, script: string): Promise<void> {
  const direct = (sql as ScriptSql)[runScript];
  if (direct) return direct(script);
  for (const statement of splitStatements(script)) await sql.execute(statement);
}

/**
 * Splits SQL on `;` outside quotes, comments and PostgreSQL dollar-quoted bodies. Good
 * enough for schema scripts; it does not understand SQLite trigger bodies (BEGIN … END),
 * which only the `exec` path handles.
 */
export function splitStatements(script: string): string[] {
  const out: string[] = [];
  let start = 0;
  let i = 0;
  const n = script.length;
  while (i < n) {
    const c = script[i];
    if (c === "'" || c === '"') {
      i = script.indexOf(c, i + 1);
      if (i < 0) break;
      i++;
    } else if (c === '-' && script[i + 1] === '-') {
      i = script.indexOf('\n', i);
      if (i < 0) break;
    } else if (c === '/' && script[i + 1] === '*') {
      i = script.indexOf('*/', i + 2);
      if (i < 0) break;
      i += 2;
    } else if (c === '$') {
      const tag = /^\$[A-Za-z_]*\$/.exec(script.slice(i, i + 64));
      if (tag) {
        const end = script.indexOf(tag[0], i + tag[0].length);
        if (end < 0) break;
        i = end + tag[0].length;
      } else i++;
    } else if (c === ';') {
      push(out, script.slice(start, i));
      start = ++i;
    } else i++;
  }
  push(out, script.slice(start));
  return out;
}

function push(out: string[], statement: string): void {
  // A chunk holding only comments is not a statement.
  const body = statement.replace(/--[^\n]*|\/\*[\s\S]*?\*\//g, '').trim();
  if (body) out.push(statement.trim());
}
