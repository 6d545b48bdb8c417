/**
 * The JSON body parser of every service. Fastify's own would take any depth (a body nested
 * thousands of levels deep parses, then overflows the stack where it is serialised again:
 * a 500) and any string (PostgreSQL refuses a NUL character in text: a 500 again, after the
 * request was accepted), and answers a `__proto__` key with "Body is not valid JSON". Here a
 * body is refused with a coded 400 that says what is wrong before anything reads it.
 */
import { parse as secureParse } from 'secure-json-parse';
import type { FastifyInstance } from 'fastify';
import { defineError } from '../errors.ts';

export const MalformedJson = defineError('PLT_ERR_MALFORMED_JSON', 400);
export const BodyTooDeep = defineError('PLT_ERR_BODY_TOO_DEEP', 400);
export const NulCharacter = defineError('PLT_ERR_NUL_CHARACTER', 400);
export const ForbiddenKey = defineError('PLT_ERR_FORBIDDEN_KEY', 400);

/** Deeper than any body of the API (an order: object → items → item is 3). */
export const MAX_BODY_DEPTH = 32;

const BACKSLASH = 92;
const QUOTE = 34;

/**
 * One pass over the text: the deepest nesting outside strings, and whether a string holds
 * the escape \u0000 (a raw control character is not valid JSON, so the escape is the only
 * way a NUL gets in). Stops at the first problem.
 */
export function scanJson(text: string, maxDepth = MAX_BODY_DEPTH): 'ok' | 'too-deep' | 'nul' {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === QUOTE) inString = false;
      else if (c === BACKSLASH) {
        // \u0000 (hex digits in either case; "0" has no case) and skip the escaped character.
        if (text.charCodeAt(i + 1) === 117 /* u */ && text.startsWith('0000', i + 2)) return 'nul';
        i++;
      }
      continue;
    }
    if (c === QUOTE) inString = true;
    else if (c === 123 /* { */ || c === 91 /* [ */) {
      if (++depth > maxDepth) return 'too-deep';
    } else if (c === 125 /* } */ || c === 93 /* ] */) depth--;
  }
  return 'ok';
}

/** Parses one JSON body, or throws the coded 400 that says why not. */
export function parseJsonBody(text: string): unknown {
  if (text.length === 0) throw MalformedJson('the body is empty; send a JSON document');
  const scan = scanJson(text);
  if (scan === 'too-deep') throw BodyTooDeep(`the body nests objects and arrays deeper than ${MAX_BODY_DEPTH} levels`);
  if (scan === 'nul') throw NulCharacter('a string in the body holds the NUL character (\\u0000), which is refused');
  try {
    return secureParse(text, undefined, { protoAction: 'error', constructorAction: 'error' });
  } catch (err) {
    const message = (err as Error).message;
    // secure-json-parse's own refusals of a prototype-polluting key, and JSON.parse's syntax errors.
    if (/prototype property/.test(message)) throw ForbiddenKey('the body has a "__proto__" or "constructor.prototype" key, which is refused');
    throw MalformedJson(`the body is not valid JSON: ${message}`);
  }
}

/** Replaces the app's application/json parser with parseJsonBody. */
export function installJsonBodyParser(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, parseJsonBody(body as string));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
}
