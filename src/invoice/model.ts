/**
 * The Invoice model: a typed sales invoice in domain words. FA(3) element names appear only in comments here
 * (to say where a field goes) and in the writer and reader.
 *
 * Conventions
 * - Decimals (amounts, quantities, prices, rates) are strings in canonical form, never JS numbers:
 *   money (`Amount`) always with exactly 2 fraction digits ("1234.50"); unit prices with at least 2 and at most 8;
 *   quantities, exchange rates and percentages without trailing zeros ("3", "0.333", "4.1234").
 * - Dates are "YYYY-MM-DD"; date-times are ISO 8601 ("2026-01-31T10:00:00Z").
 * - Optional yes/no flags are `true` or absent (createInvoice drops `false`), so a round trip compares equal.
 * - Text is stored as it will be written: whitespace collapsed for the XSD's token types.
 */

/** Decimal number as a string, e.g. "1234.50". */
export type DecimalString = string;
/** Money amount with exactly two fraction digits, e.g. "1234.50" or "-10.00". */
export type Amount = string;
/** Calendar date "YYYY-MM-DD". */
export type IsoDate = string;
/** ISO 8601 date-time. */
export type IsoDateTime = string;

export type InvoiceKind = 'VAT' | 'KOR' | 'ZAL' | 'ROZ' | 'UPR' | 'KOR_ZAL' | 'KOR_ROZ';
export const INVOICE_KINDS: readonly InvoiceKind[] = ['VAT', 'KOR', 'ZAL', 'ROZ', 'UPR', 'KOR_ZAL', 'KOR_ROZ'];
export const CORRECTION_KINDS: readonly InvoiceKind[] = ['KOR', 'KOR_ZAL', 'KOR_ROZ'];

/** VAT rate codes as FA(3) spells them (P_12). */
export type VatRate = '23' | '22' | '8' | '7' | '5' | '4' | '3' | '0 KR' | '0 WDT' | '0 EX' | 'zw' | 'oo' | 'np I' | 'np II';
export const VAT_RATES: readonly VatRate[] = ['23', '22', '8', '7', '5', '4', '3', '0 KR', '0 WDT', '0 EX', 'zw', 'oo', 'np I', 'np II'];

export type Gtu = 'GTU_01' | 'GTU_02' | 'GTU_03' | 'GTU_04' | 'GTU_05' | 'GTU_06' | 'GTU_07' | 'GTU_08' | 'GTU_09' | 'GTU_10' | 'GTU_11' | 'GTU_12' | 'GTU_13';
export const GTUS: readonly Gtu[] = ['GTU_01', 'GTU_02', 'GTU_03', 'GTU_04', 'GTU_05', 'GTU_06', 'GTU_07', 'GTU_08', 'GTU_09', 'GTU_10', 'GTU_11', 'GTU_12', 'GTU_13'];

/** Procedure markers of a line (Procedura); order lines accept all but I_42 and I_63. */
export type Procedure = 'WSTO_EE' | 'IED' | 'TT_D' | 'I_42' | 'I_63' | 'B_SPV' | 'B_SPV_DOSTAWA' | 'B_MPV_PROWIZJA';
export const PROCEDURES: readonly Procedure[] = ['WSTO_EE', 'IED', 'TT_D', 'I_42', 'I_63', 'B_SPV', 'B_SPV_DOSTAWA', 'B_MPV_PROWIZJA'];

/** Groups of the invoice totals. Net goes to P_13_x, VAT to P_14_x, VAT in PLN to P_14_xW. */
export type TotalGroup =
  | 'standard' // 23% or 22%: P_13_1, P_14_1, P_14_1W
  | 'reduced1' // 8% or 7%: P_13_2, P_14_2, P_14_2W
  | 'reduced2' // 5%: P_13_3, P_14_3, P_14_3W
  | 'taxi' // 4% or 3% flat rate for taxis: P_13_4, P_14_4, P_14_4W
  | 'oss' // special procedure of chapter XII 6a (OSS), line rate in ossVatRate: P_13_5, P_14_5
  | 'zeroDomestic' // 0 KR: P_13_6_1
  | 'zeroIntraEu' // 0 WDT: P_13_6_2
  | 'zeroExport' // 0 EX: P_13_6_3
  | 'exempt' // zw: P_13_7
  | 'outsideCountry' // np I: P_13_8
  | 'euServices' // np II (art. 100 ust. 1 pkt 4): P_13_9
  | 'reverseCharge' // oo: P_13_10
  | 'margin'; // margin procedures: P_13_11
