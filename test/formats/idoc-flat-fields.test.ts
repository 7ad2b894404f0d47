/**
 * The flat reader cuts fields and the administrative part by character codes instead of substrings,
 * trims and regular expressions; these tests pin that it behaves exactly as `substr(...).trim()` and
 * the digit checks did.
 */
import { describe, expect, it } from 'vitest';
import { MappingError } from '../../src/errors/index.js';
import { parseIdocFlat, writeIdocFlat, type IdocSpec } from '../../src/formats/index.js';
import { trimmedField } from '../../src/formats/idoc/flat.js';
import { prng } from '../mapping/generate.js';

const SPACES = [' ', '\t', '\n', '\v', '\f', '\r', '\u00a0', '\u1680', '\u2000', '\u2005', '\u200a', '\u2028', '\u2029', '\u202f', '\u205f', '\u3000', '\ufeff'];
const OTHER = ['a', 'Ż', '0', '-', '\u200b', '\u0085', '\u180e', 'x y'];

async function errorOf(p: Promise<unknown>): Promise<MappingError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(MappingError);
    return e as MappingError;
  }
  throw new Error('expected an error');
}

const spec: IdocSpec = {
  control: { DOCNUM: '0000000000000042' },
  segments: [
    { name: 'E1EDK01', fields: { CURCY: 'PLN', BELNR: 'F/1' } },
    { name: 'E1EDP01', fields: { POSEX: '000010', MENGE: '2.000' }, children: [{ name: 'E1EDP19', fields: { QUALF: '002', KTEXT: 'Śruba' } }] },
  ],
};
const lines = () => writeIdocFlat([spec]).split('\n').filter(Boolean);
const put = (line: string, at: number, s: string) => line.slice(0, at) + s + line.slice(at + s.length);

describe('IDoc flat: fields and administrative part', () => {
  it('trims a field as String.prototype.trim does', () => {
    const r = prng(42);
    const pick = <T,>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!;
    for (let k = 0; k < 5000; k++) {
      let s = '';
      const n = Math.floor(r() * 12);
      for (let i = 0; i < n; i++) s += r() < 0.6 ? pick(SPACES) : pick(OTHER);
      const start = Math.floor(r() * (s.length + 2));
      const length = Math.floor(r() * (s.length + 3));
      expect(trimmedField(s, start, length)).toBe(s.substr(start, length).trim());
    }
  });

  it('reads SEGNUM, PSGNUM and HLEVEL with zeros, spaces or other blanks as padding', async () => {
    const l = lines();
    expect(l).toHaveLength(4); // EDI_DC40, E1EDK01 (1), E1EDP01 (2), E1EDP19 (3)
    l[1] = put(put(put(l[1]!, 49, '1     '), 55, '      '), 61, ' 2');
    l[2] = put(put(put(l[2]!, 49, '\t 2   '), 55, '000000'), 61, '2 ');
    l[3] = put(put(put(l[3]!, 49, '000003'), 55, '      '), 61, '\u00a03');
    const doc = await parseIdocFlat(l.join('\n'));
    const [control, k01, p01, ...rest] = doc.roots[0]!.children;
    expect(rest).toEqual([]);
    expect(control!.name).toBe('EDI_DC40');
    expect([k01!.name, k01!.pos.segmentNumber]).toEqual(['E1EDK01', 1]);
    expect([p01!.name, p01!.pos.segmentNumber]).toEqual(['E1EDP01', 2]);
    // PSGNUM blank: HLEVEL 3 puts E1EDP19 under the segment of level 2 before it
    expect(p01!.children.map((c) => [c.name, c.pos.segmentNumber])).toEqual([['E1EDP19', 3]]);
  });

  it.each([
    ['a sign', 49, '    -1'],
    ['digits split by a space', 49, '1 2   '],
    ['a blank SEGNUM', 49, '      '],
    ['a letter in PSGNUM', 55, '00000x'],
    ['a zero-width space in HLEVEL', 61, '\u200b2'],
  ])('refuses an administrative part with %s, quoting it as found', async (_what, at, value) => {
    const l = lines();
    l[2] = put(l[2]!, at, value);
    const err = await errorOf(parseIdocFlat(l.join('\n'), { file: 'a.idoc' }));
    expect(err.code).toBe('FORMAT_IDOC_RECORD');
    expect(err.context).toMatchObject({ file: 'a.idoc', line: 3 });
    expect(err.message).toContain('data record E1EDP01 ');
    const shown = { 49: 'SEGNUM', 55: 'PSGNUM', 61: 'HLEVEL' }[at]!;
    expect(err.message).toContain(`${shown} "${value.trim()}"`);
  });

  it('names both segment numbers when the parent is missing', async () => {
    const l = lines();
    l[3] = put(l[3]!, 55, '   009');
    const err = await errorOf(parseIdocFlat(l.join('\n'), { file: 'a.idoc' }));
    expect(err.code).toBe('FORMAT_IDOC_PARENT_MISSING');
    expect(err.message).toContain('(SEGNUM 000003) names parent segment 009,');
  });

  it('trims Unicode spaces around values and skips lines that hold only spaces', async () => {
    const l = lines();
    // where KTEXT of E1EDP19 is, from its parsed position
    const before = await parseIdocFlat(l.join('\n'));
    const ktext = before.roots[0]!.children[2]!.children[0]!.fields.KTEXT!;
    const start = ktext.pos.column! - 1;
    l[3] = put(l[3]!, start, '\u00a0Śruba\u3000');
    l.splice(2, 0, ' \u00a0\u3000 ');
    const doc = await parseIdocFlat(l.join('\n'));
    const f = doc.roots[0]!.children[2]!.children[0]!.fields.KTEXT!;
    expect(f.value).toBe('Śruba');
    expect(f.pos.line).toBe(5);
    expect(doc.roots[0]!.children[0]!.fields.DOCNUM!.value).toBe('0000000000000042');
  });

  it('warns once about a data record with another DOCNUM', async () => {
    const l = lines();
    l[1] = put(l[1]!, 33, '0000000000000043');
    l[2] = put(l[2]!, 33, '0000000000000044');
    const doc = await parseIdocFlat(l.join('\n'));
    expect(doc.warnings.map((w) => [w.code, w.pos.line])).toEqual([['FORMAT_IDOC_DOCNUM_MISMATCH', 2]]);
  });
});
