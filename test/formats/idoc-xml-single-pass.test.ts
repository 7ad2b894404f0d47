/**
 * IDoc-XML is read in a single pass over the text when it is plain IDoc-XML, and by the generic XML
 * reader otherwise. Both must give exactly the same result: same trees (names, fields, positions, key
 * order), same warnings, same errors. These tests compare the two on the fixture, on generated IDocs and
 * on many randomly damaged documents.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MappingError } from '../../src/errors/index.js';
import { parseIdocXml, writeIdocXml, type FormatWarning, type RecordNode } from '../../src/formats/index.js';
import { builtinRegistry, segmentRegistry } from '../../src/formats/idoc/definitions.js';
import { convertIdocXml, scanIdocXml } from '../../src/formats/idoc/xml.js';
import { prng, randomInvoice, toIdocSpec } from '../mapping/generate.js';

const fixtures = new URL('./fixtures/', import.meta.url).pathname;

type Outcome = { roots: RecordNode[]; warnings: FormatWarning[]; json: string } | { error: { code: string; message: string; context: unknown } };

function outcome(f: () => { roots: RecordNode[]; warnings: FormatWarning[] }): Outcome {
  try {
    const r = f();
    return { ...r, json: JSON.stringify(r) };
  } catch (e) {
    if (!(e instanceof MappingError)) throw e;
    return { error: { code: e.code, message: e.message, context: e.context } };
  }
}

/** The generic reader alone. */
function generic(text: string, reg = builtinRegistry()): Outcome {
  return outcome(() => {
    const warnings: FormatWarning[] = [];
    const roots = convertIdocXml(text, 'in.xml', reg, (w) => warnings.push(w));
    return { roots, warnings };
  });
}

/** What parseIdocXml does: the single pass, the generic reader when the single pass declines. */
function combined(text: string, reg = builtinRegistry()): Outcome {
  const fast = scanIdocXml(text, 'in.xml', reg);
  return fast ? outcome(() => fast) : generic(text, reg);
}

function generated(seed: number, n: number, eol = '\n'): string {
  const r = prng(seed);
  return writeIdocXml(
    Array.from({ length: n }, (_, i) => toIdocSpec(randomInvoice(r, i, 4), 7000 + i)),
    { root: seed % 2 ? 'ZINVOIC02' : 'INVOIC02' },
  ).replace(/\n/g, eol);
}

