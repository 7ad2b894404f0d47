/**
 * Validates the emulator's responses against the official open-api.json, independently of the emulator's own code:
 * the response schema for (method, path template, status, content type) is looked up in the spec, `$ref`s resolved
 * against the spec's components, OpenAPI 3.0 `nullable` honoured. A status the spec does not list for the path is a
 * failure too.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

export const SPEC_PATH = process.env.KSEF_BRIDGE_OPENAPI ?? path.resolve(import.meta.dirname, '../../../../shared/ksef/open-api.json');
const spec = JSON.parse(fs.readFileSync(SPEC_PATH, 'utf8')) as Obj;

function convert(node: Json): Json {
  if (Array.isArray(node)) return node.map(convert);
  if (!node || typeof node !== 'object') return node;
  const out: Obj = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === 'example' || k === 'examples') continue;
    out[k] = k === '$ref' && typeof v === 'string' ? `spec#${v.slice(1)}` : convert(v);
  }
  if (out.nullable === true) {
    delete out.nullable;
    return { anyOf: [out, { type: 'null' }] };
  }
  return out;
}

const ajv = new Ajv({ strict: false, allErrors: true, logger: false });
(addFormatsModule as unknown as (a: Ajv) => void)(ajv);
ajv.addSchema({ $id: 'spec', components: convert(spec.components as Json) } as object);
const cache = new Map<string, ValidateFunction | null>();

export interface ContractCheck {
  ok: boolean;
  errors: string[];
}

/** Checks a response body against the schema the spec gives for it. `template` is the spec path, e.g. `/sessions/{referenceNumber}`. */
export function checkResponse(method: string, template: string, status: number, contentType: string, body: unknown): ContractCheck {
  const op = ((spec.paths as Obj)[template] as Obj | undefined)?.[method.toLowerCase()] as Obj | undefined;
  if (!op) return { ok: false, errors: [`${method} ${template} is not in the spec`] };
  const resp = (op.responses as Obj)[String(status)] as Obj | undefined;
  if (!resp) return { ok: false, errors: [`status ${status} is not documented for ${method} ${template}`] };
  const content = resp.content as Obj | undefined;
  if (!content) {
    return body === undefined || body === '' ? { ok: true, errors: [] } : { ok: false, errors: [`${method} ${template} ${status} has no body in the spec`] };
  }
  const mediaType = contentType.split(';')[0]?.trim() ?? '';
  const media = content[mediaType] as Obj | undefined;
  if (!media) return { ok: false, errors: [`content type ${mediaType} is not documented for ${method} ${template} ${status} (${Object.keys(content).join(', ')})`] };
  const key = `${method} ${template} ${status} ${mediaType}`;
  let validate = cache.get(key);
  if (validate === undefined) {
    validate = media.schema ? ajv.compile(convert(media.schema) as object) : null;
    cache.set(key, validate);
  }
  if (!validate) return { ok: true, errors: [] };
  if (validate(body)) return { ok: true, errors: [] };
  return { ok: false, errors: (validate.errors ?? []).map((e) => `${e.instancePath || '(root)'} ${e.message ?? ''}`) };
}
