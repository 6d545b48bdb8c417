/**
 * The JSON schemas kubeconform checks the chart's rendered objects against, in one folder
 * named as kubeconform looks them up (`{{ .ResourceKind }}{{ .KindSuffix }}.json`:
 * deployment-apps-v1.json, scaledobject-keda-v1alpha1.json):
 * - Kubernetes' own kinds from kubernetes-validate's strict schemas. Each of its files refers
 *   to `/api/_definitions.json`, which kubeconform cannot resolve (it would ask
 *   kubernetes.io): each kind here is made standalone, with the definitions it reaches copied
 *   into its `$defs`.
 * - Custom resources (KEDA's ScaledObject and TriggerAuthentication) from their CRD's openAPIV3Schema, converted as
 *   kubeconform's openapi2jsonschema.py does (no unknown properties, int-or-string as either),
 *   and strict at the root too.
 * A kind with neither is left out, and kubeconform, never told to ignore a missing schema,
 * fails on it.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const DEFINITIONS_REF = '/api/_definitions.json#/$defs/';

/** kubeconform's file name of a kind: deployment-apps-v1, service-v1, scaledobject-keda-v1alpha1. */
export function schemaFileName(apiVersion: string, kind: string): string {
  const [groupOrVersion, version] = apiVersion.split('/');
  const suffix = version === undefined ? `-${groupOrVersion}` : `-${groupOrVersion.split('.')[0]}-${version}`;
  return `${kind}${suffix}.json`.toLowerCase();
}

/** kubernetes-validate's schema of one kind, with every definition it reaches inlined; undefined when it has none. */
export function standaloneKubernetesSchema(schemasDir: string, apiVersion: string, kind: string, definitions: JsonObject): JsonObject | undefined {
  const file = join(schemasDir, schemaFileName(apiVersion, kind));
  if (!existsSync(file)) return undefined;
  const schema = JSON.parse(readFileSync(file, 'utf8')) as JsonObject;
  const reached: JsonObject = {};
  const pending = [...refsIn(schema)];
  while (pending.length > 0) {
    const name = pending.pop()!;
    if (name in reached) continue;
    const def = definitions[name];
    if (def === undefined) throw new Error(`${file}: no definition ${name} in _definitions.json`);
    reached[name] = def;
    pending.push(...refsIn(def));
  }
  const { $id: _id, ...rest } = rewriteRefs(schema) as JsonObject;
  return { ...rest, $defs: reached };
}

/** The names of the definitions a schema refers to (both spellings: the kind files' and _definitions.json's own). */
function refsIn(node: Json): string[] {
  if (Array.isArray(node)) return node.flatMap(refsIn);
  if (node === null || typeof node !== 'object') return [];
  const own = typeof node.$ref === 'string' ? [node.$ref.replace(DEFINITIONS_REF, '').replace('#/$defs/', '')] : [];
  return [...own, ...Object.entries(node).filter(([k]) => k !== '$ref').flatMap(([, v]) => refsIn(v))];
}

function rewriteRefs(node: Json): Json {
  if (Array.isArray(node)) return node.map(rewriteRefs);
  if (node === null || typeof node !== 'object') return node;
  return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, k === '$ref' && typeof v === 'string' ? v.replace(DEFINITIONS_REF, '#/$defs/') : rewriteRefs(v)]));
}

/** Each served version of each CRD in the YAML files, as kubeconform's schema of that kind. */
export function crdSchemas(files: readonly string[]): Map<string, JsonObject> {
  const out = new Map<string, JsonObject>();
  for (const file of files) {
    for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
      const crd = doc.toJS() as { kind?: string; spec?: { group: string; names: { kind: string }; versions: Array<{ name: string; served?: boolean; schema?: { openAPIV3Schema?: JsonObject } }> } };
      if (crd?.kind !== 'CustomResourceDefinition' || !crd.spec) continue;
      for (const v of crd.spec.versions) {
        if (v.served === false || !v.schema?.openAPIV3Schema) continue;
        out.set(schemaFileName(`${crd.spec.group}/${v.name}`, crd.spec.names.kind), { $schema: 'http://json-schema.org/draft-07/schema#', ...strict(v.schema.openAPIV3Schema) as JsonObject });
      }
    }
  }
  return out;
}

/**
 * openapi2jsonschema's conversion: an object with properties takes no others (as kubectl
 * validates) unless the API server keeps unknown fields there; int-or-string is either;
 * OpenAPI's nullable is JSON Schema's null type.
 */
function strict(node: Json): Json {
  if (Array.isArray(node)) return node.map(strict);
  if (node === null || typeof node !== 'object') return node;
  if (node.format === 'int-or-string' || node['x-kubernetes-int-or-string'] === true) {
    const { format: _f, type: _t, 'x-kubernetes-int-or-string': _x, ...rest } = node;
    return { ...rest, oneOf: [{ type: 'string' }, { type: 'integer' }] };
  }
  const out: JsonObject = Object.fromEntries(Object.entries(node).map(([k, v]) => [k, k === 'properties' && v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).map(([p, s]) => [p, strict(s)])) : strict(v)]));
  if ('properties' in node && !('additionalProperties' in node) && node['x-kubernetes-preserve-unknown-fields'] !== true) out.additionalProperties = false;
  if (node.nullable === true && typeof node.type === 'string') {
    out.type = [node.type, 'null'];
    delete out.nullable;
  }
  return out;
}

/**
 * Writes the schema of every kind in `kinds` (apiVersion and kind) that kubernetes-validate or
 * a CRD has into `dir`; returns kubeconform's -schema-location for it.
 */
export function writeSchemas(dir: string, kinds: ReadonlyArray<{ apiVersion: string; kind: string }>, sources: { kubernetesSchemas: string; crds: readonly string[] }): string {
  mkdirSync(dir, { recursive: true });
  const crds = crdSchemas(sources.crds);
  let definitions: JsonObject | undefined;
  for (const { apiVersion, kind } of kinds) {
    const name = schemaFileName(apiVersion, kind);
    definitions ??= (JSON.parse(readFileSync(join(sources.kubernetesSchemas, '_definitions.json'), 'utf8')) as { $defs: JsonObject }).$defs;
    const schema = crds.get(name) ?? standaloneKubernetesSchema(sources.kubernetesSchemas, apiVersion, kind, definitions);
    if (schema) writeFileSync(join(dir, name), JSON.stringify(schema));
  }
  return join(dir, '{{ .ResourceKind }}{{ .KindSuffix }}.json');
}
