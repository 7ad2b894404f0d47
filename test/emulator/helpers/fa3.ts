/**
 * A tiny FA(3) invoice generator for the emulator's tests and benchmark (the project's FA(3) writer is a separate
 * module; these tests must not depend on it). Produces a minimal document valid against schemat_FA(3)_v1-0E.xsd.
 */
export interface Fa3Options {
  sellerNip: string;
  buyerNip?: string;
  number: string;
  issueDate: string;
  kind?: string;
  /** Number of invoice lines (more lines = bigger document). */
  lines?: number;
  /** Free text appended in the footer to reach a size. */
  footerText?: string;
  /** Adds a Zalacznik (attachment) block. */
  attachment?: boolean;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function fa3Invoice(o: Fa3Options): string {
  const lines = o.lines ?? 1;
  const rows: string[] = [];
  for (let i = 1; i <= lines; i++) {
    rows.push(
      `    <FaWiersz>\n      <NrWierszaFa>${i}</NrWierszaFa>\n      <P_7>Usługa testowa nr ${i}</P_7>\n      <P_8A>szt.</P_8A>\n      <P_8B>1</P_8B>\n` +
        `      <P_9A>100.00</P_9A>\n      <P_11>100.00</P_11>\n      <P_12>23</P_12>\n    </FaWiersz>\n`,
    );
  }
  const net = (100 * lines).toFixed(2);
  const vat = (23 * lines).toFixed(2);
  const gross = (123 * lines).toFixed(2);
  const buyer = o.buyerNip
    ? `    <DaneIdentyfikacyjne>\n      <NIP>${o.buyerNip}</NIP>\n      <Nazwa>Nabywca Testowy Sp. z o.o.</Nazwa>\n    </DaneIdentyfikacyjne>\n`
    : `    <DaneIdentyfikacyjne>\n      <BrakID>1</BrakID>\n      <Nazwa>Konsument</Nazwa>\n    </DaneIdentyfikacyjne>\n`;
  const footer = o.footerText ? `  <Stopka>\n    <Informacje>\n      <StopkaFaktury>${esc(o.footerText)}</StopkaFaktury>\n    </Informacje>\n  </Stopka>\n` : '';
  const attachment = o.attachment
    ? `  <Zalacznik>\n    <BlokDanych>\n      <ZNaglowek>Załącznik testowy</ZNaglowek>\n      <MetaDane>\n        <ZKlucz>Klucz</ZKlucz>\n        <ZWartosc>Wartość</ZWartosc>\n      </MetaDane>\n      <Tekst>\n        <Akapit>Treść załącznika.</Akapit>\n      </Tekst>\n    </BlokDanych>\n  </Zalacznik>\n`
    : '';
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<Faktura xmlns="http://crd.gov.pl/wzor/2025/06/25/13775/">\n` +
    `  <Naglowek>\n    <KodFormularza kodSystemowy="FA (3)" wersjaSchemy="1-0E">FA</KodFormularza>\n    <WariantFormularza>3</WariantFormularza>\n` +
    `    <DataWytworzeniaFa>${o.issueDate}T10:00:00Z</DataWytworzeniaFa>\n    <SystemInfo>ksef-bridge emulator tests</SystemInfo>\n  </Naglowek>\n` +
    `  <Podmiot1>\n    <DaneIdentyfikacyjne>\n      <NIP>${o.sellerNip}</NIP>\n      <Nazwa>Sprzedawca Testowy S.A.</Nazwa>\n    </DaneIdentyfikacyjne>\n` +
    `    <Adres>\n      <KodKraju>PL</KodKraju>\n      <AdresL1>ul. Prosta 1, 00-001 Warszawa</AdresL1>\n    </Adres>\n  </Podmiot1>\n` +
    `  <Podmiot2>\n${buyer}    <Adres>\n      <KodKraju>PL</KodKraju>\n      <AdresL1>ul. Krzywa 2, 30-001 Kraków</AdresL1>\n    </Adres>\n` +
    `    <JST>2</JST>\n    <GV>2</GV>\n  </Podmiot2>\n` +
    `  <Fa>\n    <KodWaluty>PLN</KodWaluty>\n    <P_1>${o.issueDate}</P_1>\n    <P_2>${esc(o.number)}</P_2>\n` +
    `    <P_13_1>${net}</P_13_1>\n    <P_14_1>${vat}</P_14_1>\n    <P_15>${gross}</P_15>\n` +
    `    <Adnotacje>\n      <P_16>2</P_16>\n      <P_17>2</P_17>\n      <P_18>2</P_18>\n      <P_18A>2</P_18A>\n` +
    `      <Zwolnienie>\n        <P_19N>1</P_19N>\n      </Zwolnienie>\n      <NoweSrodkiTransportu>\n        <P_22N>1</P_22N>\n      </NoweSrodkiTransportu>\n` +
    `      <P_23>2</P_23>\n      <PMarzy>\n        <P_PMarzyN>1</P_PMarzyN>\n      </PMarzy>\n    </Adnotacje>\n` +
    `    <RodzajFaktury>${o.kind ?? 'VAT'}</RodzajFaktury>\n${rows.join('')}  </Fa>\n${footer}${attachment}</Faktura>\n`
  );
}
