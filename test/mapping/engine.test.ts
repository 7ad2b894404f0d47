/**
 * The mapping engine feature by feature: the mapping file check (with lines and suggestions), paths and selections,
 * every function, conversions to the Invoice field types, and every error path with the content of its message.
 */
import { describe, expect, it } from 'vitest';
import { MappingError } from '../../src/errors/index.js';
import { compileMapping, mapFile, iterateFile, type MappedInvoice, type MapOptions } from '../../src/mapping/index.js';

const SELLER = { seller: { nip: '5260181596' } };
const OPTS: MapOptions = { variables: SELLER, today: '2026-11-21', now: new Date('2026-06-01T00:00:00Z'), file: 'export.csv' };

/** A CSV export with one invoice per number, and a mapping whose invoice rules can be replaced. */
const CSV = [
  'Nr;Data;NIP;Nabywca;Waluta;Kurs;Towar;Ilosc;Cena;Stawka;Jm;Brutto',
  'FV/1;2026-03-10;5252248481;Hurtownia „Iskra” S.A.;PLN;;Kabel;10;3,85;23;SZT;47,36',
  'FV/1;2026-03-10;5252248481;Hurtownia „Iskra” S.A.;PLN;;Gniazdo;4;12,50;8;KG;47,36',
  'FV/2;2026-03-11;7811767696;Delikatesy „Pod Dębem”;EUR;4,2869;Usługa;1;100,00;23;SZT;123,00',
].join('\n');

function mapping(invoiceRules: Record<string, string>, extra = '', lineRules?: Record<string, string>): string {
  const rules = {
    number: 'row.Nr',
    issueDate: 'row.Data',
    currency: 'row.Waluta',
    'seller.nip': 'config.seller.nip',
    'seller.name': '{ const: "Sprzedawca Sp. z o.o." }',
    'seller.address.countryCode': '{ const: PL }',
    'seller.address.line1': '{ const: "ul. Długa 1" }',
    'buyer.vatId': 'row.NIP',
    'buyer.name': 'row.Nabywca',
    ...invoiceRules,
  };
  const lines = lineRules ?? { name: 'Towar', quantity: 'Ilosc', unitNetPrice: 'Cena', vatRate: 'Stawka', exchangeRate: 'Kurs' };
  return [
    'format:',
    '  type: csv',
    '  delimiter: ";"',
    '  groupBy: Nr',
    'numbers:',
    '  decimal: ","',
    'lookups:',
    '  units: { SZT: szt., KG: kg }',
    extra,
    'invoice:',
    ...Object.entries(rules).map(([k, v]) => `  ${k}: ${v.startsWith('{') || v.startsWith("'") ? v : JSON.stringify(v)}`),
    'lines:',
    '  each: row',
    '  fields:',
    ...Object.entries(lines).map(([k, v]) => `    ${k}: ${v.startsWith('{') || v.startsWith("'") ? v : JSON.stringify(v)}`),
  ].join('\n');
}

async function run(yaml: string, csv = CSV, opts: MapOptions = {}): Promise<MappedInvoice[]> {
  const m = compileMapping(yaml, 'test-mapping.yaml');
  const r = await mapFile(m, csv, { ...OPTS, ...opts });
  expect(r.fileProblems).toEqual([]);
  return r.invoices;
}

function compileError(yaml: string): MappingError {
  try {
    compileMapping(yaml, 'bad.yaml');
  } catch (e) {
    expect(e).toBeInstanceOf(MappingError);
    return e as MappingError;
  }
  throw new Error('the mapping compiled');
}

/** Value of one expression for the first invoice, through an invoice field of type text (systemInfo). */
async function value(expr: string, csv = CSV, extra = ''): Promise<string | undefined> {
  const [inv] = await run(mapping({ systemInfo: expr }, extra), csv, { build: false, explain: true });
  expect(inv!.problems.filter((p) => p.context.field === 'systemInfo').map((p) => p.message)).toEqual([]);
  return inv!.explain!.find((e) => e.field === 'systemInfo')?.value;
}

