/**
 * Checks answers of the public API against its OpenAPI document (docs/openapi.json): the
 * status must be one the operation documents, and a JSON body must match that status's
 * schema. The end-to-end tests run every answer their client receives through this.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

interface Operation { test: RegExp; method: string; path: string; responses: Record<string, { content?: Record<string, { schema: object }> }> }

export interface OpenApiChecker {
  /** What is wrong with this answer, or undefined when the document allows it. */
  check(method: string, url: string, status: number, body: unknown): string | undefined;
}

export function createOpenApiChecker(document: { paths: Record<string, Record<string, Operation['responses'] | any>> } = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'openapi.json'), 'utf8'))): OpenApiChecker {
  const ajv = new Ajv({ strict: false, allErrors: false });
  (addFormats as unknown as (a: Ajv) => void)(ajv);
  const operations: Operation[] = Object.entries(document.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => ({
      path,
      method: method.toUpperCase(),
      test: new RegExp(`^${path.replace(/\{[^}]+\}/g, '[^/]+')}$`),
      responses: (op as { responses: Operation['responses'] }).responses,
    })));
  const compiled = new Map<string, ValidateFunction>();
  return {
    check(method, url, status, body) {
      const path = url.split('?')[0];
      const op = operations.find((o) => o.method === method && o.test.test(path));
      if (!op) return `${method} ${path} is not in the OpenAPI document`;
      const response = op.responses[String(status)];
      if (!response) return `${method} ${op.path} answered ${status}, which the document does not list (${Object.keys(op.responses).join(', ')})`;
      const schema = response.content?.['application/json']?.schema;
      if (!schema || body === undefined || typeof body === 'string') return undefined;
      const key = `${method} ${op.path} ${status}`;
      let validate = compiled.get(key);
      if (!validate) compiled.set(key, (validate = ajv.compile(schema)));
      return validate(body) ? undefined : `${key}: ${ajv.errorsText(validate.errors)} in ${JSON.stringify(body).slice(0, 300)}`;
    },
  };
}
