#!/usr/bin/env node
// Launcher. In a clone (src/ present, tsx installed) it runs the TypeScript sources, so a stale build can never run
// old code; an installed package (no src/) runs the compiled dist/. KSEF_BRIDGE_FROM=dist forces the build.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'src', 'cli', 'main.ts');
const compiled = join(root, 'dist', 'cli', 'main.js');
const tsxInstalled = existsSync(join(root, 'node_modules', 'tsx'));

if (existsSync(source) && tsxInstalled && process.env.KSEF_BRIDGE_FROM !== 'dist') {
  // libxml2-wasm loaded through tsx's module hooks costs ~150 MB more memory; load it plainly first.
  await import('libxml2-wasm');
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(source).href);
} else if (existsSync(compiled)) {
  await import(pathToFileURL(compiled).href);
} else {
  console.error(`ksef-bridge: no build in ${join(root, 'dist')} and no TypeScript sources to run; run \`npm install\` then \`npm run build\` in ${root}`);
  process.exit(70);
}
