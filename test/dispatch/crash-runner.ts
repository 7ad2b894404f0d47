/**
 * Child process of the crash tests: opens the bridge from a ksef.ini, enqueues every *.xml of a folder
 * (idempotent: the same file again is the same document), sends everything, prints a JSON summary.
 * KSEF_BRIDGE_CRASH_AT makes it SIGKILL itself at a crash point; KSEF_BRIDGE_TEST_PART_SIZE sets the batch part size.
 *
 *   node --import tsx test/dispatch/crash-runner.ts <ksef.ini> <folder>
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openBridge } from '../../src/runtime/index.js';

const [ini, folder] = process.argv.slice(2);
if (!ini || !folder) {
  process.stderr.write('usage: crash-runner <ksef.ini> <folder>\n');
  process.exit(2);
}
const partSize = Number(process.env.KSEF_BRIDGE_TEST_PART_SIZE ?? '0');
const bridge = await openBridge(ini, {
  retry: { minTimeoutMs: 20, maxTimeoutMs: 200 },
  dispatcher: { backoffMs: { min: 100, max: 1000 }, ...(partSize > 0 ? { batch: { maxPartSize: partSize, uploadConcurrency: 1 } } : {}) },
});
try {
  const files = readdirSync(folder).filter((f) => f.endsWith('.xml')).sort();
  const results = bridge.dispatcher!.enqueueMany(files.map((f) => ({ xml: readFileSync(join(folder, f), 'utf8'), source: 'crash-test', sourceRef: f })));
  const r = await bridge.dispatcher!.drain({ timeoutMs: 60_000 });
  process.stdout.write(`${JSON.stringify({ enqueued: results.length, ...r })}\n`);
} finally {
  await bridge.close();
}
