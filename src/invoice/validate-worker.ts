/** Worker thread of the parallel validation pool: validates chunks of FA(3) documents with its own compiled schema. */
import { parentPort } from 'node:worker_threads';
import { type ValidateOptions, validateMany } from './validate.js';

interface Task {
  id: number;
  xmls: (string | Uint8Array)[];
  options: ValidateOptions;
}

parentPort?.on('message', (task: Task) => {
  try {
    parentPort?.postMessage({ id: task.id, results: validateMany(task.xmls, task.options) });
  } catch (e) {
    parentPort?.postMessage({ id: task.id, error: e instanceof Error ? e.message : String(e) });
  }
});
