/** Worker thread of the bridge's mapper: maps whole files (parse, map, FA(3), XSD) and answers plain results. */
import { parentPort } from 'node:worker_threads';
import { errorMessage, isBridgeError } from '../errors/index.js';
import { loadMapping, mapFile, type CompiledMapping } from '../mapping/index.js';
import { toPlain, type MapRequest } from './mapper.js';

const mappings = new Map<string, Promise<CompiledMapping>>();

parentPort!.on('message', (job: MapRequest & { id: number }) => {
  void (async () => {
    try {
      let m = mappings.get(job.mappingFile);
      if (!m) {
        m = loadMapping(job.mappingFile);
        mappings.set(job.mappingFile, m);
      }
      const r = await mapFile(await m, { path: job.path }, { variables: job.variables, file: job.name, today: job.today, ...(job.schemaDir ? { schemaDir: job.schemaDir } : {}) });
      parentPort!.postMessage({ id: job.id, ok: true, result: toPlain(r) });
    } catch (e) {
      parentPort!.postMessage({ id: job.id, ok: false, error: isBridgeError(e) ? e.describe() : errorMessage(e) });
    }
  })();
});
