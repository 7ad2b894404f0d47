/**
 * Request validation against the official open-api.json: the components' JSON schemas are compiled once with ajv
 * (OpenAPI 3.0 `nullable` translated to JSON Schema), and each implemented operation gets validators for its body,
 * query and path parameters. Non-conforming requests are answered as the real API does: 400 with exception 21405
 * ("Błąd walidacji danych wejściowych.") and the validator's messages in `details`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Ajv, type ValidateFunction, type ErrorObject } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { ConfigError } from '../../errors/index.js';
import { PROJECT_ROOT } from '../../schemas/index.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

const SPEC_ID = 'ksef-openapi.json';
export const OPENAPI_ENV = 'KSEF_BRIDGE_OPENAPI';

/** Finds open-api.json: explicit path, $KSEF_BRIDGE_OPENAPI, <project>/schemas/open-api.json, ../shared/ksef/open-api.json. */
export function resolveOpenApiPath(explicit?: string): string {
  const candidates = explicit
    ? [explicit]
    : [process.env[OPENAPI_ENV], path.join(PROJECT_ROOT, 'schemas', 'open-api.json'), path.resolve(PROJECT_ROOT, '..', 'shared', 'ksef', 'open-api.json')].filter(
        (p): p is string => !!p,
      );
  for (const c of candidates) if (fs.existsSync(c)) return path.resolve(c);
  throw new ConfigError('OPENAPI_MISSING', `the KSeF open-api.json was not found in ${candidates.join(' or ')}`, { field: 'openApiPath' }, {
    hint: `set ${OPENAPI_ENV} or the emulator's openApiPath to the official open-api.json (CIRFMF/ksef-docs)`,
  });
}

/** OpenAPI 3.0 -> JSON Schema: `nullable: true` becomes a union with null; local refs point into the spec document. */
export function toJsonSchema(node: Json): Json {
  if (Array.isArray(node)) return node.map(toJsonSchema);
  if (!node || typeof node !== 'object') return node;
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === '$ref' && typeof v === 'string' && v.startsWith('#/')) out[k] = `${SPEC_ID}${v}`;
    else if (k === 'example' || k === 'examples') continue;
    else out[k] = toJsonSchema(v);
  }
  if (out.nullable === true) {
    delete out.nullable;
    if (typeof out.type === 'string') {
      out.type = [out.type, 'null'];
      if (Array.isArray(out.enum)) out.enum = [...out.enum, null];
      return out;
    }
    return { anyOf: [out, { type: 'null' }] };
  }
  return out;
}

export interface OperationValidator {
  validate(input: { json: unknown; hasBody: boolean; query: URLSearchParams; params: Record<string, string> }): string[];
}

interface ParamSpec {
  name: string;
  in: string;
  required: boolean;
  isArray: boolean;
  itemType: string | undefined;
  type: string | undefined;
  validate: ValidateFunction;
}

export class ContractValidator {
  private readonly ajv: Ajv;
  private readonly spec: JsonObject;
  private readonly cache = new Map<string, OperationValidator>();

  constructor(specPath: string) {
    this.spec = JSON.parse(fs.readFileSync(specPath, 'utf8')) as JsonObject;
    this.ajv = new Ajv({ strict: false, allErrors: true, logger: false, validateFormats: true });
    const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
    addFormats(this.ajv);
    const components = (this.spec.components as JsonObject | undefined)?.schemas ?? {};
    const converted = toJsonSchema(components) as JsonObject;
    allowLocalDateTimes(converted);
    this.ajv.addSchema({ $id: SPEC_ID, components: { schemas: converted } } as object);
  }