describe('a valid mapping', () => {
  it('maps every invoice, derives line values and totals, and builds valid FA(3)', async () => {
    const [a, b] = await run(mapping({}));
    expect(a!.ok).toBe(true);
    expect(a!.key).toBe('FV/1');
    expect(a!.invoice!.lines.map((l) => [l.name, l.quantity, l.unitNetPrice, l.netAmount, l.vatRate])).toEqual([
      ['Kabel', '10', '3.85', '38.50', '23'],
      ['Gniazdo', '4', '12.50', '50.00', '8'],
    ]);
    expect(a!.invoice!.totals).toEqual({ groups: { standard: { net: '38.50', vat: '8.86' }, reduced1: { net: '50.00', vat: '4.00' } }, gross: '101.36' });
    expect(a!.fa3Xml).toContain('<P_15>101.36</P_15>');
    expect(a!.fa3Xml).toMatch(/<DataWytworzeniaFa>2026-06-01T00:00:00(\.000)?Z<\/DataWytworzeniaFa>/);
    expect(b!.invoice!.currency).toBe('EUR');
  });

  it('streams invoices one at a time with iterateFile', async () => {
    const m = compileMapping(mapping({}), 'm.yaml');
    const keys: string[] = [];
    for await (const inv of iterateFile(m, CSV, OPTS)) keys.push(inv.key);
    expect(keys).toEqual(['FV/1', 'FV/2']);
  });

  it('--explain names the source field, its position and the rule of every value, and marks derived values', async () => {
    const [a] = await run(mapping({}), CSV, { explain: true });
    const e = a!.explain!;
    const q = e.find((x) => x.field === 'lines[1].quantity')!;
    expect(q).toMatchObject({ element: 'Fa/FaWiersz/P_8B', value: '4', expression: 'Ilosc' });
    expect(q.sources).toEqual([expect.objectContaining({ name: 'Ilosc', value: '4', where: 'line 3, column 8' })]);
    expect(q.rule).toMatch(/^test-mapping\.yaml:\d+$/);
    expect(e.find((x) => x.field === 'totals.gross')).toMatchObject({ value: '101.36', rule: 'derived from the lines' });
    expect(e.find((x) => x.field === 'lines[0].netAmount')).toMatchObject({ value: '38.50', rule: 'derived (quantity x unit price)' });
  });
});

describe('the mapping file check', () => {
  it('reports every problem with its line, and suggests names', () => {
    const e = compileError(['format:', '  type: csv', '  delimitr: ";"', 'invoice:', '  number: Nr', '  byer.name: X', '  kind: KOR', 'lines:', '  each: row', '  fields:', '    quantiti: Ilosc', 'lookup: {}'].join('\n'));
    expect(e.code).toBe('MAPPING_FILE_INVALID');
    const msg = e.message;
    expect(msg).toContain('bad.yaml:3:3: unknown key "delimitr" in format (csv) (did you mean "delimiter"?)');
    expect(msg).toContain('bad.yaml:6:3: unknown Invoice field "byer.name" (did you mean "buyer.name"?)');
    expect(msg).toContain('bad.yaml:7:9: kind: "KOR" is read as a source field name; for the fixed value write const: KOR');
    expect(msg).toContain('bad.yaml:11:5: unknown Invoice field "quantiti" in lines[] (did you mean "quantity"?)');
    expect(msg).toContain('bad.yaml:12:1: unknown key "lookup" in the mapping (did you mean "lookups"?)');
    expect(e.context).toMatchObject({ file: 'bad.yaml', line: 3, column: 3 });
  });

  it('reports YAML syntax errors with their line', () => {
    const e = compileError('format:\n  type: csv\ninvoice:\n  number: [Nr\n');
    expect(e.message).toMatch(/bad\.yaml:\d+:\d+: YAML: /);
  });

  it('names wrong types, unknown formats, functions, tables and variables', () => {
    const e = compileError(
      [
        'format: { type: cvs }',
        'invoice: [1, 2]',
        'lines:',
        '  each: row',
        '  fields:',
        '    name: Towar | trimm',
        '    unit: Jm | lookup(unit)',
        '    quantity: $qty',
        '    vatRate: Stawka +',
        '    index: Kod = 1',
      ].join('\n'),
    );
    const msg = e.message;
    expect(msg).toContain('unknown format "cvs" (did you mean "csv"?)');
    expect(msg).toContain('bad.yaml:2:10: invoice must be a map of keys and values');
    expect(msg).toContain('unknown function "trimm" (did you mean "trim"?)');
    expect(msg).toContain('unknown lookup table "unit"');
    expect(msg).toContain('unknown variable $qty');
    expect(msg).toContain('bad.yaml:9:14: "Stawka +": cannot read the expression');
    expect(msg).toContain('"=" selects records inside [..]; to compare two values use ==');
  });

  it('requires a format and an invoice section, and refuses a field mapped twice or a non-repeatable block', () => {
    expect(compileError('name: x\n').message).toMatch(/needs a format: section[\s\S]*needs an invoice: section/);
    const e = compileError('format: csv\ninvoice:\n  number: A\n  number: B\n');
    expect(e.message).toContain('YAML: Map keys must be unique');
    const e2 = compileError('format: csv\ninvoice:\n  number: A\n  buyer.name[]:\n    each: row\n    fields: { x: A }\n');
    expect(e2.message).toContain('"buyer.name[]" is not a repeatable Invoice field');
  });
});