export const TOTAL_GROUPS: readonly TotalGroup[] = [
  'standard', 'reduced1', 'reduced2', 'taxi', 'oss', 'zeroDomestic', 'zeroIntraEu', 'zeroExport', 'exempt', 'outsideCountry', 'euServices', 'reverseCharge', 'margin',
];
/** Groups that carry a VAT amount (and, in a foreign currency, the VAT in PLN). */
export const VAT_GROUPS: readonly TotalGroup[] = ['standard', 'reduced1', 'reduced2', 'taxi', 'oss'];

export interface GroupTotal {
  net: Amount;
  /** Required for standard, reduced1, reduced2, taxi; optional for oss; absent for the others. */
  vat?: Amount;
  /** VAT converted to PLN, for invoices in a foreign currency (standard..taxi only). */
  vatPln?: Amount;
}

export interface Totals {
  groups: Partial<Record<TotalGroup, GroupTotal>>;
  /** Amount due in total (P_15). */
  gross: Amount;
}

export interface Address {
  /** ISO 3166 country code ("PL", "DE", ...). */
  countryCode: string;
  line1: string;
  line2?: string;
  gln?: string;
}

export interface Contact {
  email?: string;
  phone?: string;
}

export type TaxpayerStatus = 'liquidation' | 'restructuring' | 'bankruptcy' | 'inheritance';

export interface Seller {
  /** VAT-EU prefix "PL" (PrefiksPodatnika), only where the law requires it. */
  euVatPrefix?: 'PL';
  eori?: string;
  nip: string;
  name: string;
  address: Address;
  correspondenceAddress?: Address;
  /** Up to 3. */
  contacts?: Contact[];
  status?: TaxpayerStatus;
}

/** How a buyer (or carrier, or original buyer of a corrected invoice) is identified. */
export type PartyId =
  | { kind: 'nip'; nip: string }
  | { kind: 'eu-vat'; countryCode: string; vatNumber: string }
  | { kind: 'other'; countryCode?: string; id: string }
  | { kind: 'none' };

/** Third parties may also be identified by an internal identifier "NIP-5digits" (IDWew). */
export type ThirdPartyId = PartyId | { kind: 'internal'; internalId: string };

export interface Buyer {
  eori?: string;
  id: PartyId;
  name?: string;
  address?: Address;
  correspondenceAddress?: Address;
  contacts?: Contact[];
  customerNumber?: string;
  /** Link key for buyer data that changed on a correction (IDNabywcy), max 32 characters. */
  buyerKey?: string;
  /** The invoice concerns a subordinate unit of a local government (JST = 1). */
  localGovernmentUnit: boolean;
  /** The invoice concerns a member of a VAT group (GV = 1). */
  vatGroupMember: boolean;
}

export type ThirdPartyRole =
  | 'factor' // 1
  | 'recipient' // 2
  | 'original-entity' // 3
  | 'additional-buyer' // 4
  | 'issuer' // 5
  | 'payer' // 6
  | 'local-government-issuer' // 7
  | 'local-government-recipient' // 8
  | 'vat-group-issuer' // 9
  | 'vat-group-recipient' // 10
  | 'employee' // 11
  | 'other'; // RolaInna + OpisRoli (roleDescription)
export const THIRD_PARTY_ROLES: readonly ThirdPartyRole[] = [
  'factor', 'recipient', 'original-entity', 'additional-buyer', 'issuer', 'payer', 'local-government-issuer', 'local-government-recipient', 'vat-group-issuer', 'vat-group-recipient', 'employee', 'other',
];

export interface ThirdParty {
  buyerKey?: string;
  eori?: string;
  id: ThirdPartyId;
  name?: string;
  address?: Address;
  correspondenceAddress?: Address;
  contacts?: Contact[];
  role: ThirdPartyRole;
  /** Required when role is 'other'. */
  roleDescription?: string;
  /** Percentage share of an additional buyer (0..100). */
  share?: DecimalString;
  customerNumber?: string;
}

export type AuthorizedRole = 'enforcement-authority' | 'bailiff' | 'tax-representative';
export const AUTHORIZED_ROLES: readonly AuthorizedRole[] = ['enforcement-authority', 'bailiff', 'tax-representative'];

/** PodmiotUpowazniony. */
export interface AuthorizedEntity {
  eori?: string;
  nip: string;
  name: string;
  address: Address;
  correspondenceAddress?: Address;
  contacts?: Contact[];
  role: AuthorizedRole;
}

