/**
 * Worker thread of the FA(3) pool: writes FA(3) XML for mapped invoices and checks it against the XSD, so that on
 * a machine with several cores the main thread can parse and map while workers build and validate.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { writeFa3, type Invoice } from '../invoice/index.js';
import { getXsdValidator } from '../schemas/index.js';

export interface Fa3Job {
  id: number;
  items: Invoice[];
  now: Date;
  validate: boolean;
}

export interface Fa3JobResult {
  id: number;
  out: Array<{ xml?: string; issues: Array<{ message: string; line: number }>; error?: string }>;
}

const data = (workerData ?? {}) as { schemaDir?: string };
const validator = getXsdValidator('fa3', data.schemaDir);

parentPort?.on('message', (job: Fa3Job) => {
  const out: Fa3JobResult['out'] = job.items.map((inv) => {
    try {
      const xml = writeFa3(inv, { now: job.now });
      const issues = job.validate ? validator.validate(xml).issues.map((i) => ({ message: i.message, line: i.line })) : [];
      return { xml, issues };
    } catch (e) {
      return { issues: [], error: e instanceof Error ? e.message : String(e) };
    }
  });
  parentPort?.postMessage({ id: job.id, out } satisfies Fa3JobResult);
});
