/**
 * Makes the official XSD schemas (and the KSeF OpenAPI contract the emulator serves) available to the bridge on a fresh machine (`npm run setup`, also run before tests
 * and the demo). Source, in order: ../shared/ksef/schemas (the project's reference data, when present), else the
 * official addresses (crd.gov.pl for FA(3), the KSeF documentation repository for UPO and AuthTokenRequest).
 * Every file is checked (well-formed, expected target namespace) before it is stored in the git-ignored `schemas/`.
 *
 *   tsx scripts/setup-schemas.ts [--dir <target>] [--from <source dir>] [--download] [--quiet]
 */
import fs from 'node:fs';
import path from 'node:path';
import { DEFAULT_SCHEMA_DIR, OPENAPI_FILE, SCHEMA_FILES, SHARED_SCHEMA_DIR, type SchemaCheck, checkOpenApiFile, checkSchemaFile } from '../src/schemas/index.js';

const args = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const target = path.resolve(opt('--dir') ?? DEFAULT_SCHEMA_DIR);
const from = opt('--from') ?? SHARED_SCHEMA_DIR;
const forceDownload = args.includes('--download');
const quiet = args.includes('--quiet') || process.env.npm_config_loglevel === 'silent';
const say = (s: string): void => {
  if (!quiet) console.log(s);
};

interface Wanted {
  relativePath: string;
  url: string;
  /** Where it lies in the source folder (the OpenAPI contract sits one level above the schemas in ../shared/ksef). */
  sourcePath: string;
  check(bytes: Uint8Array): SchemaCheck;
}

async function obtain(file: Wanted): Promise<{ bytes: Uint8Array; origin: string }> {
  const local = file.sourcePath;
  if (!forceDownload && fs.existsSync(local)) return { bytes: fs.readFileSync(local), origin: local };
  const res = await fetch(file.url, { signal: AbortSignal.timeout(30_000) });
  if (!res.ok) throw new Error(`download of ${file.url} failed: HTTP ${res.status}`);
  return { bytes: new Uint8Array(await res.arrayBuffer()), origin: file.url };
}

async function main(): Promise<void> {
  const files: Wanted[] = [
    ...Object.values(SCHEMA_FILES)
      .flat()
      .map((f) => ({ ...f, sourcePath: path.join(from, f.relativePath), check: (b: Uint8Array) => checkSchemaFile(b, f) })),
    { ...OPENAPI_FILE, sourcePath: path.join(from, '..', OPENAPI_FILE.relativePath), check: checkOpenApiFile },
  ];
  let copied = 0;
  const problems: string[] = [];
  for (const file of files) {
    const dest = path.join(target, file.relativePath);
    if (!forceDownload && fs.existsSync(dest) && file.check(fs.readFileSync(dest)).ok) continue;
    try {
      const { bytes, origin } = await obtain(file);
      const check = file.check(bytes);
      if (!check.ok) {
        problems.push(`${file.relativePath} (from ${origin}): ${check.problem}`);
        continue;
      }
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      const tmp = `${dest}.tmp-${process.pid}`;
      fs.writeFileSync(tmp, bytes);
      fs.renameSync(tmp, dest);
      copied++;
      say(`schemas: ${file.relativePath} <- ${origin}`);
    } catch (e) {
      problems.push(`${file.relativePath}: ${(e as Error).message}`);
    }
  }
  if (problems.length > 0) {
    console.error(`schemas: could not set up ${problems.length} file(s) in ${target}:\n  ${problems.join('\n  ')}`);
    console.error('hint: put the official schemas in ../shared/ksef/schemas, or run with network access, or pass --from <dir>');
    process.exit(1);
  }
  say(copied > 0 ? `schemas: ${copied} file(s) ready in ${target}` : `schemas: all ${files.length} files present and checked in ${target}`);
}

await main();