export interface InvoiceLine {
  /** NrWierszaFa, 1-based; createInvoice numbers lines that have none. */
  lineNumber: number;
  uuid?: string;
  /** P_6A: delivery date of this line when lines differ. */
  deliveryDate?: IsoDate;
  /** P_7 */
  name?: string;
  index?: string;
  gtin?: string;
  pkwiu?: string;
  cn?: string;
  pkob?: string;
  /** P_8A */
  unit?: string;
  /** P_8B (up to 6 fraction digits) */
  quantity?: DecimalString;
  /** P_9A (up to 8 fraction digits) */
  unitNetPrice?: DecimalString;
  /** P_9B, gross method */
  unitGrossPrice?: DecimalString;
  /** P_10 discount amount not included in the unit price */
  discount?: DecimalString;
  /** P_11 net value; computed from quantity x price - discount when absent (net method). */
  netAmount?: Amount;
  /** P_11A gross value (gross method). */
  grossAmount?: Amount;
  /** P_11Vat VAT of the line (art. 106e ust. 10). */
  vatAmount?: Amount;
  /** P_12; absent for margin-procedure lines and OSS lines (see ossVatRate). */
  vatRate?: VatRate;
  /** P_12_XII: the OSS rate in percent. */
  ossVatRate?: DecimalString;
  /** P_12_Zal_15: goods/services of annex 15 (split payment). */
  annex15?: true;
  exciseAmount?: Amount;
  gtu?: Gtu;
  procedure?: Procedure;
  /** KursWaluty */
  exchangeRate?: DecimalString;
  /** StanPrzed: this line shows the state before the correction. */
  beforeCorrection?: true;
}

export type ExemptionBasis = 'act' | 'directive' | 'other';

export interface NewVehicle {
  /** P_22A: date of first use */
  firstUseDate: IsoDate;
  /** P_NrWierszaNST: the invoice line of the vehicle */
  lineNumber: number;
  make?: string;
  model?: string;
  colour?: string;
  registrationNumber?: string;
  productionYear?: string;
  kind:
    | { type: 'land'; mileage: string; identifier?: { kind: 'vin' | 'body' | 'chassis' | 'frame'; value: string }; vehicleType?: string }
    | { type: 'water'; hours: string; hullNumber?: string }
    | { type: 'air'; hours: string; serialNumber?: string };
}

export type MarginProcedure = 'travel' | 'used-goods' | 'works-of-art' | 'antiques';

export interface Annotations {
  /** P_16 metoda kasowa */
  cashAccounting: boolean;
  /** P_17 samofakturowanie */
  selfBilling: boolean;
  /** P_18 odwrotne obciążenie */
  reverseCharge: boolean;
  /** P_18A mechanizm podzielonej płatności */
  splitPayment: boolean;
  /** P_19 with P_19A (act), P_19B (directive) or P_19C (other basis); absent = P_19N. */
  exemption?: { basis: ExemptionBasis; text: string };
  /** P_22 intra-EU supply of new means of transport; absent = P_22N. */
  newMeansOfTransport?: { art42Sec5: boolean; vehicles: NewVehicle[] };
  /** P_23 simplified triangular procedure */
  simplifiedTriangular: boolean;
  /** P_PMarzy with its kind; absent = P_PMarzyN. */
  margin?: MarginProcedure;
}

export type CorrectionEffect = 'original-date' | 'correction-date' | 'other-date';

export interface CorrectedInvoice {
  issueDate: IsoDate;
  number: string;
  /** KSeF number of the corrected invoice; absent when it has none (NrKSeFN). */
  ksefNumber?: string;
}

export interface Correction {
  reason?: string;
  effect?: CorrectionEffect;
  /** At least one. */
  corrected: CorrectedInvoice[];
  /** OkresFaKorygowanej: period of a discount given for many deliveries. */
  period?: string;
  /** NrFaKorygowany: the right number when the correction fixes a wrong number. */
  correctNumber?: string;
  /** Podmiot1K: the seller as shown on the corrected invoice. */
  originalSeller?: { euVatPrefix?: string; nip: string; name: string; address: Address };
  /** Podmiot2K: buyers as shown on the corrected invoice. */
  originalBuyers?: { id: PartyId; name?: string; address?: Address; buyerKey?: string }[];
  /** P_15ZK / KursWalutyZK: amount paid (or remaining) before the correction. */
  amountBeforeCorrection?: { amount: Amount; exchangeRate?: DecimalString };
}

export interface PartialAdvance {
  /** P_6Z */
  paymentDate: IsoDate;
  /** P_15Z */
  amount: Amount;
  exchangeRate?: DecimalString;
}

export interface Note {
  lineNumber?: number;
  key: string;
  value: string;
}

