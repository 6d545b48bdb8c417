import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isOrderflowError } from '../errors.ts';
import { MAX_BODY_DEPTH, parseJsonBody, scanJson } from './json-body.ts';

const nested = (depth: number) => '{"a":'.repeat(depth - 1) + '{}' + '}'.repeat(depth - 1);
const codeOf = (text: string): string | undefined => {
  try {
    parseJsonBody(text);
    return undefined;
  } catch (err) {
    assert.ok(isOrderflowError(err), String(err));
    assert.equal(err.statusCode, 400);
    return err.code;
  }
};

test('nesting is counted outside strings only, to the limit and one past it', () => {
  assert.equal(scanJson(nested(MAX_BODY_DEPTH)), 'ok');
  assert.equal(scanJson(nested(MAX_BODY_DEPTH + 1)), 'too-deep');
  assert.equal(scanJson(`{"a":"${'['.repeat(100)}"}`), 'ok', 'brackets in a string are text');
  assert.equal(scanJson(`[${'[]'.repeat(1000)}]`), 'ok', 'width is not depth');
  assert.equal(codeOf(nested(4_500)), 'PLT_ERR_BODY_TOO_DEEP');
});

test('a NUL escape is found in any string, and an escaped backslash before "u0000" is not one', () => {
  assert.equal(scanJson('{"name":"a\\u0000b"}'), 'nul');
  assert.equal(scanJson('{"a\\u0000":1}'), 'nul', 'in a key too');
  assert.equal(scanJson('{"name":"a\\\\u0000b"}'), 'ok', 'the text \\u0000, written with an escaped backslash');
  assert.equal(scanJson('{"name":"a\\"\\u0000"}'), 'nul', 'after an escaped quote the string goes on');
  assert.equal(scanJson('{"n":"\\u00001"}'), 'nul');
  assert.equal(scanJson('{"n":"\\u0001"}'), 'ok', 'other control characters are text PostgreSQL stores');
  assert.equal(codeOf('{"city":"Paris\\u0000"}'), 'PLT_ERR_NUL_CHARACTER');
});

test('prototype keys, empty and malformed bodies get their own codes; a good body parses as JSON.parse would', () => {
  assert.equal(codeOf('{"__proto__":{"admin":true}}'), 'PLT_ERR_FORBIDDEN_KEY');
  assert.equal(codeOf('{"a":{"constructor":{"prototype":{"x":1}}}}'), 'PLT_ERR_FORBIDDEN_KEY');
  assert.equal(codeOf(''), 'PLT_ERR_MALFORMED_JSON');
  assert.equal(codeOf('{"a":'), 'PLT_ERR_MALFORMED_JSON');
  assert.equal(codeOf('{"a":1}x'), 'PLT_ERR_MALFORMED_JSON');
  const text = '{"items":[{"productId":"p","quantity":2}],"note":"é😀","n":null,"constructor":1}';
  assert.deepEqual(parseJsonBody(text), JSON.parse(text));
});
