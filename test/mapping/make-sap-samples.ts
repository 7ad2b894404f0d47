/**
 * Writes the sample SAP exports of mappings/tests/sap-invoic02 (run: npx tsx test/mapping/make-sap-samples.ts).
 * The samples are hand-written SD billing documents; this script only lays them out as a SAP file port would
 * (fixed-length records) or as IDoc-XML, so their field offsets are right.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeIdocFlat, writeIdocXml, type IdocSegmentSpec, type IdocSpec } from '../../src/formats/index.js';

const DIR = join(import.meta.dirname, '../../mappings/tests/sap-invoic02');

const seller: IdocSegmentSpec = {
  name: 'E1EDKA1',
  fields: { PARVW: 'RS', PARTN: '0000001000', NAME1: 'Zakłady Mięsne „Łukosz”', NAME2: 'Sp. z o.o.', STRAS: 'ul. Świętokrzyska', HAUSN: '12', PSTLZ: '00-916', ORT01: 'Warszawa', LAND1: 'PL' },
};

function control(docnum: string): Record<string, string> {
  return { DOCNUM: docnum, DOCREL: '757', STATUS: '30', SNDPOR: 'SAPPRD', SNDPRT: 'LS', SNDPRN: 'PRDCLNT100', RCVPOR: 'KSEFBRIDGE', RCVPRT: 'LS', RCVPRN: 'KSEFBRIDGE', CREDAT: '20260312', CRETIM: '083000' };
}

interface Item {
  pos: string;
  qty: string;
  unit: string;
  price: string;
  net: string;
  mwskz: string;
  rate: string;
  vat: string;
  matnr: string;
  text: string;
  ean?: string;
}

function item(i: Item): IdocSegmentSpec {
  return {
    name: 'E1EDP01',
    fields: { POSEX: i.pos, MENGE: i.qty, MENEE: i.unit, VPREI: i.price, PEINH: '1', NETWR: i.net },
    children: [
      { name: 'E1EDP26', fields: { QUALF: '003', BETRG: i.net } },
      { name: 'E1EDP19', fields: { QUALF: '002', IDTNR: i.matnr, KTEXT: i.text } },
      ...(i.ean ? [{ name: 'E1EDP19', fields: { QUALF: '003', IDTNR: i.ean } }] : []),
      { name: 'E1EDP04', fields: { MWSKZ: i.mwskz, MSATZ: i.rate, MWSBT: i.vat } },
    ],
  };
}

function totals(n: number, net: string, vat: string, gross: string, cur = 'PLN'): IdocSegmentSpec[] {
  return [
    { name: 'E1EDS01', fields: { SUMID: '001', SUMME: String(n) } },
    { name: 'E1EDS01', fields: { SUMID: '010', SUMME: net, WAERQ: cur } },
    { name: 'E1EDS01', fields: { SUMID: '005', SUMME: vat, WAERQ: cur } },
    { name: 'E1EDS01', fields: { SUMID: '011', SUMME: gross, WAERQ: cur } },
  ];
}

// ---- invoice-pln.idoc: two invoices in one file port file ----
const inv1: IdocSpec = {
  control: control('0000000004810001'),
  segments: [
    { name: 'E1EDK01', fields: { CURCY: 'PLN', HWAER: 'PLN', WKURS: '1.00000', ZTERM: 'ZB14', EIGENUINR: 'PL5213017228', KUNDEUINR: 'PL7811767696', BSART: 'INVO', BELNR: '0090012345' } },
    seller,
    { name: 'E1EDKA1', fields: { PARVW: 'AG', PARTN: '0000204711', NAME1: 'Delikatesy „Pod Dębem”', NAME2: 'Małgorzata Wójcik', STRAS: 'ul. Grunwaldzka', HAUSN: '182', PSTLZ: '60-166', ORT01: 'Poznań', LAND1: 'PL' } },
    { name: 'E1EDKA1', fields: { PARVW: 'RE', PARTN: '0000204711', NAME1: 'Delikatesy „Pod Dębem”', NAME2: 'Małgorzata Wójcik', STRAS: 'ul. Grunwaldzka', HAUSN: '182', PSTLZ: '60-166', ORT01: 'Poznań', LAND1: 'PL' } },
    { name: 'E1EDK02', fields: { QUALF: '009', BELNR: '0090012345', DATUM: '20260312' } },
    { name: 'E1EDK02', fields: { QUALF: '001', BELNR: 'ZAM/2026/03/118', DATUM: '20260305' } },
    { name: 'E1EDK02', fields: { QUALF: '012', BELNR: '0080004411', DATUM: '20260310' } },
    { name: 'E1EDK03', fields: { IDDAT: '026', DATUM: '20260312' } },
    { name: 'E1EDK03', fields: { IDDAT: '012', DATUM: '20260312' } },
    { name: 'E1EDK03', fields: { IDDAT: '001', DATUM: '20260310' } },
    { name: 'E1EDK03', fields: { IDDAT: '028', DATUM: '20260326' } },
    { name: 'E1EDK04', fields: { MWSKZ: 'A3', MSATZ: '5.000', MWSBT: '48.81' } },
    { name: 'E1EDK04', fields: { MWSKZ: 'A1', MSATZ: '23.000', MWSBT: '54.37' } },
    { name: 'E1EDK04', fields: { MWSKZ: 'A2', MSATZ: '8.000', MWSBT: '96.00' } },
    { name: 'E1EDK18', fields: { QUALF: '001', TAGE: '14', ZTERM_TXT: 'Płatne w ciągu 14 dni' } },
    { name: 'E1EDK28', fields: { BCOUN: 'PL', BRNUM: 'BREXPLPWMBK', BNAME: 'mBank S.A.', BALOC: 'Warszawa', ACNUM: '61109010140000071219812874', ACNAM: 'Zakłady Mięsne Łukosz' } },
    { name: 'E1EDKT1', fields: { TDID: '0001', TSSPRAS: 'L', TSSPRAS_ISO: 'PL' }, children: [{ name: 'E1EDKT2', fields: { TDLINE: 'Dziękujemy za zakupy. Reklamacje: reklamacje@lukosz.pl' } }] },
    item({ pos: '000010', qty: '12.500', unit: 'KGM', price: '38.90', net: '486.25', mwskz: 'A3', rate: '5.000', vat: '24.31', matnr: '000000000000100231', text: 'Szynka wędzona z beczki', ean: '5901234123457' }),
    item({ pos: '000020', qty: '20.000', unit: 'KGM', price: '24.50', net: '490.00', mwskz: 'A3', rate: '5.000', vat: '24.50', matnr: '000000000000100412', text: 'Kiełbasa śląska' }),
    item({ pos: '000030', qty: '48.000', unit: 'ST', price: '1.80', net: '86.40', mwskz: 'A1', rate: '23.000', vat: '19.87', matnr: '000000000000300017', text: 'Napój energetyczny 0,25 l' }),
    item({ pos: '000040', qty: '1.000', unit: 'LE', price: '150.00', net: '150.00', mwskz: 'A1', rate: '23.000', vat: '34.50', matnr: '000000000000900001', text: 'Transport chłodniczy Warszawa–Poznań' }),
    item({ pos: '000050', qty: '1.000', unit: 'LE', price: '1200.00', net: '1200.00', mwskz: 'A2', rate: '8.000', vat: '96.00', matnr: '000000000000900040', text: 'Catering – obsługa przyjęcia firmowego' }),
    ...totals(5, '2412.65', '199.18', '2611.83'),
  ],
};

const tools: Array<[string, string, string, string]> = [
  ['Wiertarka udarowa 850 W', '3.000', 'ST', '289.00'],
  ['Szlifierka kątowa 125 mm', '2.000', 'ST', '199.99'],
  ['Młot wyburzeniowy 1500 W', '1.000', 'ST', '1249.00'],
  ['Tarcza do cięcia stali 125×1,0', '50.000', 'ST', '3.45'],
  ['Kask ochronny żółty', '15.000', 'ST', '27.90'],
  ['Rękawice robocze powlekane', '120.000', 'PAK', '4.15'],
  ['Poziomica aluminiowa 120 cm', '4.000', 'ST', '74.50'],
  ['Taśma miernicza 8 m', '10.000', 'ST', '19.99'],
  ['Łata tynkarska 2,5 m', '6.000', 'ST', '58.00'],
  ['Zaprawa klejąca 25 kg', '40.000', 'ST', '21.30'],
  ['Folia budowlana 4×25 m', '8.000', 'ST', '64.90'],
  ['Śruby do drewna 5×60, 200 szt.', '12.000', 'PAK', '17.40'],
];
let net2 = 0;
let vat2Base = 0;
const items2 = tools.map(([text, qty, unit, price], i) => {
  const net = Math.round(Number(qty) * Number(price) * 100) / 100;
  net2 += net;
  vat2Base += net;
  return item({ pos: String((i + 1) * 10).padStart(6, '0'), qty, unit, price, net: net.toFixed(2), mwskz: 'A1', rate: '23.000', vat: (Math.round(net * 23) / 100).toFixed(2), matnr: String(200100 + i).padStart(18, '0'), text });
});
const net2s = net2.toFixed(2);
const vat2s = (Math.round(vat2Base * 23) / 100).toFixed(2);
const inv2: IdocSpec = {
  control: control('0000000004810002'),
  segments: [
    { name: 'E1EDK01', fields: { CURCY: 'PLN', HWAER: 'PLN', EIGENUINR: 'PL5213017228', KUNDEUINR: 'PL 676-246-16-59', BSART: 'INVO', BELNR: '0090012346' } },
    seller,
    { name: 'E1EDKA1', fields: { PARVW: 'AG', PARTN: '0000300512', NAME1: 'Przedsiębiorstwo Budowlane', NAME2: '„Górnik” S.A.', STRAS: 'al. Pokoju', HAUSN: '18', PSTLZ: '31-564', ORT01: 'Kraków', LAND1: 'PL' } },
    { name: 'E1EDK02', fields: { QUALF: '009', BELNR: '0090012346', DATUM: '20260313' } },
    { name: 'E1EDK03', fields: { IDDAT: '026', DATUM: '20260313' } },
    { name: 'E1EDK03', fields: { IDDAT: '035', DATUM: '20260311' } },
    item({ pos: '', qty: '0', unit: '', price: '0', net: '0', mwskz: '', rate: '', vat: '', matnr: '', text: '' }),
    ...totals(12, net2s, vat2s, (Number(net2s) + Number(vat2s)).toFixed(2)),
  ].filter((s) => s.name !== 'E1EDP01'),
};
inv2.segments.splice(inv2.segments.length - 4, 0, ...items2);

writeFileSync(join(DIR, 'invoice-pln.idoc'), writeIdocFlat([inv1, inv2], { lineEnding: '\r\n' }));

// ---- invoice-eur.xml: IDoc-XML of an extension type, release-suffixed segment names ----
const sellerXml: IdocSegmentSpec = { ...seller, name: 'E2EDKA1003' };
const eur1: IdocSpec = {
  control: { ...control('0000000004820001'), CIMTYP: 'ZINVOIC02', CREDAT: '20260401' },
  segments: [
    { name: 'E2EDK01005', fields: { CURCY: 'EUR', HWAER: 'PLN', WKURS: '4.28690', EIGENUINR: 'PL5213017228', KUNDEUINR: 'DE811907980', BSART: 'INVO', BELNR: '0090020200' } },
    sellerXml,
    { name: 'E2EDKA1003', fields: { PARVW: 'RE', PARTN: '0000700001', NAME1: 'Landmaschinen Müller GmbH', STRAS: 'Industriestraße', HAUSN: '7', PSTLZ: '86150', ORT01: 'Augsburg', LAND1: 'DE' } },
    { name: 'E2EDK03', fields: { IDDAT: '026', DATUM: '20260401' } },
    { name: 'E2EDK03', fields: { IDDAT: '001', DATUM: '20260330' } },
    { name: 'E2EDK03', fields: { IDDAT: '028', DATUM: '20260501' } },
    item({ pos: '000010', qty: '2.000', unit: 'ST', price: '4850.00', net: '9700.00', mwskz: 'E0', rate: '0.000', vat: '0.00', matnr: '000000000000500100', text: 'Kosiarka rotacyjna KR-2100' }),
    item({ pos: '000020', qty: '10.000', unit: 'PAK', price: '38.50', net: '385.00', mwskz: 'E0', rate: '0.000', vat: '0.00', matnr: '000000000000500180', text: 'Zestaw noży zapasowych do KR-2100' }),
    ...totals(2, '10085.00', '0.00', '10085.00', 'EUR'),
  ],
};
const eur2: IdocSpec = {
  control: { ...control('0000000004820002'), CIMTYP: 'ZINVOIC02', CREDAT: '20260402' },
  segments: [
    { name: 'E2EDK01005', fields: { CURCY: 'EUR', HWAER: 'PLN', WKURS: '4.28690', EIGENUINR: 'PL5213017228', KUNDEUINR: 'PL1132853869', BSART: 'INVO', BELNR: '0090020201' } },
    sellerXml,
    { name: 'E2EDKA1003', fields: { PARVW: 'RE', PARTN: '0000204900', NAME1: 'Biuro Projektowe Łącki i Wspólnicy', NAME2: 'Sp.k.', STRAS: 'ul. Piotrkowska', HAUSN: '104', PSTLZ: '90-926', ORT01: 'Łódź', LAND1: 'PL' } },
    { name: 'E2EDK03', fields: { IDDAT: '026', DATUM: '20260402' } },
    { name: 'E2EDK03', fields: { IDDAT: '027', DATUM: '20260331' } },
    item({ pos: '000010', qty: '12.500', unit: 'H', price: '95.00', net: '1187.50', mwskz: 'A1', rate: '23.000', vat: '273.13', matnr: '000000000000900210', text: 'Konsultacje techniczne – linia pakująca' }),
    { name: 'Z1KSEFINFO', sdata: 'Projekt P-2026-014' },
    ...totals(1, '1187.50', '273.13', '1460.63', 'EUR'),
  ],
};
writeFileSync(join(DIR, 'invoice-eur.xml'), writeIdocXml([eur1, eur2], { root: 'ZINVOIC02' }));

// ---- credit-memo.idoc: CRME referencing invoice 0090012345 ----
const crme: IdocSpec = {
  control: control('0000000004810050'),
  segments: [
    { name: 'E1EDK01', fields: { CURCY: 'PLN', EIGENUINR: 'PL5213017228', KUNDEUINR: 'PL7811767696', BSART: 'CRME', BELNR: '0090012400', AUGRU: 'Z05', AUGRU_BEZ: 'Zwrot towaru – reklamacja jakości' } },
    seller,
    { name: 'E1EDKA1', fields: { PARVW: 'RE', PARTN: '0000204711', NAME1: 'Delikatesy „Pod Dębem”', NAME2: 'Małgorzata Wójcik', STRAS: 'ul. Grunwaldzka', HAUSN: '182', PSTLZ: '60-166', ORT01: 'Poznań', LAND1: 'PL' } },
    { name: 'E1EDK02', fields: { QUALF: '009', BELNR: '0090012400', DATUM: '20260320' } },
    { name: 'E1EDK02', fields: { QUALF: '011', BELNR: '0090012345', DATUM: '20260312' } },
    { name: 'E1EDK03', fields: { IDDAT: '026', DATUM: '20260320' } },
    { name: 'Z1KSEFREF', sdata: '5213017228-20260312-4A7B1C-9D2E3F-1A' },
    item({ pos: '000010', qty: '2.000', unit: 'KGM', price: '24.50', net: '49.00', mwskz: 'A3', rate: '5.000', vat: '2.45', matnr: '000000000000100412', text: 'Kiełbasa śląska' }),
    ...totals(1, '49.00', '2.45', '51.45'),
  ],
};
writeFileSync(join(DIR, 'credit-memo.idoc'), writeIdocFlat([crme]));

// ---- problems.idoc: one good invoice and three with the errors a consultant meets ----
function small(belnr: string, docnum: string, over: Partial<Item>, gross = '123.00', extra: IdocSegmentSpec[] = []): IdocSpec {
  return {
    control: control(docnum),
    segments: [
      { name: 'E1EDK01', fields: { CURCY: 'PLN', EIGENUINR: 'PL5213017228', KUNDEUINR: 'PL5272525995', BSART: 'INVO', BELNR: belnr } },
      seller,
      { name: 'E1EDKA1', fields: { PARVW: 'RE', NAME1: 'Apteka „Pod Orłem” s.c.', STRAS: 'Rynek Główny', HAUSN: '3', PSTLZ: '50-106', ORT01: 'Wrocław', LAND1: 'PL' } },
      { name: 'E1EDK03', fields: { IDDAT: '026', DATUM: '20260315' } },
      item({ pos: '000010', qty: '1.000', unit: 'ST', price: '50.00', net: '50.00', mwskz: 'A1', rate: '23.000', vat: '11.50', matnr: '000000000000100001', text: 'Termometr elektroniczny' }),
      item({ pos: '000020', qty: '2.000', unit: 'ST', price: '25.00', net: '50.00', mwskz: 'A1', rate: '23.000', vat: '11.50', matnr: '000000000000100002', text: 'Ciśnieniomierz – mankiet', ...over }),
      ...extra,
      ...totals(2, '100.00', '23.00', gross),
    ],
  };
}
writeFileSync(
  join(DIR, 'problems.idoc'),
  writeIdocFlat([
    small('0090012500', '0000000004810060', {}),
    small('0090012501', '0000000004810061', { qty: '1.2.3' }),
    small('0090012502', '0000000004810062', { mwskz: 'B7' }),
    small('0090012503', '0000000004810063', {}, '132.00'),
  ]),
);
console.log('written to', DIR);
