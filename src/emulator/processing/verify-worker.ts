/**
 * Worker thread of the verification pool (verify-pool.ts): compiles the FA(3) schema once, then verifies the invoices
 * of each chunk it is sent (one buffer with every document, plus their offsets) and answers with their verdicts.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { getXsdValidator } from '../../schemas/index.js';
import { verifyInvoice, type Verdict } from './verify.js';
import type { VerifyJob, VerifyAnswer } from './verify-pool.js';

const port = parentPort;
if (!port) throw new Error('verify-worker runs only as a worker thread');
const fa3 = getXsdValidator('fa3', (workerData as { schemaDir?: string }).schemaDir);

port.on('message', (job: VerifyJob) => {
  let answer: VerifyAnswer;
  try {
    const all = Buffer.from(job.data.buffer, job.data.byteOffset, job.data.byteLength);
    const verdicts: Verdict[] = [];
    for (let i = 0; i < job.offsets.length - 1; i++) {
      verdicts.push(verifyInvoice(all.subarray(job.offsets[i] as number, job.offsets[i + 1] as number), { ...job.options, fa3 }));
    }
    answer = { id: job.id, verdicts };
  } catch (e) {
    answer = { id: job.id, error: (e as Error)?.stack ?? String(e) };
  }
  port.postMessage(answer);
});
port.postMessage({ id: -1, ready: true } satisfies VerifyAnswer);
