/**
 * `ksef-bridge mapping test [mappings...]`: runs the test cases kept next to each mapping (a diff on failure).
 * `ksef-bridge mapping new --format csv --sample <file>`: a starting mapping from a sample export.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { isBridgeError } from '../../errors/index.js';
import { runMappingTests, scaffoldMapping, type MappingVariables, type ScaffoldOptions } from '../../mapping/index.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { type Io, reportError } from '../shared.js';

export interface MappingTestCommandOptions {
  json?: boolean;
  schemaDir?: string;
  /** config.seller.nip for cases that do not set it. */
  sellerNip?: string;
}

export async function runMappingTest(paths: string[], options: MappingTestCommandOptions, io: Io): Promise<ExitCode> {
  const targets = paths.length ? paths : ['mappings'];
  for (const p of targets) {
    if (!existsSync(p)) {
      io.err(`ksef-bridge: ${p}: no such mapping file or folder`);
      return EXIT.USAGE;
    }
  }
  const variables: MappingVariables = options.sellerNip ? { seller: { nip: options.sellerNip } } : {};
  let results;
  try {
    results = await runMappingTests(targets, { variables, ...(options.schemaDir ? { schemaDir: options.schemaDir } : {}) });
  } catch (e) {
    return reportError(io, e);
  }
  const failed = results.filter((r) => !r.passed);
  if (options.json) io.out(JSON.stringify(results, null, 2));
  else {
    for (const r of results) {
      const line = `${r.passed ? 'PASS' : 'FAIL'} ${r.mapping} :: ${r.case}`;
      if (r.passed) io.out(line);
      else io.err([line, ...r.failures.map((f) => `    ${f}`)].join('\n'));
    }
    io.out(`${results.length} case${results.length === 1 ? '' : 's'}: ${results.length - failed.length} passed, ${failed.length} failed`);
  }
  return failed.length ? EXIT.INVALID : EXIT.OK;
}

export interface MappingNewCommandOptions {
  format: string;
  sample: string;
  /** Write the mapping to this file instead of printing it. */
  out?: string;
  /** Overwrite --out. */
  force?: boolean;
  encoding?: string;
  delimiter?: string;
}

const FORMATS = ['csv', 'idoc', 'xml', 'json', 'fixed'] as const;

export async function runMappingNew(options: MappingNewCommandOptions, io: Io): Promise<ExitCode> {
  if (!(FORMATS as readonly string[]).includes(options.format)) {
    io.err(`ksef-bridge: --format must be one of ${FORMATS.join(', ')} (got ${JSON.stringify(options.format)})`);
    return EXIT.USAGE;
  }
  if (!existsSync(options.sample)) {
    io.err(`ksef-bridge: ${options.sample}: no such sample file`);
    return EXIT.IO;
  }
  if (options.out && existsSync(options.out) && !options.force) {
    io.err(`ksef-bridge: ${options.out} exists; pass --force to overwrite it`);
    return EXIT.IO;
  }
  let text: string;
  try {
    text = await scaffoldMapping({
      format: options.format as ScaffoldOptions['format'],
      sample: options.sample,
      ...(options.encoding ? { encoding: options.encoding } : {}),
      ...(options.delimiter ? { delimiter: options.delimiter } : {}),
    });
  } catch (e) {
    if (isBridgeError(e)) {
      io.err(e.describe());
      return EXIT.INVALID;
    }
    return reportError(io, e);
  }
  if (options.out) {
    await writeFile(options.out, text, 'utf8');
    io.out(`written ${options.out}; fill in the TODOs, then: ksef-bridge map ${options.sample} --mapping ${options.out} --explain`);
  } else io.out(text);
  return EXIT.OK;
}
