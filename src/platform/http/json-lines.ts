/**
 * Many reads in one call, for the gateway's gathered reads: `?ids=a,b,c` in, one line per id
 * out, in order: the id's JSON answer, or an empty line when there is none (the caller then
 * asks the one-id route for its exact answer). JSON never holds a raw newline, so the lines
 * split without parsing.
 */
import { Type } from '@sinclair/typebox';

/** The most ids one call takes; the gateway sends at most this many. */
export const maxIdsPerCall = 128;

const uuid = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}';

/** The querystring schema: `ids`, 1 to maxIdsPerCall UUIDs separated by commas. */
export const IdsQuery = Type.Object({ ids: Type.String({ pattern: `^${uuid}(,${uuid}){0,${maxIdsPerCall - 1}}$` }) });

export const jsonLinesType = 'application/x-ndjson; charset=utf-8';

const newline = Buffer.from('\n');
const empty = Buffer.alloc(0);

/** The body: each answer (JSON bytes or text, undefined for none) on its own line. */
export function jsonLines(answers: ReadonlyArray<Buffer | string | undefined>): Buffer {
  const parts: Buffer[] = [];
  for (const a of answers) parts.push(a === undefined ? empty : typeof a === 'string' ? Buffer.from(a) : a, newline);
  return Buffer.concat(parts);
}