/** FakturaZaliczkowa: an advance invoice this invoice settles, by KSeF number or (outside KSeF) by number. */
export type AdvanceInvoiceRef = { ksefNumber: string } | { number: string };

export interface AmountWithReason {
  amount: Amount;
  reason: string;
}

/** Rozliczenie */
export interface Settlement {
  charges?: AmountWithReason[];
  chargesTotal?: Amount;
  deductions?: AmountWithReason[];
  deductionsTotal?: Amount;
  /** DoZaplaty; exclusive with amountToSettle. */
  amountDue?: Amount;
  /** DoRozliczenia */
  amountToSettle?: Amount;
}

export type PaymentMethod = 'cash' | 'card' | 'voucher' | 'cheque' | 'credit' | 'transfer' | 'mobile' | 'other';
export const PAYMENT_METHODS: readonly PaymentMethod[] = ['cash', 'card', 'voucher', 'cheque', 'credit', 'transfer', 'mobile', 'other'];

export interface PaymentForm {
  method: PaymentMethod;
  /** Required when method is 'other' (OpisPlatnosci). */
  description?: string;
}

export interface DueDate {
  date?: IsoDate;
  /** TerminOpis: e.g. 14 "dni" from "doręczenia faktury". */
  description?: { count: number; unit: string; startEvent: string };
}

export type BankOwnAccount = 'settlement' | 'collection' | 'cooperative';

export interface BankAccount {
  number: string;
  swift?: string;
  /** RachunekWlasnyBanku 1/2/3 */
  bankOwnAccount?: BankOwnAccount;
  bankName?: string;
  description?: string;
}

export interface Payment {
  /** Zaplacono + DataZaplaty */
  paidDate?: IsoDate;
  /** ZnacznikZaplatyCzesciowej + ZaplataCzesciowa; exclusive with paidDate. */
  partial?: { final: boolean; payments: { amount: Amount; date: IsoDate; form?: PaymentForm }[] };
  dueDates?: DueDate[];
  form?: PaymentForm;
  bankAccounts?: BankAccount[];
  factorBankAccounts?: BankAccount[];
  /** Skonto */
  cashDiscount?: { conditions: string; amount: string };
  paymentLink?: string;
  /** IPKSeF */
  ksefPaymentId?: string;
}

export type TransportKind = 'sea' | 'rail' | 'road' | 'air' | 'post' | 'fixed-installation' | 'inland-water' | 'other';
export const TRANSPORT_KINDS: readonly TransportKind[] = ['sea', 'rail', 'road', 'air', 'post', 'fixed-installation', 'inland-water', 'other'];

export interface Transport {
  kind: TransportKind;
  /** Required when kind is 'other' (max 50). */
  kindDescription?: string;
  carrier?: { id: PartyId; name?: string; address: Address };
  orderNumber?: string;
  /** OpisLadunku code 1..20, or 'other' with cargoDescription. */
  cargo: number | 'other';
  cargoDescription?: string;
  packagingUnit?: string;
  start?: IsoDateTime;
  end?: IsoDateTime;
  shipFrom?: Address;
  shipVia?: Address[];
  shipTo?: Address;
}

export interface TransactionTerms {
  contracts?: { date?: IsoDate; number?: string }[];
  orders?: { date?: IsoDate; number?: string }[];
  batchNumbers?: string[];
  deliveryTerms?: string;
  contractualRate?: { rate: DecimalString; currency: string };
  transports?: Transport[];
  /** PodmiotPosredniczacy */
  intermediary?: true;
}

export interface OrderLine {
  lineNumber: number;
  uuid?: string;
  name?: string;
  index?: string;
  gtin?: string;
  pkwiu?: string;
  cn?: string;
  pkob?: string;
  unit?: string;
  quantity?: DecimalString;
  unitNetPrice?: DecimalString;
  netAmount?: Amount;
  vatAmount?: Amount;
  vatRate?: VatRate;
  ossVatRate?: DecimalString;
  annex15?: true;
  gtu?: Gtu;
  procedure?: Exclude<Procedure, 'I_42' | 'I_63'>;
  exciseAmount?: Amount;
  beforeCorrection?: true;
}

/** Zamowienie: the order an advance invoice (ZAL) is paid for. */
export interface Order {
  value: Amount;
  lines: OrderLine[];
}

export interface Footer {
  /** Up to 3 free texts (StopkaFaktury, max 3500 characters each). */
  info?: string[];
  registries?: { fullName?: string; krs?: string; regon?: string; bdo?: string }[];
}