describe('paths', () => {
  const IDOC_LIKE = ['Nr;Typ;Kod;Wartosc', 'FV/1;RS;009;Sprzedawca', 'FV/1;RE;010;Nabywca', 'FV/1;RE;011;Drugi'].join('\n');
  it('select records by field value, by position and by condition', async () => {
    const base = { number: 'row.Nr', 'seller.nip': 'config.seller.nip' };
    void base;
    expect(await value('row[Typ=RE].Wartosc', IDOC_LIKE)).toBe('Nabywca');
    expect(await value('row[Typ=RE][Kod=011].Wartosc', IDOC_LIKE)).toBe('Drugi');
    expect(await value('row[Kod="009"].Wartosc', IDOC_LIKE)).toBe('Sprzedawca');
    expect(await value('row[2].Wartosc', IDOC_LIKE)).toBe('Nabywca');
    expect(await value('row[Typ == "RE" and Kod != "010"].Wartosc', IDOC_LIKE)).toBe('Drugi');
    expect(await value('row[Typ=XX].Wartosc ?? "none"', IDOC_LIKE)).toBe('none');
    expect(await value('count(row[Typ=RE])', IDOC_LIKE)).toBe('2');
    expect(await value('join(", ") (row.Wartosc)', IDOC_LIKE).catch((e: Error) => e.message)).toContain('only named functions can be called');
    expect(await value('row.Wartosc | join(", ")', IDOC_LIKE)).toBe('Sprzedawca, Nabywca, Drugi');
    expect(await value('row["Wartosc"] & "/" & col("Nr")', IDOC_LIKE)).toBe('Sprzedawca/');
    expect(await value('exists(row[Typ=RE]) and not exists(row[Typ=XX])', IDOC_LIKE)).toBe('true');
  });

  it('read config values and variables', async () => {
    expect(await value('config.seller.nip & "-" & $v', CSV, 'vars:\n  v: row.Waluta')).toBe('5260181596-PLN');
    expect(await value('config.nothing.here ?? "x"')).toBe('x');
  });
});

