/**
 * `ksef-bridge mapping new`: a starting mapping from a sample export. It lists what the sample holds (columns,
 * segments with their qualifiers, element paths) with sample values, guesses the obvious Invoice fields and marks
 * everything else TODO for the consultant.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { MappingError } from '../errors/index.js';
import { parseDocument, type FormatOptions, type RecordNode } from '../formats/index.js';

export interface ScaffoldOptions {
  format: 'csv' | 'idoc' | 'xml' | 'json' | 'fixed';
  sample: string;
  /** CSV/fixed encoding (default auto: UTF-8 or Windows-1250). */
  encoding?: string;
  /** CSV delimiter (default: guessed from the first line). */
  delimiter?: string;
}

const GUESSES: Array<[RegExp, string, 'header' | 'line']> = [
  [/^(nr|numer|number|invoice.?(no|number)|nr.?fa(ktury)?|belnr)$/i, 'number', 'header'],
  [/^(data.?wyst(awienia)?|issue.?date|data|date|invoice.?date)$/i, 'issueDate', 'header'],
  [/^(data.?sprzedazy|data.?sprzedaży|sale.?date|data.?dostawy|delivery.?date)$/i, 'saleDate', 'header'],
  [/^(waluta|currency|curcy)$/i, 'currency', 'header'],
  [/^(nip.?nabywcy|nip|buyer.?nip|vat.?id|buyer.?vat.?id|nip.?kontrahenta)$/i, 'buyer.vatId', 'header'],
  [/^(nabywca|kontrahent|buyer|buyer.?name|nazwa.?nabywcy|nazwa.?kontrahenta|customer)$/i, 'buyer.name', 'header'],
  [/^(ulica|adres|street|address)$/i, 'buyer.address.line1', 'header'],
  [/^(miasto|city|miejscowosc|miejscowość)$/i, 'buyer.address.line2', 'header'],
  [/^(kurs|exchange.?rate|kurs.?waluty)$/i, 'lines[].exchangeRate', 'line'],
  [/^(nazwa|opis|towar|description|name|item|nazwa.?towaru)$/i, 'name', 'line'],
  [/^(ilosc|ilość|quantity|qty|menge)$/i, 'quantity', 'line'],
  [/^(jm|j\.m\.|unit|jednostka|menee)$/i, 'unit', 'line'],
  [/^(cena|cena.?netto|unit.?price|price|net.?price)$/i, 'unitNetPrice', 'line'],
  [/^(wartosc.?netto|wartość.?netto|net|net.?amount|netto)$/i, 'netAmount', 'line'],
  [/^(stawka|stawka.?vat|vat|vat.?rate|rate)$/i, 'vatRate', 'line'],
  [/^(indeks|index|kod|sku|symbol)$/i, 'index', 'line'],
];

function guess(name: string, kind: 'header' | 'line'): string | undefined {
  const n = name.trim();
  return GUESSES.find(([re, , k]) => k === kind && re.test(n))?.[1];
}

function q(s: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(s) ? s : `col(${JSON.stringify(s)})`;
}

function yamlStr(s: string): string {
  return /^[\w.$\[\]=]+$/.test(s) && !/^(true|false|null|yes|no|\d)/i.test(s) ? s : `'${s.replace(/'/g, "''")}'`;
}

function sampleOf(v: string | undefined): string {
  if (v === undefined) return '';
  const t = v.length > 40 ? `${v.slice(0, 37)}...` : v;
  return ` # e.g. ${JSON.stringify(t)}`;
}

const COMMON_TAIL = `
  # TODO seller: usually from ksef.ini (config.seller.nip) and constants
  seller.nip: config.seller.nip
  seller.name: { const: "TODO nazwa sprzedawcy" }
  seller.address.countryCode: { const: PL }
  seller.address.line1: { const: "TODO ulica i numer" }
  seller.address.line2: { const: "TODO kod pocztowy i miejscowość" }
`;

