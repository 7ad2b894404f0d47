/**
 * `ksef-bridge map <export-file> --mapping <mapping.yaml>`: parse the export, map every invoice, build FA(3) and
 * check it against the XSD; print the FA(3) XML (or write one file per invoice to --out) and every problem in the
 * consultant's terms. --explain shows, for each Invoice field / FA(3) element, the value, the source field and
 * position it came from, and the mapping rule.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ConfigLoadError, isValidNip, loadConfig, normalizeNip } from '../../config/index.js';
import { isBridgeError, type MappingError } from '../../errors/index.js';
import { loadMapping, mapFile, type ExplainEntry, type MappedInvoice, type MappingVariables } from '../../mapping/index.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { type Io, reportError } from '../shared.js';

export interface MapCommandOptions {
  /** The mapping file (required). */
  mapping: string;
  /** Write <invoice>.xml files into this folder instead of printing the XML. */
  out?: string;
  /** Show where every value came from. */
  explain?: boolean;
  /** ksef.ini to read the seller's NIP from (config.seller.nip). */
  config?: string;
  /** The seller's NIP (overrides --config). */
  sellerNip?: string;
  /** The lines file of a two-file CSV export (default: named by the mapping). */
  lines?: string;
  /** Print the result as JSON. */
  json?: boolean;
  /** Date for the "issue date not in the future" rule (YYYY-MM-DD). */
  today?: string;
  schemaDir?: string;
  /** Print warnings (default true). */
  warnings?: boolean;
}

function problemLine(p: MappingError): string {
  return `  error ${p.code}: ${p.message}${p.hint ? `\n    hint: ${p.hint}` : ''}`;
}

function explainLines(entries: ExplainEntry[]): string[] {
  const out: string[] = [];
  for (const e of entries) {
    const src = e.sources.length ? e.sources.map((s) => `${s.name} ${JSON.stringify(s.value)} at ${s.where}`).join(', ') : '';
    out.push(`  ${e.field}${e.element ? ` [${e.element}]` : ''} = ${JSON.stringify(e.value)}`);
    out.push(`      ${src ? `from ${src}; ` : ''}rule ${e.rule}${e.expression ? `: ${e.expression}` : ''}`);
  }
  return out;
}

function safeName(key: string): string {
  return key.replace(/[^\p{L}\p{N}._-]+/gu, '_').replace(/^_+|_+$/g, '') || 'invoice';
}

async function variablesFrom(options: MapCommandOptions, io: Io): Promise<MappingVariables | ExitCode> {
  if (options.sellerNip !== undefined) {
    const nip = normalizeNip(options.sellerNip);
    if (!isValidNip(nip)) {
      io.err(`ksef-bridge: --seller-nip ${JSON.stringify(options.sellerNip)} is not a valid NIP (10 digits with a correct check digit)`);
      return EXIT.USAGE;
    }
    return { seller: { nip } };
  }
  if (options.config === undefined) return {};
  try {
    const { config } = loadConfig(options.config);
    if (config.companies.length === 1) return { seller: { nip: config.companies[0]!.nip } };
    io.err(`note: ${options.config} names ${config.companies.length} companies; config.seller.nip is left empty (give --seller-nip, or map the seller's NIP from the export)`);
    return {};
  } catch (e) {
    if (e instanceof ConfigLoadError) {
      io.err(e.describe());
      io.err('hint: give the seller NIP directly with --seller-nip to map without a working ksef.ini');
      return EXIT.CONFIG;
    }
    return reportError(io, e, (e as NodeJS.ErrnoException).code === 'ENOENT' ? EXIT.CONFIG : EXIT.INTERNAL);
  }
}

export async function runMap(exportFile: string, options: MapCommandOptions, io: Io): Promise<ExitCode> {
  const variables = await variablesFrom(options, io);
  if (typeof variables === 'number') return variables;
  let mapping;
  try {
    mapping = await loadMapping(options.mapping);
  } catch (e) {
    if (isBridgeError(e)) {
      io.err(e.describe());
      return EXIT.CONFIG;
    }
    return reportError(io, e);
  }
  const result = await mapFile(mapping, { path: exportFile }, {
    variables,
    explain: options.explain === true,
    ...(options.today ? { today: options.today } : {}),
    ...(options.schemaDir ? { schemaDir: options.schemaDir } : {}),
    ...(options.lines ? { linesInput: { path: options.lines } } : {}),
  });
  const failed = result.invoices.filter((i) => !i.ok);
  const readFailed = result.fileProblems.some((p) => p.code === 'FORMAT_READ_FAILED' || p.code === 'MAPPING_LINES_FILE_MISSING');
  if (options.out && !readFailed) await mkdir(options.out, { recursive: true });

  if (options.json) {
    const json = {
      file: result.file,
      mapping: mapping.file,
      fileProblems: result.fileProblems.map((p) => p.toJSON()),
      warnings: result.warnings,
      invoices: result.invoices.map((i: MappedInvoice) => ({
        index: i.index,
        key: i.key,
        ok: i.ok,
        problems: i.problems.map((p) => p.toJSON()),
        warnings: i.warnings.map((p) => p.toJSON()),
        ...(i.invoice ? { invoice: i.invoice } : {}),
        ...(i.fa3Xml && !options.out ? { fa3Xml: i.fa3Xml } : {}),
        ...(i.explain ? { explain: i.explain } : {}),
      })),
    };
    io.out(JSON.stringify(json, null, 2));
  }
  const written = new Set<string>();
  for (const inv of result.invoices) {
    if (!options.json) {
      const head = `${path.basename(exportFile)}: invoice ${inv.key} (#${inv.index}, ${inv.sourcePos.line !== undefined ? `line ${inv.sourcePos.line}` : inv.sourcePos.file}): ${inv.ok ? 'valid FA(3)' : `${inv.problems.length} problem${inv.problems.length === 1 ? '' : 's'}`}`;
      const lines = [head, ...inv.problems.map(problemLine)];
      if (options.warnings !== false) for (const w of inv.warnings) lines.push(`  warning ${w.code}: ${w.message}`);
      (inv.ok ? io.out : io.err)(lines.join('\n'));
      if (options.explain && inv.explain) io.out([`explain ${inv.key}:`, ...explainLines(inv.explain)].join('\n'));
    }
    if (inv.fa3Xml) {
      if (options.out) {
        let name = safeName(inv.key);
        while (written.has(name)) name = `${name}_${inv.index}`;
        written.add(name);
        const target = path.join(options.out, `${name}.xml`);
        try {
          await writeFile(target, inv.fa3Xml, 'utf8');
        } catch (e) {
          io.err(`ksef-bridge: cannot write ${target}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
          return EXIT.IO;
        }
        if (!options.json) io.out(`  written ${target}`);
      } else if (!options.json) io.out(inv.fa3Xml);
    }
  }
  if (!options.json) {
    for (const p of result.fileProblems) io.err(`${p.describe()}`);
    if (options.warnings !== false) for (const w of result.warnings) io.err(`warning ${w.code}: ${w.message} (${w.pos.file}${w.pos.line !== undefined ? `:${w.pos.line}` : ''})`);
    io.err(`${result.invoices.length} invoice${result.invoices.length === 1 ? '' : 's'}: ${result.invoices.length - failed.length} valid, ${failed.length} with problems${result.fileProblems.length ? `; the file could not be read to its end` : ''}`);
  }
  if (readFailed) return EXIT.IO;
  return failed.length || result.fileProblems.length ? EXIT.INVALID : EXIT.OK;
}