  /** Resolves `$ref`s of the raw spec (for parameters). */
  private resolveRaw(node: Json): Json {
    if (node && typeof node === 'object' && !Array.isArray(node) && typeof node.$ref === 'string') {
      const ptr = node.$ref.replace(/^#\//, '').split('/');
      let cur: Json = this.spec;
      for (const p of ptr) cur = (cur as JsonObject)[p.replace(/~1/g, '/').replace(/~0/g, '~')] as Json;
      return cur;
    }
    return node;
  }

  /** Every operation of the spec, as (method, path) with the path as written in open-api.json. */
  operations(): { method: string; path: string }[] {
    const out: { method: string; path: string }[] = [];
    for (const [p, item] of Object.entries((this.spec.paths as JsonObject | undefined) ?? {})) {
      for (const m of Object.keys(item as JsonObject)) {
        if (['get', 'post', 'put', 'delete', 'patch'].includes(m)) out.push({ method: m.toUpperCase(), path: p });
      }
    }
    return out;
  }

  hasOperation(opPath: string, method: string): boolean {
    const p = (this.spec.paths as JsonObject | undefined)?.[opPath] as JsonObject | undefined;
    return !!p?.[method.toLowerCase()];
  }

  forOperation(opPath: string, method: string): OperationValidator | null {
    const key = `${method} ${opPath}`;
    const cached = this.cache.get(key);
    if (cached) return cached;
    const op = ((this.spec.paths as JsonObject | undefined)?.[opPath] as JsonObject | undefined)?.[method.toLowerCase()] as JsonObject | undefined;
    if (!op) return null;
    const bodySchema = ((op.requestBody as JsonObject | undefined)?.content as JsonObject | undefined)?.['application/json'] as JsonObject | undefined;
    const bodyValidate = bodySchema?.schema ? this.ajv.compile(toJsonSchema(bodySchema.schema) as object) : null;
    const bodyRequired = !!bodySchema;
    const params: ParamSpec[] = ((op.parameters as Json[] | undefined) ?? []).map((raw) => {
      const p = this.resolveRaw(raw) as JsonObject;
      const schema = toJsonSchema((p.schema as Json) ?? {}) as JsonObject;
      const resolved = (typeof schema.$ref === 'string' ? undefined : schema) ?? {};
      const items = resolved.items as JsonObject | undefined;
      return {
        name: String(p.name),
        in: String(p.in),
        required: p.required === true,
        isArray: resolved.type === 'array',
        itemType: typeof items?.type === 'string' ? items.type : undefined,
        type: typeof resolved.type === 'string' ? resolved.type : undefined,
        validate: this.ajv.compile(schema as object),
      };
    });
    const validator: OperationValidator = {
      validate: ({ json, hasBody, query, params: pathParams }) => {
        const errors: string[] = [];
        for (const p of params) {
          if (p.in === 'header') continue;
          let value: unknown;
          if (p.in === 'path') value = pathParams[p.name];
          else if (p.in === 'query') {
            const all = query.getAll(p.name).flatMap((v) => (p.isArray ? v.split(',') : [v]));
            if (all.length === 0) value = undefined;
            else value = p.isArray ? all.map((v) => coerce(v, p.itemType)) : coerce(all[0] as string, p.type);
          }
          if (value === undefined) {
            if (p.required) errors.push(`The ${p.name} field is required.`);
            continue;
          }
          if (!p.validate(value)) errors.push(...formatErrors(p.validate.errors, p.name));
        }
        if (bodyRequired && bodyValidate) {
          if (!hasBody || json === undefined) errors.push('A non-empty request body is required.');
          else if (!bodyValidate(json)) errors.push(...formatErrors(bodyValidate.errors, ''));
        }
        return errors;
      },
    };
    this.cache.set(key, validator);
    return validator;
  }
}

/**
 * Where the contract's own description allows date-times without an offset ("bez offsetu (interpretowane jako czas
 * lokalny strefy Europe/Warsaw)", e.g. `InvoiceQueryFilters.dateRange`, used by /invoices/query/metadata and
 * /invoices/exports), the `date-time` properties of the referenced schema are checked with ajv-formats'
 * `iso-date-time` (RFC 3339 with an optional offset) instead of `date-time` (offset required). The handlers read such
 * values as Warsaw local time. Everywhere else (e.g. the GET /sessions date filters, whose descriptions say nothing)
 * an offset stays required, as the schema's `date-time` format says.
 */
function allowLocalDateTimes(converted: JsonObject): void {
  const targets = new Set<string>();
  const visit = (node: Json): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (!node || typeof node !== 'object') return;
    if (typeof node.description === 'string' && /bez offsetu/i.test(node.description)) {
      const refs = [node, ...(Array.isArray(node.allOf) ? node.allOf : [])];
      for (const r of refs) {
        const ref = r && typeof r === 'object' && !Array.isArray(r) ? r.$ref : undefined;
        if (typeof ref === 'string') targets.add(ref.replace(/^.*#\/components\/schemas\//, ''));
      }
      if (node.format === 'date-time') node.format = 'iso-date-time';
    }
    for (const v of Object.values(node)) visit(v);
  };
  visit(converted);
  for (const name of targets) {
    const props = ((converted[name] as JsonObject | undefined)?.properties ?? {}) as JsonObject;
    for (const p of Object.values(props)) {
      if (p && typeof p === 'object' && !Array.isArray(p) && p.format === 'date-time') p.format = 'iso-date-time';
    }
  }
}

function coerce(v: string, type: string | undefined): unknown {
  if (type === 'integer' || type === 'number') return v.trim() !== '' && !Number.isNaN(Number(v)) ? Number(v) : v;
  if (type === 'boolean') return v === 'true' ? true : v === 'false' ? false : v;
  return v;
}

function formatErrors(errors: ErrorObject[] | null | undefined, root: string): string[] {
  const seen = new Set<string>();
  for (const e of errors ?? []) {
    if (e.keyword === 'anyOf' || e.keyword === 'if') continue;
    const where = `${root}${e.instancePath.replace(/\//g, '.')}`.replace(/^\./, '') || 'body';
    const extra = e.keyword === 'additionalProperties' ? ` '${String((e.params as { additionalProperty?: string }).additionalProperty)}'` : '';
    seen.add(`'${where}': ${e.message ?? 'is invalid'}${extra}`);
  }
  return [...seen];
}