async function csvScaffold(o: ScaffoldOptions): Promise<string> {
  const bytes = await readFile(o.sample);
  const head = bytes.subarray(0, 4096).toString('latin1').split(/\r?\n/)[0] ?? '';
  const delimiter = o.delimiter ?? ([';', '\t', ',', '|'] as const).map((d) => [d, head.split(d).length] as const).sort((a, b) => b[1] - a[1])[0]![0];
  const fmt = { format: 'csv', encoding: o.encoding ?? 'auto', delimiter, header: true, file: path.basename(o.sample) } as FormatOptions;
  const doc = await parseDocument(bytes, fmt);
  const first = doc.roots[0]?.children[0];
  const cols = first ? Object.keys(first.fields) : [];
  const header: string[] = [];
  const lines: string[] = [];
  const rest: string[] = [];
  for (const c of cols) {
    const h = guess(c, 'header');
    const l = guess(c, 'line');
    const sample = sampleOf(first?.fields[c]?.value);
    if (h) header.push(`  ${h}: ${yamlStr(`row.${/^[A-Za-z_$][\w$]*$/.test(c) ? c : `[${JSON.stringify(c)}]`}`.replace('.[', '['))}${sample}`);
    else if (l && !l.includes('[]')) lines.push(`    ${l}: ${yamlStr(q(c))}${sample}`);
    else if (l) lines.push(`    ${l.replace('lines[].', '')}: ${yamlStr(q(c))}${sample}`);
    else rest.push(`#   ${q(c)}${sample}`);
  }
  return [
    `# Starting mapping generated from ${path.basename(o.sample)} by \`ksef-bridge mapping new\`.`,
    '# Fill in the TODOs, then run: ksef-bridge map <export> --mapping <this file> --explain',
    'format:',
    '  type: csv',
    `  encoding: ${doc.encoding ?? 'utf-8'}`,
    `  delimiter: ${JSON.stringify(delimiter)}`,
    '  header: true',
    '  # TODO: how rows form invoices: groupBy: <invoice number column>, or recordType: { column: ..., header: [N], line: [P] }',
    `  groupBy: ${yamlStr(header.find((h) => h.startsWith('  number:'))?.split(': ')[1]?.split(' #')[0]?.replace(/^row\./, '') ?? 'TODO')}`,
    'numbers:',
    '  decimal: ","   # TODO "," (Polish exports) or "."',
    'invoice:',
    ...(header.length ? header : ['  number: TODO']),
    ...(header.some((h) => h.startsWith('  currency:')) ? [] : ['  currency: { const: PLN }   # TODO']),
    COMMON_TAIL.trimEnd(),
    'lines:',
    '  each: row',
    '  fields:',
    ...(lines.length ? lines : ['    name: TODO', '    quantity: TODO', '    unitNetPrice: TODO', '    vatRate: TODO']),
    ...(rest.length ? ['# Columns not mapped yet (TODO: map or delete):', ...rest] : []),
    '',
  ].join('\n');
}

function collectSegments(root: RecordNode): Map<string, { count: number; quals: Set<string>; sample: Record<string, string> }> {
  const m = new Map<string, { count: number; quals: Set<string>; sample: Record<string, string> }>();
  const walk = (n: RecordNode, prefix: string) => {
    for (const c of n.children) {
      const key = prefix ? `${prefix}.${c.name}` : c.name;
      const e = m.get(key) ?? { count: 0, quals: new Set<string>(), sample: {} };
      e.count++;
      for (const qf of ['QUALF', 'PARVW', 'IDDAT', 'SUMID', 'TDID']) {
        const v = c.fields[qf]?.value;
        if (v) e.quals.add(`${qf}=${v}`);
      }
      for (const [k, f] of Object.entries(c.fields)) if (f.value && !(k in e.sample)) e.sample[k] = f.value;
      m.set(key, e);
      walk(c, key);
    }
  };
  walk(root, '');
  return m;
}

