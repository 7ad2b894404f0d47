/**
 * The parallel batch path: validateMany spread over worker threads (one compiled schema per worker), for the
 * throughput that a single thread cannot reach. Workers are created on first use, kept for later batches and
 * unreferenced while idle, so they never keep the process alive; closeValidationPool() ends them.
 */
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { InvoiceError } from '../errors/index.js';
import { polishDate } from './semantic.js';
import { type Fa3Validation, type ValidateOptions, validateMany } from './validate.js';

export interface ParallelOptions extends ValidateOptions {
  /** Worker threads (default: the number of CPUs, at most 8). 1 validates in this thread. */
  workers?: number;
  /** Documents per message (default 200). */
  chunkSize?: number;
}

interface Pending {
  resolve: (r: Fa3Validation[]) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  busy: number;
}

let slots: Slot[] = [];
const pending = new Map<number, Pending>();
let nextId = 1;

function spawn(): Slot {
  // From dist/ the worker is plain JavaScript. From the TypeScript sources (tests, tsx) it is a .ts file, so the
  // worker first registers tsx's loader (a dev dependency, present wherever the sources run) and then imports it.
  const fromSource = import.meta.url.endsWith('.ts');
  const worker = fromSource
    ? new Worker(
        `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(new URL('./validate-worker.ts', import.meta.url).href)}); });`,
        { eval: true },
      )
    : new Worker(new URL('./validate-worker.js', import.meta.url));
  const slot: Slot = { worker, busy: 0 };
  worker.on('message', (m: { id: number; results?: Fa3Validation[]; error?: string }) => {
    const p = pending.get(m.id);
    pending.delete(m.id);
    slot.busy--;
    if (slot.busy === 0) worker.unref();
    if (!p) return;
    if (m.results) p.resolve(m.results);
    else p.reject(new InvoiceError('VALIDATION_WORKER_FAILED', `a validation worker failed: ${m.error ?? 'unknown error'}`));
  });
  worker.on('error', (e) => {
    slots = slots.filter((s) => s !== slot);
    for (const [id, p] of pending) {
      pending.delete(id);
      p.reject(new InvoiceError('VALIDATION_WORKER_FAILED', `a validation worker stopped: ${e.message}`, {}, { cause: e }));
    }
  });
  worker.unref();
  return slot;
}

function run(slot: Slot, xmls: (string | Uint8Array)[], options: ValidateOptions): Promise<Fa3Validation[]> {
  const id = nextId++;
  slot.busy++;
  slot.worker.ref();
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    slot.worker.postMessage({ id, xmls, options });
  });
}

/** Validates many FA(3) documents on worker threads; results are in the order of the input. */
export async function validateManyParallel(xmls: readonly (string | Uint8Array)[], options: ParallelOptions = {}): Promise<Fa3Validation[]> {
  const workers = Math.max(1, Math.min(options.workers ?? Math.min(os.availableParallelism(), 8), 64));
  const chunkSize = Math.max(1, options.chunkSize ?? 200);
  const { workers: _w, chunkSize: _c, today, ...rest } = options;
  const common: ValidateOptions = { ...rest, today: typeof today === 'string' ? today : polishDate(today) };
  if (workers === 1 || xmls.length <= chunkSize) return validateMany(xmls, common);
  while (slots.length < workers) slots.push(spawn());
  const chunks: Promise<Fa3Validation[]>[] = [];
  for (let i = 0, k = 0; i < xmls.length; i += chunkSize, k++) {
    const slot = slots[k % workers] as Slot;
    chunks.push(run(slot, xmls.slice(i, i + chunkSize), common));
  }
  return (await Promise.all(chunks)).flat();
}

/** Ends the worker threads of the pool (they are recreated on the next parallel call). */
export async function closeValidationPool(): Promise<void> {
  const all = slots;
  slots = [];
  await Promise.all(all.map((s) => s.worker.terminate()));
}
