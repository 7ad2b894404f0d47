/** Test data for the KSeF client tests: a minimal FA(3) invoice valid against the official XSD. */
import { createHash } from 'node:crypto';

export const SELLER_NIP = '5265877635';
export const BUYER_NIP = '7010000006';

/** A small FA(3) invoice; `n` makes its number (and so its hash) unique. */
export function fa3Invoice(n: number, opts: { sellerNip?: string; padding?: number } = {}): string {
  const nip = opts.sellerNip ?? SELLER_NIP;
  // optional bulk: DodatkowyOpis entries (Wartosc holds at most 256 characters)
  let note = '';
  for (let left = opts.padding ?? 0; left > 0; left -= 200) {
    note += `\n    <DodatkowyOpis><Klucz>pad</Klucz><Wartosc>${'x'.repeat(Math.min(200, left))}</Wartosc></DodatkowyOpis>`;
  }
  return `<?xml version="1.0" encoding="UTF-8"?>
<Faktura xmlns="http://crd.gov.pl/wzor/2025/06/25/13775/">
  <Naglowek>
    <KodFormularza kodSystemowy="FA (3)" wersjaSchemy="1-0E">FA</KodFormularza>
    <WariantFormularza>3</WariantFormularza>
    <DataWytworzeniaFa>2026-02-02T10:00:00Z</DataWytworzeniaFa>
    <SystemInfo>ksef-bridge tests</SystemInfo>
  </Naglowek>
  <Podmiot1>
    <DaneIdentyfikacyjne>
      <NIP>${nip}</NIP>
      <Nazwa>Sprzedawca Testowy sp. z o.o.</Nazwa>
    </DaneIdentyfikacyjne>
    <Adres>
      <KodKraju>PL</KodKraju>
      <AdresL1>ul. Testowa 1, 00-001 Warszawa</AdresL1>
    </Adres>
  </Podmiot1>
  <Podmiot2>
    <DaneIdentyfikacyjne>
      <NIP>${BUYER_NIP}</NIP>
      <Nazwa>Nabywca Testowy S.A.</Nazwa>
    </DaneIdentyfikacyjne>
    <Adres>
      <KodKraju>PL</KodKraju>
      <AdresL1>ul. Kupiecka 2, 00-002 Warszawa</AdresL1>
    </Adres>
    <JST>2</JST>
    <GV>2</GV>
  </Podmiot2>
  <Fa>
    <KodWaluty>PLN</KodWaluty>
    <P_1>2026-02-02</P_1>
    <P_2>FV/TEST/${n}</P_2>
    <P_13_1>100.00</P_13_1>
    <P_14_1>23.00</P_14_1>
    <P_15>123.00</P_15>
    <Adnotacje>
      <P_16>2</P_16>
      <P_17>2</P_17>
      <P_18>2</P_18>
      <P_18A>2</P_18A>
      <Zwolnienie>
        <P_19N>1</P_19N>
      </Zwolnienie>
      <NoweSrodkiTransportu>
        <P_22N>1</P_22N>
      </NoweSrodkiTransportu>
      <P_23>2</P_23>
      <PMarzy>
        <P_PMarzyN>1</P_PMarzyN>
      </PMarzy>
    </Adnotacje>
    <RodzajFaktury>VAT</RodzajFaktury>${note}
    <FaWiersz>
      <NrWierszaFa>1</NrWierszaFa>
      <P_7>Usługa testowa</P_7>
      <P_8A>szt.</P_8A>
      <P_8B>1</P_8B>
      <P_9A>100.00</P_9A>
      <P_11>100.00</P_11>
      <P_12>23</P_12>
    </FaWiersz>
  </Fa>
</Faktura>
`;
}

export function sha256b64(s: string | Uint8Array): string {
  return createHash('sha256').update(s).digest('base64');
}