async function idocScaffold(o: ScaffoldOptions): Promise<string> {
  const doc = await parseDocument({ path: o.sample }, { format: 'idoc' });
  const root = doc.roots[0];
  if (!root) throw new MappingError('MAPPING_SAMPLE_EMPTY', `${o.sample} holds no IDoc`, { file: o.sample });
  const segs = collectSegments(root);
  const listing: string[] = [];
  for (const [k, e] of segs) {
    if (k === 'EDI_DC40') continue;
    listing.push(`#   ${k}${e.count > 1 ? ` (x${e.count})` : ''}${e.quals.size ? ` [${[...e.quals].join(', ')}]` : ''}`);
    const fields = Object.entries(e.sample).slice(0, 6);
    if (fields.length) listing.push(`#       ${fields.map(([f, v]) => `${f}=${JSON.stringify(v.length > 25 ? `${v.slice(0, 22)}...` : v)}`).join(' ')}`);
  }
  return [
    `# Starting mapping generated from ${path.basename(o.sample)} (${doc.roots.length} IDoc(s), ${doc.format}) by \`ksef-bridge mapping new\`.`,
    '# The shipped mappings/sap-invoic02.yaml is a complete example for SD billing documents.',
    '# Segments found in the first IDoc (with qualifiers and sample values):',
    ...listing,
    'format:',
    '  type: idoc',
    'numbers:',
    '  decimal: "."',
    'dates: YYYYMMDD',
    'lookups:',
    '  taxCodes:        # TODO: every MWSKZ of your tax procedure -> KSeF rate (23, 8, 5, 0 KR, 0 WDT, 0 EX, zw, oo, np I, np II)',
    ...[...new Set([...segs.entries()].filter(([k]) => k.endsWith('E1EDP04') || k === 'E1EDK04').map(([, e]) => e.sample.MWSKZ).filter(Boolean))].map((c) => `    ${c}: "TODO"`),
    'invoice:',
    '  number: E1EDK01.BELNR',
    '  issueDate: E1EDK03[IDDAT=026].DATUM ?? E1EDK03[IDDAT=012].DATUM',
    '  currency: E1EDK01.CURCY',
    '  seller.nip: config.seller.nip ?? E1EDK01.EIGENUINR',
    '  seller.name: join(" ", E1EDKA1[PARVW=RS].NAME1, E1EDKA1[PARVW=RS].NAME2)',
    '  seller.address.countryCode: E1EDKA1[PARVW=RS].LAND1',
    '  seller.address.line1: E1EDKA1[PARVW=RS].STRAS',
    '  seller.address.line2: join(" ", E1EDKA1[PARVW=RS].PSTLZ, E1EDKA1[PARVW=RS].ORT01)',
    '  buyer.vatId: E1EDK01.KUNDEUINR',
    '  buyer.name: join(" ", E1EDKA1[PARVW=RE].NAME1, E1EDKA1[PARVW=RE].NAME2)',
    '  buyer.address.countryCode: E1EDKA1[PARVW=RE].LAND1',
    '  buyer.address.line1: E1EDKA1[PARVW=RE].STRAS',
    '  buyer.address.line2: join(" ", E1EDKA1[PARVW=RE].PSTLZ, E1EDKA1[PARVW=RE].ORT01)',
    '  # TODO: sale date, payment terms, bank account, corrections (see sap-invoic02.yaml)',
    'lines:',
    '  each: E1EDP01',
    '  fields:',
    '    name: E1EDP19[QUALF=002].KTEXT   # TODO check the qualifier',
    '    quantity: MENGE',
    '    unit: MENEE                      # TODO map SAP units with a lookup table',
    '    unitNetPrice: VPREI',
    '    netAmount: E1EDP26[QUALF=003].BETRG',
    '    vatRate: E1EDP04.MWSKZ | lookup(taxCodes)',
    'checks:',
    '  totals.gross: E1EDS01[SUMID=011].SUMME',
    '',
  ].join('\n');
}

function leafPaths(n: RecordNode, prefix: string, out: Map<string, string>, repeated: Set<string>): void {
  for (const [k, f] of Object.entries(n.fields)) {
    const p = prefix ? `${prefix}.${k}` : k;
    if (!out.has(p)) out.set(p, f.value);
  }
  const counts = new Map<string, number>();
  for (const c of n.children) counts.set(c.name, (counts.get(c.name) ?? 0) + 1);
  const seen = new Set<string>();
  for (const c of n.children) {
    const p = prefix ? `${prefix}.${c.name}` : c.name;
    if ((counts.get(c.name) ?? 0) > 1) repeated.add(p);
    if (seen.has(c.name)) continue;
    seen.add(c.name);
    leafPaths(c, p, out, repeated);
  }
}