describe('functions and operators', () => {
  const cases: Array<[string, string | undefined]> = [
    ['"  a b  " | trim', 'a b'],
    ['"abc" | upper', 'ABC'],
    ['"ABC" | lower', 'abc'],
    ['"42" | pad(5)', '00042'],
    ['"42" | pad(5, "*")', '***42'],
    ['("42" | padRight(4, ".")) & "|"', '42..|'],
    ['"0000204711" | unpad', '204711'],
    ['"ABCDEFG" | substr(2, 3)', 'CDE'],
    ['"ABCDEFG" | substr(4)', 'EFG'],
    ['"a-b-c" | replace("-", "+")', 'a+b+c'],
    ['"a;b;c" | split(";", 2)', 'b'],
    ['"a;b;c" | split(";", -1)', 'c'],
    ['"a;b;c" | split(";") | join("/")', 'a/b/c'],
    ['"526-018-15-96" | digits', '5260181596'],
    ['"pl 5260181596" | stripPrefix("PL")', '5260181596'],
    ['"1 234,50" | number', '1234.5'],
    ['"1.234,50" | number(",")', '1234.5'],
    ['"1,234.50" | number(".")', '1234.5'],
    ['"1234.50-" | sapNumber', '-1234.5'],
    ['"2,345" | round(2)', '2.35'],
    ['"-2,345" | round(1)', '-2.3'],
    ['"-2,5" | abs', '2.5'],
    ['"2,5" | negate', '-2.5'],
    ['"31.12.2026" | date("DD.MM.YYYY")', '2026-12-31'],
    ['"20260131" | sapDate', '2026-01-31'],
    ['("00000000" | sapDate) ?? "none"', 'none'],
    ['"23.000" | vatRate', '23'],
    ['"ZW" | vatRate', 'zw'],
    ['"SZT" | lookup(units)', 'szt.'],
    ['"XX" | lookup(units, "?")', '?'],
    ['lookup("XX", units, "fb")', 'fb'],
    ['join(" ", "a", "", "b")', 'a b'],
    ['"3" * "1,5" + "1"', '5.5'],
    ['"10" / "4"', '2.5'],
    ['"10" - "12"', '-2'],
    ['"1234.50-" | sapNumber | abs', '1234.5'],
    ['-"3"', '-3'],
    ['"23.000" == "23" ? "same" : "different"', 'same'],
    ['"b" > "a" and "2" < "10"', 'true'],
    ['"" ?? "empty"', 'empty'],
    ['if("", "yes", "no")', 'no'],
    ['coalesce(row.Nothing, "", "third")', 'third'],
    ['"x" | default("y")', 'x'],
    ['"FV/1" | matches("^FV/")', 'true'],
    ['("abc" | contains("b")) & ("abc" | startsWith("b"))', 'truefalse'],
    ['"B" | oneOf("A", "B")', 'true'],
    ['sum(row.Ilosc)', '14'],
    ['(row.Ilosc | first) & (row.Ilosc | last)', '104'],
    ['count(row.Ilosc)', '2'],
    ['not row.Nothing', 'true'],
  ];
  for (const [expr, expected] of cases) {
    it(`${expr} -> ${expected}`, async () => {
      expect(await value(expr)).toBe(expected);
    });
  }
});

describe('conversions to the Invoice fields', () => {
  it('converts numbers, dates, yes/no values, rates, enums and VAT ids', async () => {
    const csv = ['Nr;D;NIP;T;Q;R;F', 'K/1;31.03.2026;PL 525-224-84-81;TAK;1 000,5;23%;X'].join('\n');
    const [inv] = await run(
      mapping(
        { number: 'row.Nr', issueDate: 'row.D', currency: '\'"PLN"\'', 'buyer.vatId': 'row.NIP', 'annotations.splitPayment': 'row.T', 'payment.form.method': '\'"Transfer"\'', 'buyer.localGovernmentUnit': 'row.F == "Y"' },
        'dates: DD.MM.YYYY',
        { name: '\'"x"\'', quantity: 'Q', unitNetPrice: '\'"1"\'', vatRate: 'R' },
      ),
      csv,
      { build: false },
    );
    expect(inv!.problems.map((p) => p.message)).toEqual([]);
    expect(inv!.invoice).toMatchObject({ issueDate: '2026-03-31', buyer: { id: { kind: 'nip', nip: '5252248481' }, localGovernmentUnit: false }, annotations: { splitPayment: true }, payment: { form: { method: 'transfer' } } });
    expect(inv!.invoice!.lines[0]).toMatchObject({ quantity: '1000.5', vatRate: '23', netAmount: '1000.50' });
  });

  it('reads EU and other VAT ids and no VAT id', async () => {
    const csv = ['Nr;NIP', 'A;DE811907980', 'B;GR123456789', 'C;CH-123.456.789', 'D;'].join('\n');
    const invs = await run(mapping({ number: 'row.Nr', issueDate: '\'"2026-01-05"\'', currency: '{ const: PLN }', 'buyer.vatId': 'row.NIP' }, '', { name: '\'"x"\'', netAmount: '\'"1"\'', vatRate: '\'"23"\'' }), csv, { build: false });
    expect(invs.map((i) => i.invoice?.buyer.id)).toEqual([
      { kind: 'eu-vat', countryCode: 'DE', vatNumber: '811907980' },
      { kind: 'eu-vat', countryCode: 'EL', vatNumber: '123456789' },
      { kind: 'other', countryCode: 'CH', id: '123456789' },
      { kind: 'none' },
    ]);
  });
});

