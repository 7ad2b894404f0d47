#!/usr/bin/env node
// Launcher: runs the compiled CLI (dist/, built by `npm run build` / on install), or the TypeScript sources through
// tsx when working from a clone without a build.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const compiled = join(root, 'dist', 'cli', 'main.js');
if (existsSync(compiled)) {
  await import(pathToFileURL(compiled).href);
} else {
  try {
    // libxml2-wasm loaded through tsx's module hooks costs ~150 MB more memory; load it plainly first.
    await import('libxml2-wasm');
    const { register } = await import('tsx/esm/api');
    register();
  } catch {
    console.error('ksef-bridge: not built yet and tsx is not installed; run `npm install` (or `npm run build`) in ' + root);
    process.exit(70);
  }
  await import(pathToFileURL(join(root, 'src', 'cli', 'main.ts')).href);
}