export type ColumnType = 'date' | 'datetime' | 'dec' | 'int' | 'time' | 'txt';

export interface AttachmentTable {
  metadata?: { key: string; value: string }[];
  description?: string;
  columns: { type: ColumnType; name: string }[];
  rows: string[][];
  sum?: string[];
}

export interface AttachmentBlock {
  header?: string;
  /** At least one key/value. */
  metadata: { key: string; value: string }[];
  /** Up to 10 paragraphs. */
  paragraphs?: string[];
  tables?: AttachmentTable[];
}

/** Zalacznik: structured attachment. */
export interface Attachment {
  blocks: AttachmentBlock[];
}

export interface Invoice {
  kind: InvoiceKind;
  /** P_2 */
  number: string;
  /** P_1 */
  issueDate: IsoDate;
  /** P_1M */
  placeOfIssue?: string;
  /** DataWytworzeniaFa; the writer uses the current time when absent. */
  createdAt?: IsoDateTime;
  /** SystemInfo */
  systemInfo?: string;
  seller: Seller;
  buyer: Buyer;
  thirdParties?: ThirdParty[];
  authorizedEntity?: AuthorizedEntity;
  /** KodWaluty, ISO 4217 */
  currency: string;
  /** P_6 */
  saleDate?: IsoDate;
  /** OkresFa; exclusive with saleDate. */
  salePeriod?: { from: IsoDate; to: IsoDate };
  /** WZ: warehouse dispatch note numbers. */
  deliveryNotes?: string[];
  totals: Totals;
  /** KursWalutyZ: rate used for the VAT of an advance invoice in a foreign currency. */
  advanceExchangeRate?: DecimalString;
  annotations: Annotations;
  correction?: Correction;
  partialAdvances?: PartialAdvance[];
  /** FP: invoice issued for a receipt (art. 109 ust. 3d). */
  receiptInvoice?: true;
  /** TP: related parties. */
  relatedParties?: true;
  notes?: Note[];
  advanceInvoices?: AdvanceInvoiceRef[];
  /** ZwrotAkcyzy */
  exciseRefund?: true;
  lines: InvoiceLine[];
  settlement?: Settlement;
  payment?: Payment;
  transactionTerms?: TransactionTerms;
  order?: Order;
  footer?: Footer;
  attachment?: Attachment;
}

/* ---------------------------------------------------------------- input ---- */

/** A decimal may be given as a string or as a JS number (converted by its shortest exact text, e.g. 0.1 -> "0.1"). */
export type DecimalInput = string | number;

/** What createInvoice accepts: the model with defaults filled and decimals as strings or numbers. */
export interface InvoiceInput extends Omit<Invoice, 'totals' | 'annotations' | 'lines' | 'buyer' | 'kind' | 'currency'> {
  /** Default 'VAT'. */
  kind?: InvoiceKind;
  /** ISO 4217, default 'PLN'. */
  currency?: string;
  /**
   * Convenience for sources with one exchange rate per invoice (PLN per unit of the currency): copied to every line
   * without its own rate (KursWaluty), or to advanceExchangeRate (KursWalutyZ) of an advance invoice without lines.
   * Not part of the model itself.
   */
  exchangeRate?: DecimalInput;
  buyer: Omit<Buyer, 'localGovernmentUnit' | 'vatGroupMember'> & { localGovernmentUnit?: boolean; vatGroupMember?: boolean };
  lines?: LineInput[];
  /** Totals given by the source; what is missing is computed from the lines. */
  totals?: { groups?: Partial<Record<TotalGroup, Partial<Record<keyof GroupTotal, DecimalInput>>>>; gross?: DecimalInput };
  annotations?: Partial<Annotations>;
}

export type LineInput = {
  [K in keyof InvoiceLine]?: K extends 'quantity' | 'unitNetPrice' | 'unitGrossPrice' | 'discount' | 'netAmount' | 'grossAmount' | 'vatAmount' | 'ossVatRate' | 'exciseAmount' | 'exchangeRate'
    ? DecimalInput
    : K extends 'annex15' | 'beforeCorrection'
      ? boolean
      : InvoiceLine[K];
};

export type Severity = 'error' | 'warning';

/** A problem found in an invoice: stable code, severity, field path (e.g. "lines[3].quantity") and a message. */
export interface InvoiceIssue {
  code: string;
  severity: Severity;
  path: string;
  message: string;
  /** The value found, when it helps. */
  value?: string;
  /** FA(3) element the field is written to, when known. */
  element?: string;
  /** 1-based line of that element in the validated file (validateFa3Xml, best effort). */
  line?: number;
}
