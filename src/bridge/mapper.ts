/**
 * Mapping a claimed file into plain results (what the pipeline stores): in this thread, or in worker threads so
 * that parsing, mapping, FA(3) writing and the XSD check run beside the store, the sources and the dispatcher on a
 * machine with more than one core. Results are plain data either way (errors as code, message and hint).
 */

import { Worker } from 'node:worker_threads';
import { errorMessage } from '../errors/index.js';
import { mapFile, type CompiledMapping, type MapFileResult, type MappingVariables } from '../mapping/index.js';

export interface PlainProblem {
  code: string;
  message: string;
  hint?: string;
}

export interface PlainInvoice {
  index: number;
  key: string;
  line?: number;
  ok: boolean;
  fa3Xml?: string;
  sellerNip?: string;
  number?: string;
  problems: PlainProblem[];
}

export interface PlainMapResult {
  invoices: PlainInvoice[];
  fileProblems: PlainProblem[];
}

export interface MapRequest {
  mappingFile: string;
  path: string;
  name: string;
  variables: MappingVariables;
  today: string;
  schemaDir?: string;
}

export interface Mapper {
  map(req: MapRequest): Promise<PlainMapResult>;
  close(): Promise<void>;
}

function plainProblem(p: { code: string; message: string; hint?: string | undefined }): PlainProblem {
  return { code: p.code, message: p.message, ...(p.hint ? { hint: p.hint } : {}) };
}

export function toPlain(r: MapFileResult): PlainMapResult {
  return {
    invoices: r.invoices.map((i) => ({
      index: i.index,
      key: i.key,
      ...(i.sourcePos.line !== undefined ? { line: i.sourcePos.line } : {}),
      ok: i.ok && !!i.fa3Xml && !!i.invoice,
      ...(i.fa3Xml ? { fa3Xml: i.fa3Xml } : {}),
      ...(i.invoice?.seller.nip ? { sellerNip: i.invoice.seller.nip } : {}),
      ...(i.invoice ? { number: i.invoice.number } : {}),
      problems: i.problems.map(plainProblem),
    })),
    fileProblems: r.fileProblems.map(plainProblem),
  };
}

async function mapHere(mapping: CompiledMapping, req: MapRequest): Promise<PlainMapResult> {
  const r = await mapFile(mapping, { path: req.path }, { variables: req.variables, file: req.name, today: req.today, ...(req.schemaDir ? { schemaDir: req.schemaDir } : {}) });
  return toPlain(r);
}

/** Maps in this thread with the mappings compiled at start (by mapping file). */
export function inThreadMapper(mappings: ReadonlyMap<string, CompiledMapping>): Mapper {
  return {
    map: (req) => {
      const m = mappings.get(req.mappingFile);
      return m ? mapHere(m, req) : Promise.reject(new Error(`mapping ${req.mappingFile} was not compiled at start`));
    },
    close: async () => {},
  };
}

interface Job extends MapRequest {
  id: number;
}
type JobAnswer = { id: number; ok: true; result: PlainMapResult } | { id: number; ok: false; error: string };

/** Worker threads (0, the default: this thread; measured no faster on 2 cores and +200 MB). `mappings` by file. */
export function createMapper(mappings: ReadonlyMap<string, CompiledMapping>, workers = 0): Mapper {
  if (workers <= 0) return inThreadMapper(mappings);
  const fromSources = import.meta.url.endsWith('.ts');
  const url = new URL(fromSources ? './map-worker.ts' : './map-worker.js', import.meta.url);
  const boot = fromSources ? `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((m) => { m.register(); return import(${JSON.stringify(url.href)}); })` : undefined;
  const pool: { w: Worker; busy: number }[] = [];
  const waiting = new Map<number, { resolve: (r: PlainMapResult) => void; reject: (e: Error) => void; worker: Worker }>();
  let seq = 0;
  let closing = false;
  const spawnWorker = (): { w: Worker; busy: number } => {
    const w = boot ? new Worker(boot, { eval: true }) : new Worker(url);
    const slot = { w, busy: 0 };
    w.on('message', (m: JobAnswer) => {
      const p = waiting.get(m.id);
      waiting.delete(m.id);
      slot.busy--;
      if (!p) return;
      if (m.ok) p.resolve(m.result);
      else p.reject(new Error(m.error));
    });
    const fail = (e: Error): void => {
      for (const [id, p] of waiting) {
        if (p.worker !== w) continue;
        waiting.delete(id);
        p.reject(e);
      }
      const i = pool.indexOf(slot);
      if (i >= 0 && !closing) pool[i] = spawnWorker(); // the file is tried again by its source
    };
    w.on('error', (e) => fail(e));
    w.on('exit', (code) => {
      if (!closing) fail(new Error(`mapping worker stopped (exit code ${code})`));
    });
    w.unref();
    return slot;
  };
  for (let i = 0; i < workers; i++) pool.push(spawnWorker());
  return {
    map: (req) =>
      new Promise<PlainMapResult>((resolve, reject) => {
        const slot = pool.reduce((a, b) => (b.busy < a.busy ? b : a));
        const id = ++seq;
        waiting.set(id, { resolve, reject, worker: slot.w });
        slot.busy++;
        try {
          slot.w.postMessage({ id, ...req } satisfies Job);
        } catch (e) {
          waiting.delete(id);
          slot.busy--;
          reject(new Error(errorMessage(e)));
        }
      }),
    close: async () => {
      closing = true;
      await Promise.all(pool.map((s) => s.w.terminate()));
    },
  };
}
