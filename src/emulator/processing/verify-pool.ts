/**
 * Invoice verification on worker threads, for big batches: the XSD validation (about 130 µs of libxml2 per small
 * invoice) is most of a batch's work, and the main thread meanwhile inflates entries, checks duplicates and stores
 * results. Verdicts are exactly those of `verifyInvoice` (the same function runs in the worker).
 *
 * Off by default (`verifyWorkers: 0`). When on, the workers start with the emulator and stay until it closes
 * (unref'd: they never keep a process alive). Running from the TypeScript sources (tsx, vitest), a worker first loads libxml2-wasm, then registers tsx
 * and imports verify-worker.ts; from the build it imports verify-worker.js directly. When a worker cannot start or
 * fails, the pool reports it and the caller verifies on its own thread.
 */
import { Worker } from 'node:worker_threads';
import type { Verdict, VerifyOptions } from './verify.js';

export type PoolVerifyOptions = Omit<VerifyOptions, 'fa3'>;

export interface VerifyJob {
  id: number;
  /** Every document of the chunk, one after the other. */
  data: Uint8Array;
  /** Start of each document in `data`, plus its end (length + 1 entries). */
  offsets: number[];
  options: PoolVerifyOptions;
}

export interface VerifyAnswer {
  id: number;
  ready?: boolean;
  verdicts?: Verdict[];
  error?: string;
}

/**
 * Worker bootstrap, evaluated: only dynamic imports, so that it runs both as a script and as a module (workers
 * inherit flags such as --input-type=module). See the module comment.
 */
const BOOTSTRAP = `
(async () => {
  const { workerData } = await import('node:worker_threads');
  const { pathToFileURL } = await import('node:url');
  if (workerData.fromSource) {
    const { createRequire } = await import('node:module');
    const req = createRequire(workerData.moduleUrl);
    await import(pathToFileURL(req.resolve('libxml2-wasm')).href);
    const api = req.resolve('tsx/esm/api').replace(/\\.cjs$/, '.mjs');
    const { register } = await import(pathToFileURL(api).href);
    register();
  }
  await import(workerData.moduleUrl);
})().catch(async (e) => {
  const { parentPort } = await import('node:worker_threads');
  parentPort.postMessage({ id: -1, error: (e && e.stack) || String(e) });
});
`;

interface Slot {
  worker: Worker;
  ready: Promise<void>;
  busy: number;
}

export class VerifyPool {
  private slots: Slot[] | null = null;
  private broken: string | null = null;
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (v: Verdict[]) => void; reject: (e: Error) => void }>();

  /** `onFailure` hears once, with the reason, when a worker fails (not when the pool is closed). */
  constructor(
    private readonly size: number,
    private readonly schemaDir: string | undefined,
    private readonly onFailure: (reason: string) => void = () => {},
  ) {}

  /** Why the pool cannot be used (a worker failed), or null. */
  get failure(): string | null {
    return this.broken;
  }

  /** Starts the workers now (they need a moment to load libxml2 and compile the schema). */
  warm(): void {
    if (!this.broken) this.start();
  }

  private start(): Slot[] {
    if (this.slots) return this.slots;
    const here = new URL(import.meta.url);
    const fromSource = here.pathname.endsWith('.ts');
    const moduleUrl = new URL(`./verify-worker.${fromSource ? 'ts' : 'js'}`, here).href;
    this.slots = Array.from({ length: this.size }, () => {
      const worker = new Worker(BOOTSTRAP, { eval: true, workerData: { moduleUrl, fromSource, schemaDir: this.schemaDir } });
      worker.unref();
      let markReady: () => void = () => {};
      let markFailed: (e: Error) => void = () => {};
      const ready = new Promise<void>((resolve, reject) => {
        markReady = resolve;
        markFailed = reject;
      });
      ready.catch(() => {});
      worker.on('message', (m: VerifyAnswer) => {
        if (m.id === -1) {
          if (m.ready) markReady();
          else this.fail(new Error(m.error ?? 'verification worker failed to start'), markFailed);
          return;
        }
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        if (m.verdicts) p.resolve(m.verdicts);
        else p.reject(new Error(m.error ?? 'verification worker failed'));
      });
      worker.on('error', (e) => this.fail(e, markFailed));
      worker.on('exit', (code) => {
        if (code !== 0) this.fail(new Error(`verification worker exited with code ${code}`), markFailed);
      });
      return { worker, ready, busy: 0 };
    });
    return this.slots;
  }

  private fail(e: Error, markFailed: (e: Error) => void): void {
    if (!this.broken) {
      this.broken = e.message.split('\n')[0] ?? 'verification worker failed';
      this.onFailure(this.broken);
    }
    markFailed(e);
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  /** Verifies the documents on the least busy worker; rejects when the pool failed. */
  async verify(docs: Buffer[], options: PoolVerifyOptions): Promise<Verdict[]> {
    if (this.broken) throw new Error(this.broken);
    const slots = this.start();
    const slot = slots.reduce((a, b) => (b.busy < a.busy ? b : a));
    await slot.ready;
    const total = docs.reduce((n, d) => n + d.length, 0);
    const data = new Uint8Array(total);
    const offsets = [0];
    let at = 0;
    for (const d of docs) {
      data.set(d, at);
      at += d.length;
      offsets.push(at);
    }
    const id = this.nextId++;
    slot.busy++;
    try {
      return await new Promise<Verdict[]>((resolve, reject) => {
        this.pending.set(id, { resolve, reject });
        slot.worker.postMessage({ id, data, offsets, options } satisfies VerifyJob, [data.buffer]);
      });
    } finally {
      slot.busy--;
    }
  }

  async close(): Promise<void> {
    const slots = this.slots ?? [];
    this.slots = null;
    this.broken ??= 'closed';
    for (const p of this.pending.values()) p.reject(new Error('closed'));
    this.pending.clear();
    await Promise.all(slots.map((s) => s.worker.terminate().catch(() => 0)));
  }
}

/** Batches with at least this many invoices are verified on the pool; smaller ones on the main thread. */
export const POOL_THRESHOLD = 1000;