async function treeScaffold(o: ScaffoldOptions): Promise<string> {
  const doc = await parseDocument({ path: o.sample }, { format: o.format } as FormatOptions);
  const root = doc.roots[0];
  if (!root) throw new MappingError('MAPPING_SAMPLE_EMPTY', `${o.sample} holds no records`, { file: o.sample });
  const leaves = new Map<string, string>();
  const repeated = new Set<string>();
  leafPaths(root, '', leaves, repeated);
  const linePath = [...repeated].sort((a, b) => b.length - a.length)[0];
  const header: string[] = [];
  const lines: string[] = [];
  const rest: string[] = [];
  for (const [p, v] of leaves) {
    const last = p.split('.').pop()!;
    if (linePath && p.startsWith(`${linePath}.`)) {
      const rel = p.slice(linePath.length + 1);
      const g = guess(last, 'line');
      if (g && !g.includes('[]')) lines.push(`    ${g}: ${yamlStr(rel)}${sampleOf(v)}`);
      else rest.push(`#   ${p}${sampleOf(v)}`);
    } else {
      const g = guess(last, 'header');
      if (g) header.push(`  ${g}: ${yamlStr(p)}${sampleOf(v)}`);
      else rest.push(`#   ${p}${sampleOf(v)}`);
    }
  }
  return [
    `# Starting mapping generated from ${path.basename(o.sample)} by \`ksef-bridge mapping new\`.`,
    'format:',
    `  type: ${o.format}`,
    `  # TODO recordPath: the path of one invoice when the file holds many (e.g. ${o.format === 'xml' ? 'Invoices/Invoice' : 'invoices'})`,
    'invoice:',
    ...(header.length ? header : ['  number: TODO']),
    COMMON_TAIL.trimEnd(),
    'lines:',
    `  each: ${linePath ? yamlStr(linePath) : 'TODO'}`,
    '  fields:',
    ...(lines.length ? lines : ['    name: TODO', '    quantity: TODO', '    unitNetPrice: TODO', '    vatRate: TODO']),
    '# Values found in the sample, not mapped yet (TODO: map or delete):',
    ...rest,
    '',
  ].join('\n');
}

async function fixedScaffold(o: ScaffoldOptions): Promise<string> {
  const text = (await readFile(o.sample)).toString('latin1');
  const sample = text.split(/\r?\n/).filter((l) => l.trim()).slice(0, 5);
  const width = Math.max(...sample.map((l) => l.length), 10);
  const ruler = Array.from({ length: Math.ceil(width / 10) }, (_, i) => String((i + 1) * 10).padStart(10, '.')).join('');
  return [
    `# Starting mapping generated from ${path.basename(o.sample)} by \`ksef-bridge mapping new\`.`,
    '# Fixed-width records: write each field\'s 1-based start column and length from the ERP\'s record layout.',
    `#   ${ruler}`,
    ...sample.map((l) => `#   ${l}`),
    'format:',
    '  type: fixed',
    `  encoding: ${o.encoding ?? 'windows-1250'}   # TODO cp852 for DOS-era systems`,
    '  # TODO: recordType: { start: 1, length: 1, header: [N], line: [P] } and layouts: { N: [...], P: [...] }',
    '  fields:',
    '    - { name: TODO, start: 1, length: 10 }',
    'invoice:',
    '  number: TODO',
    COMMON_TAIL.trimEnd(),
    'lines:',
    '  each: line',
    '  fields:',
    '    name: TODO',
    '    quantity: TODO',
    '    unitNetPrice: TODO',
    '    vatRate: TODO',
    '',
  ].join('\n');
}

/** A starting mapping (YAML text) for the sample export. */
export async function scaffoldMapping(o: ScaffoldOptions): Promise<string> {
  switch (o.format) {
    case 'csv':
      return csvScaffold(o);
    case 'idoc':
      return idocScaffold(o);
    case 'xml':
    case 'json':
      return treeScaffold(o);
    case 'fixed':
      return fixedScaffold(o);
    default:
      throw new MappingError('MAPPING_FORMAT_UNKNOWN', `unknown format ${String((o as { format: unknown }).format)}`, { file: o.sample, allowed: 'csv, idoc, xml, json, fixed' });
  }
}
