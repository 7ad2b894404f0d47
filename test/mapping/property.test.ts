/**
 * Property-style round trips: random invoices (seeded) written out as the generic CSV export (Windows-1250) and as
 * SAP INVOIC02 IDocs (flat file and IDoc-XML), mapped back with the shipped mappings, give the same Invoice as
 * building it directly.
 */
import path from 'node:path';
import iconv from 'iconv-lite';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeIdocFlat, writeIdocXml } from '../../src/formats/index.js';
import { loadMapping, mapFile, type CompiledMapping } from '../../src/mapping/index.js';
import { expectedFromCsv, expectedFromIdoc, prng, randomInvoice, toCsv, toIdocSpec } from './generate.js';

const MAPPINGS = path.join(import.meta.dirname, '../../mappings');
const SELLER_NIP = '5260181596';
const NOW = new Date('2026-10-01T12:00:00Z');

let csvMapping: CompiledMapping;
let sapMapping: CompiledMapping;
beforeAll(async () => {
  csvMapping = await loadMapping(path.join(MAPPINGS, 'generic-csv.yaml'));
  sapMapping = await loadMapping(path.join(MAPPINGS, 'sap-invoic02.yaml'));
});

describe('round trip through the generic CSV export', () => {
  for (const seed of [1, 7, 2026, 90210]) {
    it(`seed ${seed}: 40 random invoices map back to the same Invoice`, async () => {
      const r = prng(seed);
      const invoices = Array.from({ length: 40 }, (_, i) => randomInvoice(r, i));
      const bytes = iconv.encode(toCsv(invoices, r), 'windows-1250');
      const res = await mapFile(csvMapping, bytes, { file: `gen-${seed}.csv`, variables: { seller: { nip: SELLER_NIP } }, now: NOW, today: '2026-11-21' });
      expect(res.fileProblems).toEqual([]);
      expect(res.invoices.map((i) => i.key)).toEqual(invoices.map((i) => i.number));
      res.invoices.forEach((m, i) => {
        expect(m.problems.map((p) => p.message)).toEqual([]);
        expect(m.ok).toBe(true);
        expect(m.fa3Xml).toContain('<Faktura');
        expect(m.invoice).toEqual(expectedFromCsv(invoices[i]!, SELLER_NIP));
      });
    });
  }
});

describe('round trip through SAP INVOIC02 IDocs', () => {
  for (const seed of [3, 42, 1234]) {
    it(`seed ${seed}: flat file port and IDoc-XML map back to the same Invoice`, async () => {
      const r = prng(seed);
      const invoices = Array.from({ length: 30 }, (_, i) => randomInvoice(r, i));
      const specs = invoices.map((inv, i) => toIdocSpec(inv, 4800000 + i));
      const expected = invoices.map((inv) => expectedFromIdoc(inv));
      for (const [name, data] of [
        ['flat', writeIdocFlat(specs)],
        ['xml', writeIdocXml(specs, { root: 'ZINVOIC02' })],
      ] as const) {
        const res = await mapFile(sapMapping, data, { file: `gen-${seed}.${name}`, now: NOW, today: '2026-11-21' });
        expect(res.fileProblems).toEqual([]);
        expect(res.invoices).toHaveLength(invoices.length);
        res.invoices.forEach((m, i) => {
          expect(m.problems.map((p) => p.message), `${name} ${m.key}`).toEqual([]);
          expect(m.invoice, `${name} ${m.key}`).toEqual(expected[i]);
        });
      }
    });
  }
});
