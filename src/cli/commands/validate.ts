/** `ksef-bridge validate <file.xml...>`: KSeF document rules, the official XSD and the semantic rules on FA(3) files. */
import fs from 'node:fs';
import { validateFa3Xml, type Fa3Validation } from '../../invoice/index.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import type { Io } from '../shared.js';

export interface ValidateCommandOptions {
  json?: boolean;
  /** Date used for "issue date not in the future" (YYYY-MM-DD), default today. */
  today?: string;
  schemaDir?: string;
  /** Print warnings too (default true). */
  warnings?: boolean;
}

function describe(file: string, r: Fa3Validation, showWarnings: boolean): string[] {
  const lines: string[] = [];
  for (const i of r.xsd) {
    const where = i.line > 0 ? `${file}:${i.line}${i.column > 0 ? `:${i.column}` : ''}` : file;
    lines.push(`  ${where}: error ${i.code}: ${i.message}`);
  }
  for (const i of r.semantic) {
    if (i.severity === 'warning' && !showWarnings) continue;
    const where = i.line ? `${file}:${i.line}` : file;
    lines.push(`  ${where}: ${i.severity} ${i.code} at ${i.path}${i.element ? ` (${i.element})` : ''}: ${i.message}`);
  }
  return lines;
}

export function runValidate(files: string[], options: ValidateCommandOptions, io: Io): ExitCode {
  let worst: ExitCode = EXIT.OK;
  const results: Array<{ file: string; valid: boolean; xsd: Fa3Validation['xsd']; semantic: Fa3Validation['semantic'] } | { file: string; error: string }> = [];
  for (const file of files) {
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(file);
    } catch (e) {
      const msg = `${file}: cannot read the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`;
      results.push({ file, error: msg });
      if (!options.json) io.err(msg);
      worst = EXIT.IO;
      continue;
    }
    const r = validateFa3Xml(bytes, { ...(options.today ? { today: options.today } : {}), ...(options.schemaDir ? { schemaDir: options.schemaDir } : {}) });
    results.push({ file, valid: r.valid, xsd: r.xsd, semantic: r.semantic });
    if (!r.valid && worst === EXIT.OK) worst = EXIT.INVALID;
    if (options.json) continue;
    const errors = r.xsd.length + r.semantic.filter((i) => i.severity === 'error').length;
    const warnings = r.semantic.filter((i) => i.severity === 'warning').length;
    const head = r.valid
      ? `${file}: valid FA(3)${r.invoice ? ` (invoice ${r.invoice.number}, ${r.invoice.lines.length} line${r.invoice.lines.length === 1 ? '' : 's'})` : ''}${warnings ? `, ${warnings} warning${warnings === 1 ? '' : 's'}` : ''}`
      : `${file}: INVALID, ${errors} error${errors === 1 ? '' : 's'}${warnings ? `, ${warnings} warning${warnings === 1 ? '' : 's'}` : ''}`;
    io.out([head, ...describe(file, r, options.warnings !== false)].join('\n'));
  }
  if (options.json) io.out(JSON.stringify(results, null, 2));
  return worst;
}
