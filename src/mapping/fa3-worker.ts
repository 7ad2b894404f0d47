/**
 * Worker thread of the FA(3) pool: runs the Invoice model (structure and semantic rules) on mapped invoices, writes
 * FA(3) XML for those without errors and checks it against the XSD, so that on a machine with several cores the
 * main thread can parse and map while workers do the rest.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { checkInvoice, createInvoice, writeFa3, type Invoice, type InvoiceInput, type InvoiceIssue } from '../invoice/index.js';
import { getXsdValidator } from '../schemas/index.js';

export interface Fa3Job {
  id: number;
  /** InvoiceInput objects built by the mapping. */
  items: Array<Record<string, unknown>>;
  today: string | undefined;
  now: Date;
  build: boolean;
  validate: boolean;
}

export interface Fa3JobResult {
  id: number;
  out: Array<{ invoice?: Invoice; issues: InvoiceIssue[]; semantic: InvoiceIssue[]; xml?: string; xsd?: Array<{ message: string; line: number }>; error?: string }>;
}

const data = (workerData ?? {}) as { schemaDir?: string };
let validator: ReturnType<typeof getXsdValidator> | undefined;

parentPort?.on('message', (job: Fa3Job) => {
  const out: Fa3JobResult['out'] = job.items.map((input) => {
    const created = createInvoice(input as unknown as InvoiceInput);
    const semantic = created.invoice ? checkInvoice(created.invoice, job.today ? { today: job.today } : {}) : [];
    const r: Fa3JobResult['out'][number] = { ...(created.invoice ? { invoice: created.invoice } : {}), issues: created.issues, semantic };
    const errors = created.issues.some((i) => i.severity === 'error') || semantic.some((i) => i.severity === 'error');
    if (!job.build || !created.invoice || errors) return r;
    try {
      r.xml = writeFa3(created.invoice, { now: job.now });
      if (job.validate) r.xsd = (validator ??= getXsdValidator('fa3', data.schemaDir)).validate(r.xml).issues.map((i) => ({ message: i.message, line: i.line }));
    } catch (e) {
      r.error = e instanceof Error ? e.message : String(e);
    }
    return r;
  });
  parentPort?.postMessage({ id: job.id, out } satisfies Fa3JobResult);
});
