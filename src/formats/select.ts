/**
 * Addressing values in a record tree: steps by node name, with selection by field value
 * ("E1EDKA1[PARVW=RE]"), by 1-based position ("E1EDP01[3]") or any name ("*"). The mapping engine
 * may use these directly or build its own expression language on the same tree.
 */
import type { Field, RecordNode } from './types.js';

export interface SelectStep {
  /** Node name, or "*" for any child. */
  name: string;
  /** Keep only nodes whose fields have these values (all must match; values compared exactly). */
  where?: Record<string, string>;
  /** Keep only the n-th (1-based) of the matching nodes. */
  index?: number;
}

/** Parse "E1EDKA1[PARVW=RE]/E1EDKA3[QUALP=001]" or "E1EDP01[2]" into steps. Quotes around values
 *  are optional: [PARVW="RE"]. Several conditions: [QUALF=009][POSNR=000010]. */
export function parseSelectPath(path: string): SelectStep[] {
  const steps: SelectStep[] = [];
  const re = /\s*([^/[\]]+)((?:\[[^\]]*\])*)\s*(?:\/|$)/y;
  let i = 0;
  const src = path.trim();
  while (i < src.length) {
    re.lastIndex = i;
    const m = re.exec(src);
    if (!m || m[0].length === 0) throw new Error(`invalid path "${path}" at character ${i + 1}`);
    const step: SelectStep = { name: m[1]!.trim() };
    for (const cond of m[2]!.matchAll(/\[([^\]]*)\]/g)) {
      const c = cond[1]!.trim();
      if (/^\d+$/.test(c)) step.index = Number(c);
      else {
        const eq = c.indexOf('=');
        if (eq <= 0) throw new Error(`invalid condition [${c}] in path "${path}"`);
        const k = c.slice(0, eq).trim();
        let v = c.slice(eq + 1).trim();
        if ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'"))) v = v.slice(1, -1);
        (step.where ??= Object.create(null) as Record<string, string>)[k] = v;
      }
    }
    steps.push(step);
    i = re.lastIndex;
  }
  return steps;
}

function matches(node: RecordNode, step: SelectStep): boolean {
  if (step.name !== '*' && node.name !== step.name) return false;
  if (step.where) {
    for (const [k, v] of Object.entries(step.where)) if (node.fields[k]?.value !== v) return false;
  }
  return true;
}

/** Nodes reached from the given node(s) by following the steps through children. */
export function selectNodes(from: RecordNode | readonly RecordNode[], steps: readonly SelectStep[] | string): RecordNode[] {
  const list = typeof steps === 'string' ? parseSelectPath(steps) : steps;
  let level: RecordNode[] = Array.isArray(from) ? [...(from as RecordNode[])] : [from as RecordNode];
  for (const step of list) {
    const next: RecordNode[] = [];
    for (const n of level) {
      const found = n.children.filter((c) => matches(c, step));
      if (step.index !== undefined) {
        const one = found[step.index - 1];
        if (one) next.push(one);
      } else next.push(...found);
    }
    level = next;
  }
  return level;
}

/** The field of a node, if present. */
export function fieldOf(node: RecordNode, name: string): Field | undefined {
  return Object.prototype.hasOwnProperty.call(node.fields, name) ? node.fields[name] : undefined;
}

/** Every field `field` of the nodes at `path` (e.g. selectFields(idoc, "E1EDKA1[PARVW=RE]", "NAME1")). */
export function selectFields(from: RecordNode | readonly RecordNode[], path: readonly SelectStep[] | string, field: string): Field[] {
  const out: Field[] = [];
  for (const n of selectNodes(from, path)) {
    const f = fieldOf(n, field);
    if (f) out.push(f);
  }
  return out;
}