describe('IDoc-XML single pass', () => {
  it('reads the fixture itself and gives what the generic reader gives', () => {
    const text = readFileSync(join(fixtures, 'invoic02-idoc.xml'), 'utf8');
    expect(scanIdocXml(text, 'in.xml', builtinRegistry())).toBeDefined();
    const a = combined(text);
    expect('roots' in a && a.roots).toHaveLength(2);
    expect(a).toEqual(generic(text));
    expect((a as { json: string }).json).toBe((generic(text) as { json: string }).json);
  });

  it.each([1, 2, 3])('reads generated IDocs (seed %i, LF and CRLF) as the generic reader does', (seed) => {
    for (const eol of ['\n', '\r\n']) {
      const text = generated(seed, 6, eol);
      expect(scanIdocXml(text, 'in.xml', builtinRegistry())).toBeDefined();
      const a = combined(text);
      expect(a).toEqual(generic(text));
    }
  });

  it('handles the cases that decide between field and segment as the generic reader does', async () => {
    const text = [
      '<ZINVOIC02 xsi="x">',
      '<OTHER><IDOC/><X>1</X></OTHER>',
      '<IDOC BEGIN="1" EXTRA=" a &amp; b ">',
      '<EDI_DC SEGMENT="1"><TABNAM>EDI_DC40</TABNAM><DOCNUM> 42 </DOCNUM><DOCNUM>43</DOCNUM><MESTYP/><CREDAT>  </CREDAT></EDI_DC>',
      '<E1EDK01 SEGMENT="1"><CURCY>PLN</CURCY><CURCY>EUR</CURCY><BSART></BSART><HWAER/><BELNR>A&lt;B &gt; C &#261;&#x17C;</BELNR>',
      '  <ZNOSEG><ZA>1</ZA>text<ZB>2</ZB></ZNOSEG>',
      '  <E1EDK01 SEGMENT="1"/>',
      '  <ZLEAF ATTR="1">x > y</ZLEAF>',
      '</E1EDK01>',
      '<E1EDKA1>leaf under IDOC</E1EDKA1>',
      '<E2EDKA1003 SEGMENT="1"><PARVW>RE</PARVW></E2EDKA1003>',
      '<Z2CUSTOM000 SEGMENT="1"><F>1</F></Z2CUSTOM000><Z2CUSTOM000 SEGMENT="1"/>',
      '<EDI_DC40 SEGMENT="1"><DOCNUM>9</DOCNUM></EDI_DC40>',
      '</IDOC>',
      '<IDOC><EDI_DC40/></IDOC>',
      '</ZINVOIC02>',
      '',
    ].join('\n');
    expect(scanIdocXml(text, 'in.xml', builtinRegistry())).toBeDefined();
    const a = combined(text);
    expect(a).toEqual(generic(text));
    expect((a as { json: string }).json).toBe((generic(text) as { json: string }).json);
    const reg = segmentRegistry([{ segment: 'Z1CUSTOM', fields: [{ name: 'F', offset: 0, length: 5 }] }]);
    expect(combined(text, reg)).toEqual(generic(text, reg));
    // and through the public entry, with warnings delivered to onWarning as well
    const seen: FormatWarning[] = [];
    const doc = await parseIdocXml(text, { file: 'in.xml', onWarning: (w) => seen.push(w) });
    expect(doc.roots).toEqual((a as { roots: RecordNode[] }).roots);
    expect(seen).toEqual(doc.warnings);
    expect(seen.map((w) => w.message.split(' has')[0])).toEqual(['segment ZNOSEG', 'segment Z2CUSTOM000', 'segment EDI_DC40']);
  });

  it('leaves documents outside the plain subset to the generic reader', () => {
    const base = generated(5, 1);
    const variants = [
      base.replace('<E1EDK01 SEGMENT="1">', '<!-- c --><E1EDK01 SEGMENT="1">'),
      base.replace('<CURCY>', '<CURCY><![CDATA[PLN]]>'),
      base.replace('<IDOC BEGIN="1">', "<IDOC BEGIN='1'>"),
      base.replace('<?xml version="1.0" encoding="UTF-8"?>', "<?xml version='1.0'?>"),
      base.replace('<E1EDK01 SEGMENT="1">', '<E1EDK01 SEGMENT="1"><?pi x?>'),
      base.replace(/INVOIC02>/g, 'a:INVOIC02>').replace('<a:INVOIC02>', '<a:INVOIC02 xmlns:a="urn:x">'),
      base.replace('<IDOC BEGIN="1">', '<IDOC BEGIN="1">\n<E1EDK01 SEGMENT="1"/>'),
      base.replace('<IDOC BEGIN="1">', '<IDOC BEGIN="1" BEGIN="2">'),
      base.replace('<E1EDK01 SEGMENT="1">', '<E1EDK01 SEGMENT="1" NOTE="a\r\nb">'),
      base.replace(/<\/?Z?INVOIC02>/g, ''),
    ];
    for (const [k, v] of variants.entries()) {
      expect([k, scanIdocXml(v, 'in.xml', builtinRegistry())]).toEqual([k, undefined]);
      expect(combined(v)).toEqual(generic(v));
    }
  });

  it('gives the same result or the same error as the generic reader on randomly damaged documents', () => {
    const r = prng(20261121);
    const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
    const base = readFileSync(join(fixtures, 'invoic02-idoc.xml'), 'utf8').slice(0, 4000).replace(/<IDOC BEGIN="1">[^]*$/, '') + generated(9, 1).replace(/^[^]*?<IDOC/, '<IDOC');
    const pieces = ['<', '>', '/', '&', '"', "'", '=', ' ', '\n', '\r', '\t', ':', '!', '?', 'A', '&amp;', '&#65;', '&#xD800;', '&bad;', '&#x41', '<!-- x -->', '<![CDATA[x]]>', '</', '/>', ' SEGMENT="1"', ' a="1"', '<X>', '</X>', '<X/>', '\u00a0', 'ż', '__proto__', 'xmlns="u"'];
    let accepted = 0;
    let declined = 0;
    for (let k = 0; k < 1500; k++) {
      let text = base;
      const edits = 1 + Math.floor(r() * 3);
      for (let e = 0; e < edits; e++) {
        const at = Math.floor(r() * text.length);
        const op = r();
        if (op < 0.3) text = text.slice(0, at) + text.slice(at + 1 + Math.floor(r() * 3));
        else if (op < 0.8) text = text.slice(0, at) + pick(pieces) + text.slice(at);
        else {
          // duplicate or drop a whole element start/end, to shuffle the nesting
          const tag = /<\/?[A-Z0-9_]+[^>]*>/g;
          const tags = [...text.matchAll(tag)];
          const t = tags.length > 0 ? pick(tags) : undefined;
          if (t) text = r() < 0.5 ? text.slice(0, t.index) + text.slice(t.index + t[0].length) : text.slice(0, t.index) + t[0] + text.slice(t.index);
        }
      }
      const fast = scanIdocXml(text, 'in.xml', builtinRegistry());
      if (fast) accepted++;
      else declined++;
      const want = generic(text);
      const got = combined(text);
      if (JSON.stringify(got) !== JSON.stringify(want)) {
        // show the document that differs
        expect({ text, got }).toEqual({ text, got: want });
      }
    }
    // both kinds occur, so both paths were exercised
    expect(accepted).toBeGreaterThan(50);
    expect(declined).toBeGreaterThan(50);
  });
});