describe('problems in the consultant\'s terms', () => {
  it('a malformed number names invoice, line, column, field, value, rule and Invoice field', async () => {
    const csv = CSV.replace('Gniazdo;4;', 'Gniazdo;1.2.3;');
    const [a, b] = await run(mapping({}), csv);
    expect(a!.ok).toBe(false);
    expect(a!.invoice).toBeUndefined();
    expect(a!.fa3Xml).toBeUndefined();
    const p = a!.problems[0]!;
    expect(p).toBeInstanceOf(MappingError);
    expect(p.code).toBe('MAPPING_VALUE_INVALID');
    expect(p.message).toMatch(/^invoice FV\/1, line 3, column 8, Ilosc "1\.2\.3" is not a number \(.*\) \(mapping test-mapping\.yaml:\d+, line\.quantity\)$/);
    expect(p.context).toMatchObject({ file: 'export.csv', line: 3, column: 8, field: 'line.quantity', value: '1.2.3', document: 'FV/1', details: { sourceField: 'Ilosc' } });
    expect(p.context.rule).toMatch(/^test-mapping\.yaml:\d+$/);
    expect(b!.ok).toBe(true); // the other invoice of the file proceeds
  });

  it('a bad date, a bad rate, a bad yes/no value, an unknown enum value', async () => {
    const csv = ['Nr;Data;Stawka;T;F', 'A;2026-02-30;23;1;transfer', 'B;2026-02-03;0;1;transfer', 'C;2026-02-03;23;maybe;transfer', 'D;2026-02-03;23;1;przelew'].join('\n');
    const invs = await run(
      mapping({ number: 'row.Nr', issueDate: 'row.Data', currency: '{ const: PLN }', 'buyer.vatId': '\'"5252248481"\'', 'annotations.splitPayment': 'row.T', 'payment.form.method': 'row.F' }, '', { name: '\'"x"\'', netAmount: '\'"1"\'', vatRate: 'Stawka' }),
      csv,
      { build: false },
    );
    expect(invs.map((i) => i.problems.map((p) => `${p.code}: ${p.message}`))).toEqual([
      [expect.stringMatching(/^MAPPING_VALUE_INVALID: invoice A, line 2, column 2, Data "2026-02-30" is not a calendar date/)],
      [expect.stringMatching(/^MAPPING_VALUE_INVALID: invoice B, line 3, column 3, Stawka "0" is a 0% rate, which KSeF splits into "0 KR"/)],
      [expect.stringMatching(/^MAPPING_VALUE_INVALID: invoice C, line 4, column 4, T "maybe" is not a yes\/no value/)],
      [expect.stringMatching(/^MAPPING_VALUE_INVALID: invoice D, line 5, column 5, F "przelew" is not one of: cash, card, voucher, cheque, credit, transfer, mobile, other/)],
    ]);
  });

  it('an unmapped code names the table, its codes and the fix', async () => {
    const csv = CSV.replace(';KG;', ';LTR;');
    const [a] = await run(mapping({}, '', { name: 'Towar', quantity: 'Ilosc', unitNetPrice: 'Cena', vatRate: 'Stawka', unit: 'Jm | lookup(units)' }), csv);
    const p = a!.problems[0]!;
    expect(p.code).toBe('MAPPING_LOOKUP_MISSING');
    expect(p.message).toMatch(/^invoice FV\/1, line 3, column 11, Jm "LTR" is not in the lookup table units \(test-mapping\.yaml:\d+; codes: SZT, KG\) \(mapping test-mapping\.yaml:\d+, line\.unit\)$/);
    expect(p.hint).toContain('add "LTR" to lookups.units');
  });

  it('a required rule that finds nothing, and a field the invoice needs that no rule gives', async () => {
    const [a] = await run(mapping({ 'correction.corrected[0].number': '{ from: row.Ref, required: true }' }), CSV, { build: false });
    expect(a!.problems.map((p) => [p.code, p.message])).toEqual([['MAPPING_FIELD_MISSING', expect.stringMatching(/^invoice FV\/1, correction\.corrected\[0\]\.number has no value: row\.Ref found nothing \(mapping test-mapping\.yaml:\d+/)]]);
    const y = mapping({}).replace(/  issueDate: .*\n/, '');
    const [b] = await run(y, CSV, { build: false });
    expect(b!.problems.map((p) => [p.code, p.message])).toEqual([['MAPPING_FIELD_MISSING', 'invoice FV/1, issueDate (P_1) is required, but the mapping gives it no value (issueDate)']]);
    expect(b!.problems[0]!.hint).toBe('add a rule for issueDate to the mapping');
  });

  it('a stated total that the lines do not add up to', async () => {
    const [a, b] = await run(mapping({}, 'checks:\n  totals.gross: row.Brutto\n  lines.count: \'"2"\''));
    expect(a!.problems.map((p) => p.code)).toEqual(['MAPPING_TOTAL_MISMATCH']);
    expect(a!.problems[0]!.message).toMatch(/^invoice FV\/1, line 2, column 12, Brutto "47,36" differs from the gross total \(P_15\) computed from the lines, 101\.36 \(difference -54\.00\) \(mapping test-mapping\.yaml:\d+, check totals\.gross\)$/);
    expect(b!.problems.map((p) => p.message)).toEqual([expect.stringContaining('"2" differs from the number of invoice lines mapped, 1')]);
  });

  it('a model rule broken by a mapped value points at the rule and the source field', async () => {
    const csv = CSV.replace('5252248481', '5252248482');
    const [a] = await run(mapping({}), csv);
    expect(a!.problems.map((p) => [p.code, p.message])).toEqual([
      ['SEM_NIP_CHECKSUM', expect.stringMatching(/^invoice FV\/1, line 2, column 3, NIP "5252248482": the buyer NIP 5252248482 has a wrong check digit.* \(mapping test-mapping\.yaml:\d+, buyer\.vatId\)$/)],
    ]);
  });

  it('a division by zero and an expression error are problems of the invoice, not crashes', async () => {
    const [a] = await run(mapping({}, '', { name: 'Towar', quantity: 'Ilosc', unitNetPrice: 'Cena / "0"', vatRate: 'Stawka' }), CSV, { build: false });
    expect(a!.problems[0]!.message).toMatch(/Cena "3,85" is a division by zero|"0" is a division by zero/);
  });
});

describe('two-file exports', () => {
  it('refuses to guess a lines file it cannot name', async () => {
    const m = compileMapping('format:\n  type: csv\n  linesFile: { replace: [naglowki, pozycje] }\n  headerKey: Nr\ninvoice:\n  number: header.Nr\n', 'two.yaml');
    const r = await mapFile(m, { path: '/nonexistent/faktury.csv' }, OPTS);
    expect(r.fileProblems.map((p) => p.code)).toEqual(['MAPPING_LINES_FILE_MISSING']);
  });
});

describe('invoices inside a document', () => {
  it('invoices: selects the invoice records; XML attributes (@) and element text (#text) are fields', async () => {
    const xml = '<?xml version="1.0"?><Root><Faktury><Faktura><Numer typ="x">FV/9</Numer><Uwagi lang="pl">Tekst uwagi</Uwagi></Faktura><Faktura><Numer>FV/10</Numer></Faktura></Faktury></Root>';
    const m = compileMapping('format: xml\ninvoices: Faktury.Faktura\ninvoice:\n  number: Numer\n  systemInfo: Uwagi.#text & "|" & Numer.@typ & "|" & Uwagi.@lang\n', 'x.yaml');
    const r = await mapFile(m, xml, { build: false, explain: true });
    expect(r.invoices.map((i) => [i.key, i.explain!.find((e) => e.field === 'systemInfo')?.value])).toEqual([
      ['FV/9', 'Tekst uwagi|x|pl'],
      ['FV/10', '||'],
    ]);
    expect(r.invoices[0]!.explain!.find((e) => e.field === 'number')!.sources[0]!.where).toMatch(/Numer \(line 1\)$/);
  });
});
