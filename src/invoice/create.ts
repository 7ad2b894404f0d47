/**
 * createInvoice: checks the structure of an invoice given by a mapping (or by the FA(3) reader) against everything
 * the FA(3) schema demands (required fields, lengths, patterns, code lists, decimal precision, choices, counts),
 * normalises it into the canonical model, and fills the totals the source did not give.
 * Every problem is an issue with a code, a field path such as `lines[3].quantity`, and the FA(3) element.
 */
import { COUNTRY_CODES, CURRENCY_CODES, EU_COUNTRY_CODES } from './codes.js';
import { Dec } from './decimal.js';
import type {
  Address,
  AdvanceInvoiceRef,
  Annotations,
  Attachment,
  AttachmentBlock,
  AuthorizedEntity,
  BankAccount,
  Buyer,
  ColumnType,
  Contact,
  Correction,
  DueDate,
  Footer,
  GroupTotal,
  Invoice,
  InvoiceInput,
  InvoiceIssue,
  InvoiceLine,
  NewVehicle,
  Order,
  OrderLine,
  PartyId,
  Payment,
  PaymentForm,
  Settlement,
  ThirdParty,
  ThirdPartyId,
  TotalGroup,
  Totals,
  TransactionTerms,
  Transport,
} from './model.js';
import {
  AUTHORIZED_ROLES,
  CORRECTION_KINDS,
  GTUS,
  INVOICE_KINDS,
  PAYMENT_METHODS,
  PROCEDURES,
  THIRD_PARTY_ROLES,
  TOTAL_GROUPS,
  TRANSPORT_KINDS,
  VAT_GROUPS,
  VAT_RATES,
} from './model.js';
import { cleanText, codePointLength } from './text.js';
import { GROUP_ELEMENTS, computeTotals } from './totals.js';

export interface CreateResult {
  /** Present when there is no error-level issue. */
  invoice?: Invoice;
  issues: InvoiceIssue[];
}

type Obj = Record<string, unknown>;

const NIP_RE = /^[1-9]((\d[1-9])|([1-9]\d))\d{7}$/;
const IDWEW_RE = /^[1-9]((\d[1-9])|([1-9]\d))\d{7}-\d{5}$/;
const KSEF_NUMBER_RE =
  /^([1-9]((\d[1-9])|([1-9]\d))\d{7}|M\d{9}|[A-Z]{3}\d{7})-(20[2-9][0-9]|2[1-9][0-9]{2}|[3-9][0-9]{3})(0[1-9]|1[0-2])(0[1-9]|[1-2][0-9]|3[0-1])-([0-9A-F]{6})-?([0-9A-F]{6})-([0-9A-F]{2})$/;
const VAT_UE_RE = /^(\d|[A-Z]|\+|\*){1,12}$/;
const SWIFT_RE = /^[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?$/;
const PAYMENT_LINK_RE =
  /^(https?):\/\/([a-zA-Z0-9][a-zA-Z0-9-]*\.)+[a-zA-Z]{2,}(:[0-9]{1,5})?(\/[^\s?#]*)?\?([^#\s]*&)?IPKSeF=[0-9]{3}[a-zA-Z0-9]{10}(&[^#\s]*)?(#.*)?$/;
const IPKSEF_RE = /^[0-9]{3}[a-zA-Z0-9]{10}$/;

/** Numeric kinds of FA(3): TKwotowy (money), TKwotowy2 (prices), TIlosci (quantities, rates), TProcentowy. */
type NumKind = 'amount' | 'price' | 'quantity' | 'percent';
const NUM: Record<NumKind, { int: number; frac: number; minScale: number; what: string }> = {
  amount: { int: 16, frac: 2, minScale: 2, what: 'an amount with at most 2 decimal places' },
  price: { int: 14, frac: 8, minScale: 2, what: 'a price with at most 8 decimal places' },
  quantity: { int: 16, frac: 6, minScale: 0, what: 'a number with at most 6 decimal places' },
  percent: { int: 3, frac: 6, minScale: 0, what: 'a percentage from 0 to 100 with at most 6 decimal places' },
};

interface TextOpts {
  max: number;
  min?: number;
  /** xsd:token (default) or xsd:string. */
  token?: boolean;
  pattern?: RegExp;
  patternText?: string;
}

export class Checker {
  readonly issues: InvoiceIssue[] = [];

  error(path: string, code: string, message: string, element?: string, value?: unknown): void {
    this.issues.push({ code, severity: 'error', path, message, ...(element ? { element } : {}), ...(value !== undefined ? { value: show(value) } : {}) });
  }

  warn(path: string, code: string, message: string, element?: string, value?: unknown): void {
    this.issues.push({ code, severity: 'warning', path, message, ...(element ? { element } : {}), ...(value !== undefined ? { value: show(value) } : {}) });
  }

  missing(path: string, element: string, what: string): void {
    this.error(path, 'INV_REQUIRED', `${what} is required (${element})`, element);
  }

  obj(v: unknown, path: string, element: string, what: string, required: boolean): Obj | undefined {
    if (v === undefined || v === null) {
      if (required) this.missing(path, element, what);
      return undefined;
    }
    if (typeof v !== 'object' || Array.isArray(v)) {
      this.error(path, 'INV_TYPE', `${what} must be an object`, element, v);
      return undefined;
    }
    return v as Obj;
  }

  text(v: unknown, path: string, element: string, opts: TextOpts & { required: true }): string;
  text(v: unknown, path: string, element: string, opts: TextOpts & { required?: boolean }): string | undefined;
  text(v: unknown, path: string, element: string, opts: TextOpts & { required?: boolean }): string | undefined {
    if (v === undefined || v === null || v === '') {
      if (opts.required) this.missing(path, element, 'a value');
      return opts.required ? '' : undefined;
    }
    if (typeof v === 'number' || typeof v === 'bigint') v = String(v);
    if (typeof v !== 'string') {
      this.error(path, 'INV_TYPE', `expected text`, element, v);
      return opts.required ? '' : undefined;
    }
    const c = cleanText(v, opts.token !== false);
    if (c.bad) {
      this.error(path, 'INV_CHARS', `the text contains ${c.bad}, a character KSeF rejects and XML cannot carry; remove it from the source`, element, v);
      return opts.required ? '' : undefined;
    }
    if (c.stripped) this.warn(path, 'INV_CHARS_REMOVED', 'control characters that KSeF rejects were removed from the text', element, v);
    const text = c.text;
    if (text === '') {
      if (opts.required || (opts.min ?? 1) > 0) {
        if (opts.required) this.missing(path, element, 'a non-blank value');
      }
      return opts.required ? '' : undefined;
    }
    const len = codePointLength(text);
    if (len > opts.max) this.error(path, 'INV_LENGTH', `the text is ${len} characters long; ${element} allows at most ${opts.max}`, element, text.slice(0, 60));
    else if (opts.min !== undefined && len < opts.min) this.error(path, 'INV_LENGTH', `the text is ${len} characters long; ${element} needs at least ${opts.min}`, element, text);
    if (opts.pattern && !opts.pattern.test(text)) this.error(path, 'INV_PATTERN', `"${text}" is not ${opts.patternText ?? 'in the required form'}`, element, text);
    return text;
  }

  num(v: unknown, path: string, element: string, kind: NumKind, required: true): string;
  num(v: unknown, path: string, element: string, kind: NumKind, required?: boolean): string | undefined;
  num(v: unknown, path: string, element: string, kind: NumKind, required = false): string | undefined {
    if (v === undefined || v === null || v === '') {
      if (required) this.missing(path, element, 'a number');
      return required ? '0' : undefined;
    }
    let s: string;
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) {
        this.error(path, 'INV_DECIMAL', `${String(v)} is not a number`, element, v);
        return undefined;
      }
      s = String(v);
    } else if (typeof v === 'string') s = v.trim();
    else {
      this.error(path, 'INV_DECIMAL', `expected a decimal number as text`, element, v);
      return undefined;
    }
    const d = Dec.parse(s);
    const spec = NUM[kind];
    if (!d) {
      this.error(path, 'INV_DECIMAL', `"${s}" is not a decimal number (use digits and a dot, e.g. 1234.50)`, element, s);
      return required ? '0' : undefined;
    }
    if (d.significantScale() > spec.frac) {
      this.error(path, 'INV_PRECISION', `${s} has ${d.significantScale()} decimal places; ${element} must be ${spec.what}`, element, s);
      return required ? '0' : undefined;
    }
    if (d.integerDigits() > spec.int) {
      this.error(path, 'INV_PRECISION', `${s} is too large for ${element} (at most ${spec.int} digits before the point)`, element, s);
      return required ? '0' : undefined;
    }
    if (kind === 'percent' && (d.isNegative() || d.cmp(Dec.of(100n)) > 0)) {
      this.error(path, 'INV_RANGE', `${s} is not a percentage between 0 and 100`, element, s);
    }
    return d.toString(spec.minScale);
  }

  int(v: unknown, path: string, element: string, opts: { min: number; max?: number; required?: boolean }): number | undefined {
    if (v === undefined || v === null || v === '') {
      if (opts.required) this.missing(path, element, 'a whole number');
      return undefined;
    }
    const n = typeof v === 'string' && /^\s*[+-]?\d+\s*$/.test(v) ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isSafeInteger(n)) {
      this.error(path, 'INV_INTEGER', `expected a whole number`, element, v);
      return undefined;
    }
    if (n < opts.min || (opts.max !== undefined && n > opts.max)) {
      this.error(path, 'INV_RANGE', `${n} is out of range (${opts.min}..${opts.max ?? '∞'})`, element, n);
    }
    return n;
  }

  date(v: unknown, path: string, element: string, min: string, required: true): string;
  date(v: unknown, path: string, element: string, min: string, required?: boolean): string | undefined;
  date(v: unknown, path: string, element: string, min: string, required = false): string | undefined {
    if (v === undefined || v === null || v === '') {
      if (required) this.missing(path, element, 'a date');
      return required ? '' : undefined;
    }
    if (typeof v !== 'string' || !isCalendarDate(v)) {
      this.error(path, 'INV_DATE', `expected a date YYYY-MM-DD`, element, v);
      return required ? '' : undefined;
    }
    if (v < min || v > '2050-01-01') this.error(path, 'INV_DATE', `${v} is outside the range FA(3) accepts (${min} to 2050-01-01)`, element, v);
    return v;
  }

  dateTime(v: unknown, path: string, element: string, min: string, required = false): string | undefined {
    if (v === undefined || v === null || v === '') {
      if (required) this.missing(path, element, 'a date and time');
      return undefined;
    }
    if (typeof v !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$/.test(v) || !isCalendarDate(v.slice(0, 10))) {
      this.error(path, 'INV_DATETIME', `expected an ISO date-time such as 2026-01-31T10:00:00Z`, element, v);
      return undefined;
    }
    const t = Date.parse(/(Z|[+-]\d{2}:\d{2})$/.test(v) ? v : `${v}Z`);
    if (t < Date.parse(min) || t > Date.parse('2050-01-01T23:59:59Z')) this.error(path, 'INV_DATETIME', `${v} is outside the range FA(3) accepts (from ${min})`, element, v);
    return v;
  }

  oneOf<T extends string>(v: unknown, allowed: readonly T[], path: string, element: string, required: true): T;
  oneOf<T extends string>(v: unknown, allowed: readonly T[], path: string, element: string, required?: boolean): T | undefined;
  oneOf<T extends string>(v: unknown, allowed: readonly T[], path: string, element: string, required = false): T | undefined {
    if (v === undefined || v === null || v === '') {
      if (required) this.missing(path, element, 'a value');
      return required ? allowed[0] : undefined;
    }
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
      this.error(path, 'INV_ENUM', `${show(v)} is not allowed; use one of: ${allowed.join(', ')}`, element, v);
      return required ? allowed[0] : undefined;
    }
    return v as T;
  }

  code(v: unknown, set: ReadonlySet<string>, path: string, element: string, what: string, required: boolean): string | undefined {
    if (v === undefined || v === null || v === '') {
      if (required) this.missing(path, element, what);
      return undefined;
    }
    if (typeof v !== 'string' || !set.has(v)) {
      this.error(path, 'INV_CODE', `${show(v)} is not a valid ${what}`, element, v);
      return typeof v === 'string' ? v : undefined;
    }
    return v;
  }

  flag(v: unknown, path: string, element: string): true | undefined {
    if (v === undefined || v === null || v === false) return undefined;
    if (v === true) return true;
    this.error(path, 'INV_TYPE', `expected true or false`, element, v);
    return undefined;
  }

  bool(v: unknown, path: string, element: string): boolean {
    if (v === undefined || v === null) return false;
    if (typeof v === 'boolean') return v;
    this.error(path, 'INV_TYPE', `expected true or false`, element, v);
    return false;
  }

  list<T>(v: unknown, path: string, element: string, max: number, each: (item: unknown, path: string) => T | undefined, min = 0): T[] | undefined {
    if (v === undefined || v === null) {
      if (min > 0) this.missing(path, element, `at least ${min} item(s)`);
      return undefined;
    }
    if (!Array.isArray(v)) {
      this.error(path, 'INV_TYPE', `expected a list`, element);
      return undefined;
    }
    if (v.length > max) this.error(path, 'INV_COUNT', `${v.length} items; ${element} allows at most ${max}`, element);
    if (v.length < min) this.error(path, 'INV_COUNT', `${v.length} items; ${element} needs at least ${min}`, element);
    const out: T[] = [];
    v.forEach((item, i) => {
      const r = each(item, `${path}[${i}]`);
      if (r !== undefined) out.push(r);
    });
    return out.length ? out : undefined;
  }

  hasErrors(): boolean {
    return this.issues.some((i) => i.severity === 'error');
  }
}

function show(v: unknown): string {
  if (typeof v === 'string') return v.length > 80 ? `${v.slice(0, 77)}...` : v;
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

export function isCalendarDate(s: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!m) return false;
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const d = Number(m[3]);
  if (mo < 1 || mo > 12 || d < 1) return false;
  const days = [31, y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][mo - 1] ?? 0;
  return d <= days;
}

/**
 * A copy without the keys whose value is undefined, so that models compare equal however they were built.
 * (Copying instead of `delete` keeps V8's fast object layout.)
 */
function compact<T extends object>(o: T): T {
  const r: Record<string, unknown> = {};
  for (const k in o) {
    const v = o[k];
    if (v !== undefined) r[k] = v;
  }
  return r as T;
}

const T256 = { max: 256 };
const T512 = { max: 512 };
const T50 = { max: 50 };
const T20 = { max: 20 };

/* --------------------------------------------------------------- parts ---- */

function address(c: Checker, v: unknown, path: string, el: string, required: boolean): Address | undefined {
  const o = c.obj(v, path, el, 'an address', required);
  if (!o) return undefined;
  return compact({
    countryCode: c.code(o.countryCode, COUNTRY_CODES, `${path}.countryCode`, `${el}/KodKraju`, 'country code', true) ?? '',
    line1: c.text(o.line1, `${path}.line1`, `${el}/AdresL1`, { ...T512, required: true }),
    line2: c.text(o.line2, `${path}.line2`, `${el}/AdresL2`, T512),
    gln: c.text(o.gln, `${path}.gln`, `${el}/GLN`, { max: 13 }),
  });
}

function contacts(c: Checker, v: unknown, path: string, el: string): Contact[] | undefined {
  return c.list(v, path, el, 3, (item, p) => {
    const o = c.obj(item, p, el, 'a contact', true);
    if (!o) return undefined;
    const r = compact({
      email: c.text(o.email, `${p}.email`, `${el}/Email`, { max: 255, min: 3, pattern: /^.+@.+$/, patternText: 'an e-mail address' }),
      phone: c.text(o.phone, `${p}.phone`, `${el}/Telefon`, { max: 16 }),
    });
    return r.email === undefined && r.phone === undefined ? undefined : r;
  });
}

/** A NIP; separators common in ERP exports ("526-104-08-28", "526 104 08 28") are removed first. */
function nip(c: Checker, v: unknown, path: string, el: string): string {
  const raw = typeof v === 'string' && /^[\d\s-]+$/.test(v) ? v.replace(/[\s-]/g, '') : v;
  return c.text(raw, path, el, { max: 10, required: true, pattern: NIP_RE, patternText: 'a 10-digit NIP' });
}

function partyId(c: Checker, v: unknown, path: string, el: string, allowInternal: boolean): ThirdPartyId | undefined {
  const o = c.obj(v, path, el, 'an identifier (NIP, EU VAT number, other id, or none)', true);
  if (!o) return undefined;
  switch (o.kind) {
    case 'nip':
      return { kind: 'nip', nip: nip(c, o.nip, `${path}.nip`, `${el}/NIP`) };
    case 'eu-vat':
      return {
        kind: 'eu-vat',
        countryCode: c.code(o.countryCode, EU_COUNTRY_CODES, `${path}.countryCode`, `${el}/KodUE`, 'EU country prefix (EL for Greece, XI for Northern Ireland)', true) ?? '',
        vatNumber: c.text(o.vatNumber, `${path}.vatNumber`, `${el}/NrVatUE`, { max: 12, required: true, pattern: VAT_UE_RE, patternText: 'an EU VAT number without its country prefix (digits and capital letters)' }),
      };
    case 'other':
      return compact({
        kind: 'other' as const,
        countryCode: c.code(o.countryCode, COUNTRY_CODES, `${path}.countryCode`, `${el}/KodKraju`, 'country code', false),
        id: c.text(o.id, `${path}.id`, `${el}/NrID`, { max: 50, required: true }),
      });
    case 'none':
      return { kind: 'none' };
    default:
      if (o.kind === 'internal' && allowInternal) {
        return { kind: 'internal', internalId: c.text(o.internalId, `${path}.internalId`, `${el}/IDWew`, { max: 20, required: true, pattern: IDWEW_RE, patternText: 'an internal identifier NIP-NNNNN' }) };
      }
      c.error(`${path}.kind`, 'INV_ENUM', `identifier kind ${show(o.kind)} is not allowed; use nip, eu-vat, other or none${allowInternal ? ' or internal' : ''}`, el, o.kind);
      return undefined;
  }
}

function seller(c: Checker, v: unknown): Invoice['seller'] {
  const p = 'seller';
  const o = c.obj(v, p, 'Podmiot1', 'the seller', true) ?? {};
  return compact({
    euVatPrefix: c.oneOf(o.euVatPrefix, ['PL'] as const, `${p}.euVatPrefix`, 'Podmiot1/PrefiksPodatnika'),
    eori: c.text(o.eori, `${p}.eori`, 'Podmiot1/NrEORI', T256),
    nip: nip(c, o.nip, `${p}.nip`, 'Podmiot1/DaneIdentyfikacyjne/NIP'),
    name: c.text(o.name, `${p}.name`, 'Podmiot1/DaneIdentyfikacyjne/Nazwa', { ...T512, required: true }),
    address: address(c, o.address, `${p}.address`, 'Podmiot1/Adres', true) ?? { countryCode: '', line1: '' },
    correspondenceAddress: address(c, o.correspondenceAddress, `${p}.correspondenceAddress`, 'Podmiot1/AdresKoresp', false),
    contacts: contacts(c, o.contacts, `${p}.contacts`, 'Podmiot1/DaneKontaktowe'),
    status: c.oneOf(o.status, ['liquidation', 'restructuring', 'bankruptcy', 'inheritance'] as const, `${p}.status`, 'Podmiot1/StatusInfoPodatnika'),
  });
}

function buyer(c: Checker, v: unknown): Buyer {
  const p = 'buyer';
  const o = c.obj(v, p, 'Podmiot2', 'the buyer', true) ?? {};
  return compact({
    eori: c.text(o.eori, `${p}.eori`, 'Podmiot2/NrEORI', T256),
    id: (partyId(c, o.id, `${p}.id`, 'Podmiot2/DaneIdentyfikacyjne', false) as PartyId | undefined) ?? { kind: 'none' },
    name: c.text(o.name, `${p}.name`, 'Podmiot2/DaneIdentyfikacyjne/Nazwa', T512),
    address: address(c, o.address, `${p}.address`, 'Podmiot2/Adres', false),
    correspondenceAddress: address(c, o.correspondenceAddress, `${p}.correspondenceAddress`, 'Podmiot2/AdresKoresp', false),
    contacts: contacts(c, o.contacts, `${p}.contacts`, 'Podmiot2/DaneKontaktowe'),
    customerNumber: c.text(o.customerNumber, `${p}.customerNumber`, 'Podmiot2/NrKlienta', T256),
    buyerKey: c.text(o.buyerKey, `${p}.buyerKey`, 'Podmiot2/IDNabywcy', { max: 32 }),
    localGovernmentUnit: c.bool(o.localGovernmentUnit, `${p}.localGovernmentUnit`, 'Podmiot2/JST'),
    vatGroupMember: c.bool(o.vatGroupMember, `${p}.vatGroupMember`, 'Podmiot2/GV'),
  });
}

function thirdParty(c: Checker, v: unknown, p: string): ThirdParty | undefined {
  const el = 'Podmiot3';
  const o = c.obj(v, p, el, 'a third party', true);
  if (!o) return undefined;
  const role = c.oneOf(o.role, THIRD_PARTY_ROLES, `${p}.role`, `${el}/Rola`, true);
  const roleDescription = c.text(o.roleDescription, `${p}.roleDescription`, `${el}/OpisRoli`, T256);
  if (role === 'other' && roleDescription === undefined) c.missing(`${p}.roleDescription`, `${el}/OpisRoli`, "a description of the role 'other'");
  if (role !== 'other' && roleDescription !== undefined) c.error(`${p}.roleDescription`, 'INV_CHOICE', `roleDescription is only allowed with role 'other'`, `${el}/OpisRoli`);
  return compact({
    buyerKey: c.text(o.buyerKey, `${p}.buyerKey`, `${el}/IDNabywcy`, { max: 32 }),
    eori: c.text(o.eori, `${p}.eori`, `${el}/NrEORI`, T256),
    id: partyId(c, o.id, `${p}.id`, `${el}/DaneIdentyfikacyjne`, true) ?? { kind: 'none' },
    name: c.text(o.name, `${p}.name`, `${el}/DaneIdentyfikacyjne/Nazwa`, T512),
    address: address(c, o.address, `${p}.address`, `${el}/Adres`, false),
    correspondenceAddress: address(c, o.correspondenceAddress, `${p}.correspondenceAddress`, `${el}/AdresKoresp`, false),
    contacts: contacts(c, o.contacts, `${p}.contacts`, `${el}/DaneKontaktowe`),
    role,
    roleDescription,
    share: c.num(o.share, `${p}.share`, `${el}/Udzial`, 'percent'),
    customerNumber: c.text(o.customerNumber, `${p}.customerNumber`, `${el}/NrKlienta`, T256),
  });
}

function authorized(c: Checker, v: unknown): AuthorizedEntity | undefined {
  const p = 'authorizedEntity';
  const el = 'PodmiotUpowazniony';
  const o = c.obj(v, p, el, 'the authorized entity', false);
  if (!o) return undefined;
  return compact({
    eori: c.text(o.eori, `${p}.eori`, `${el}/NrEORI`, T256),
    nip: nip(c, o.nip, `${p}.nip`, `${el}/DaneIdentyfikacyjne/NIP`),
    name: c.text(o.name, `${p}.name`, `${el}/DaneIdentyfikacyjne/Nazwa`, { ...T512, required: true }),
    address: address(c, o.address, `${p}.address`, `${el}/Adres`, true) ?? { countryCode: '', line1: '' },
    correspondenceAddress: address(c, o.correspondenceAddress, `${p}.correspondenceAddress`, `${el}/AdresKoresp`, false),
    contacts: contacts(c, o.contacts, `${p}.contacts`, `${el}/DaneKontaktowe`),
    role: c.oneOf(o.role, AUTHORIZED_ROLES, `${p}.role`, `${el}/RolaPU`, true),
  });
}

function line(c: Checker, v: unknown, p: string, index: number): InvoiceLine | undefined {
  const el = 'FaWiersz';
  const o = c.obj(v, p, el, 'a line', true);
  if (!o) return undefined;
  const l: InvoiceLine = compact({
    lineNumber: c.int(o.lineNumber, `${p}.lineNumber`, `${el}/NrWierszaFa`, { min: 1 }) ?? index + 1,
    uuid: c.text(o.uuid, `${p}.uuid`, `${el}/UU_ID`, T50),
    deliveryDate: c.date(o.deliveryDate, `${p}.deliveryDate`, `${el}/P_6A`, '2006-01-01'),
    name: c.text(o.name, `${p}.name`, `${el}/P_7`, T512),
    index: c.text(o.index, `${p}.index`, `${el}/Indeks`, T50),
    gtin: c.text(o.gtin, `${p}.gtin`, `${el}/GTIN`, T20),
    pkwiu: c.text(o.pkwiu, `${p}.pkwiu`, `${el}/PKWiU`, T50),
    cn: c.text(o.cn, `${p}.cn`, `${el}/CN`, T50),
    pkob: c.text(o.pkob, `${p}.pkob`, `${el}/PKOB`, T50),
    unit: c.text(o.unit, `${p}.unit`, `${el}/P_8A`, T256),
    quantity: c.num(o.quantity, `${p}.quantity`, `${el}/P_8B`, 'quantity'),
    unitNetPrice: c.num(o.unitNetPrice, `${p}.unitNetPrice`, `${el}/P_9A`, 'price'),
    unitGrossPrice: c.num(o.unitGrossPrice, `${p}.unitGrossPrice`, `${el}/P_9B`, 'price'),
    discount: c.num(o.discount, `${p}.discount`, `${el}/P_10`, 'price'),
    netAmount: c.num(o.netAmount, `${p}.netAmount`, `${el}/P_11`, 'amount'),
    grossAmount: c.num(o.grossAmount, `${p}.grossAmount`, `${el}/P_11A`, 'amount'),
    vatAmount: c.num(o.vatAmount, `${p}.vatAmount`, `${el}/P_11Vat`, 'amount'),
    vatRate: c.oneOf(o.vatRate, VAT_RATES, `${p}.vatRate`, `${el}/P_12`),
    ossVatRate: c.num(o.ossVatRate, `${p}.ossVatRate`, `${el}/P_12_XII`, 'percent'),
    annex15: c.flag(o.annex15, `${p}.annex15`, `${el}/P_12_Zal_15`),
    exciseAmount: c.num(o.exciseAmount, `${p}.exciseAmount`, `${el}/KwotaAkcyzy`, 'amount'),
    gtu: c.oneOf(o.gtu, GTUS, `${p}.gtu`, `${el}/GTU`),
    procedure: c.oneOf(o.procedure, PROCEDURES, `${p}.procedure`, `${el}/Procedura`),
    exchangeRate: c.num(o.exchangeRate, `${p}.exchangeRate`, `${el}/KursWaluty`, 'quantity'),
    beforeCorrection: c.flag(o.beforeCorrection, `${p}.beforeCorrection`, `${el}/StanPrzed`),
  });
  return l;
}

function annotations(c: Checker, v: unknown): Annotations {
  const p = 'annotations';
  const el = 'Adnotacje';
  const o = c.obj(v, p, el, 'annotations', false) ?? {};
  const a: Annotations = {
    cashAccounting: c.bool(o.cashAccounting, `${p}.cashAccounting`, `${el}/P_16`),
    selfBilling: c.bool(o.selfBilling, `${p}.selfBilling`, `${el}/P_17`),
    reverseCharge: c.bool(o.reverseCharge, `${p}.reverseCharge`, `${el}/P_18`),
    splitPayment: c.bool(o.splitPayment, `${p}.splitPayment`, `${el}/P_18A`),
    simplifiedTriangular: c.bool(o.simplifiedTriangular, `${p}.simplifiedTriangular`, `${el}/P_23`),
  };
  const ex = c.obj(o.exemption, `${p}.exemption`, `${el}/Zwolnienie`, 'the exemption', false);
  if (ex) {
    const basis = c.oneOf(ex.basis, ['act', 'directive', 'other'] as const, `${p}.exemption.basis`, `${el}/Zwolnienie`, true);
    const elx = basis === 'act' ? 'P_19A' : basis === 'directive' ? 'P_19B' : 'P_19C';
    a.exemption = { basis, text: c.text(ex.text, `${p}.exemption.text`, `${el}/Zwolnienie/${elx}`, { ...T256, required: true }) };
  }
  const nt = c.obj(o.newMeansOfTransport, `${p}.newMeansOfTransport`, `${el}/NoweSrodkiTransportu`, 'new means of transport', false);
  if (nt) {
    const np = `${p}.newMeansOfTransport`;
    const nel = `${el}/NoweSrodkiTransportu`;
    a.newMeansOfTransport = {
      art42Sec5: c.bool(nt.art42Sec5, `${np}.art42Sec5`, `${nel}/P_42_5`),
      vehicles: c.list(nt.vehicles, `${np}.vehicles`, `${nel}/NowySrodekTransportu`, 10000, (item, ip) => vehicle(c, item, ip), 1) ?? [],
    };
  }
  if (o.margin !== undefined && o.margin !== null) a.margin = c.oneOf(o.margin, ['travel', 'used-goods', 'works-of-art', 'antiques'] as const, `${p}.margin`, `${el}/PMarzy`);
  return compact(a);
}

function vehicle(c: Checker, v: unknown, p: string): NewVehicle | undefined {
  const el = 'NowySrodekTransportu';
  const o = c.obj(v, p, el, 'a vehicle', true);
  if (!o) return undefined;
  const k = c.obj(o.kind, `${p}.kind`, el, 'the kind of vehicle (land, water, air)', true) ?? {};
  let kind: NewVehicle['kind'];
  if (k.type === 'land') {
    const id = c.obj(k.identifier, `${p}.kind.identifier`, `${el}/P_22B1`, 'identifier', false);
    kind = compact({
      type: 'land' as const,
      mileage: c.text(k.mileage, `${p}.kind.mileage`, `${el}/P_22B`, { ...T256, required: true }),
      identifier: id
        ? {
            kind: c.oneOf(id.kind, ['vin', 'body', 'chassis', 'frame'] as const, `${p}.kind.identifier.kind`, `${el}/P_22B1`, true),
            value: c.text(id.value, `${p}.kind.identifier.value`, `${el}/P_22B1`, { ...T256, required: true }),
          }
        : undefined,
      vehicleType: c.text(k.vehicleType, `${p}.kind.vehicleType`, `${el}/P_22BT`, T256),
    });
  } else if (k.type === 'water') {
    kind = compact({
      type: 'water' as const,
      hours: c.text(k.hours, `${p}.kind.hours`, `${el}/P_22C`, { ...T256, required: true }),
      hullNumber: c.text(k.hullNumber, `${p}.kind.hullNumber`, `${el}/P_22C1`, T256),
    });
  } else if (k.type === 'air') {
    kind = compact({
      type: 'air' as const,
      hours: c.text(k.hours, `${p}.kind.hours`, `${el}/P_22D`, { ...T256, required: true }),
      serialNumber: c.text(k.serialNumber, `${p}.kind.serialNumber`, `${el}/P_22D1`, T256),
    });
  } else {
    c.error(`${p}.kind.type`, 'INV_ENUM', `vehicle type must be land, water or air`, el, k.type);
    kind = { type: 'land', mileage: '' };
  }
  return compact({
    firstUseDate: c.date(o.firstUseDate, `${p}.firstUseDate`, `${el}/P_22A`, '2006-01-01', true),
    lineNumber: c.int(o.lineNumber, `${p}.lineNumber`, `${el}/P_NrWierszaNST`, { min: 1, required: true }) ?? 1,
    make: c.text(o.make, `${p}.make`, `${el}/P_22BMK`, T256),
    model: c.text(o.model, `${p}.model`, `${el}/P_22BMD`, T256),
    colour: c.text(o.colour, `${p}.colour`, `${el}/P_22BK`, T256),
    registrationNumber: c.text(o.registrationNumber, `${p}.registrationNumber`, `${el}/P_22BNR`, T256),
    productionYear: c.text(o.productionYear, `${p}.productionYear`, `${el}/P_22BRP`, T256),
    kind,
  });
}

function correction(c: Checker, v: unknown): Correction | undefined {
  const p = 'correction';
  const o = c.obj(v, p, 'DaneFaKorygowanej', 'the correction data', false);
  if (!o) return undefined;
  const corrected =
    c.list(
      o.corrected,
      `${p}.corrected`,
      'DaneFaKorygowanej',
      50000,
      (item, ip) => {
        const q = c.obj(item, ip, 'DaneFaKorygowanej', 'a corrected invoice', true);
        if (!q) return undefined;
        return compact({
          issueDate: c.date(q.issueDate, `${ip}.issueDate`, 'DaneFaKorygowanej/DataWystFaKorygowanej', '2006-01-01', true),
          number: c.text(q.number, `${ip}.number`, 'DaneFaKorygowanej/NrFaKorygowanej', { ...T256, required: true }),
          ksefNumber: c.text(q.ksefNumber, `${ip}.ksefNumber`, 'DaneFaKorygowanej/NrKSeFFaKorygowanej', {
            max: 36,
            pattern: KSEF_NUMBER_RE,
            patternText: 'a KSeF number (NIP-YYYYMMDD-XXXXXX-XXXXXX-XX)',
          }),
        });
      },
      1,
    ) ?? [];
  const ob = c.obj(o.amountBeforeCorrection, `${p}.amountBeforeCorrection`, 'P_15ZK', 'the amount before correction', false);
  const os = c.obj(o.originalSeller, `${p}.originalSeller`, 'Podmiot1K', 'the original seller', false);
  return compact({
    reason: c.text(o.reason, `${p}.reason`, 'PrzyczynaKorekty', T256),
    effect: c.oneOf(o.effect, ['original-date', 'correction-date', 'other-date'] as const, `${p}.effect`, 'TypKorekty'),
    corrected,
    period: c.text(o.period, `${p}.period`, 'OkresFaKorygowanej', T256),
    correctNumber: c.text(o.correctNumber, `${p}.correctNumber`, 'NrFaKorygowany', T256),
    originalSeller: os
      ? compact({
          euVatPrefix: c.code(os.euVatPrefix, EU_COUNTRY_CODES, `${p}.originalSeller.euVatPrefix`, 'Podmiot1K/PrefiksPodatnika', 'EU country prefix', false),
          nip: nip(c, os.nip, `${p}.originalSeller.nip`, 'Podmiot1K/DaneIdentyfikacyjne/NIP'),
          name: c.text(os.name, `${p}.originalSeller.name`, 'Podmiot1K/DaneIdentyfikacyjne/Nazwa', { ...T512, required: true }),
          address: address(c, os.address, `${p}.originalSeller.address`, 'Podmiot1K/Adres', true) ?? { countryCode: '', line1: '' },
        })
      : undefined,
    originalBuyers: c.list(o.originalBuyers, `${p}.originalBuyers`, 'Podmiot2K', 101, (item, ip) => {
      const q = c.obj(item, ip, 'Podmiot2K', 'an original buyer', true);
      if (!q) return undefined;
      return compact({
        id: (partyId(c, q.id, `${ip}.id`, 'Podmiot2K/DaneIdentyfikacyjne', false) as PartyId | undefined) ?? { kind: 'none' as const },
        name: c.text(q.name, `${ip}.name`, 'Podmiot2K/DaneIdentyfikacyjne/Nazwa', T512),
        address: address(c, q.address, `${ip}.address`, 'Podmiot2K/Adres', false),
        buyerKey: c.text(q.buyerKey, `${ip}.buyerKey`, 'Podmiot2K/IDNabywcy', { max: 32 }),
      });
    }),
    amountBeforeCorrection: ob
      ? compact({
          amount: c.num(ob.amount, `${p}.amountBeforeCorrection.amount`, 'P_15ZK', 'amount', true),
          exchangeRate: c.num(ob.exchangeRate, `${p}.amountBeforeCorrection.exchangeRate`, 'KursWalutyZK', 'quantity'),
        })
      : undefined,
  });
}

function paymentForm(c: Checker, v: unknown, p: string, el: string): PaymentForm | undefined {
  const o = c.obj(v, p, el, 'a payment form', false);
  if (!o) return undefined;
  const method = c.oneOf(o.method, PAYMENT_METHODS, `${p}.method`, `${el}/FormaPlatnosci`, true);
  const description = c.text(o.description, `${p}.description`, `${el}/OpisPlatnosci`, T256);
  if (method === 'other' && description === undefined) c.missing(`${p}.description`, `${el}/OpisPlatnosci`, "a description of the payment method 'other'");
  if (method !== 'other' && description !== undefined) c.error(`${p}.description`, 'INV_CHOICE', `a description is only allowed with method 'other'`, `${el}/OpisPlatnosci`);
  return compact({ method, description });
}

function bankAccount(c: Checker, v: unknown, p: string, el: string): BankAccount | undefined {
  const o = c.obj(v, p, el, 'a bank account', true);
  if (!o) return undefined;
  return compact({
    number: c.text(o.number, `${p}.number`, `${el}/NrRB`, { max: 34, min: 10, token: false, required: true }),
    swift: c.text(o.swift, `${p}.swift`, `${el}/SWIFT`, { max: 11, pattern: SWIFT_RE, patternText: 'a SWIFT/BIC code' }),
    bankOwnAccount: c.oneOf(o.bankOwnAccount, ['settlement', 'collection', 'cooperative'] as const, `${p}.bankOwnAccount`, `${el}/RachunekWlasnyBanku`),
    bankName: c.text(o.bankName, `${p}.bankName`, `${el}/NazwaBanku`, T256),
    description: c.text(o.description, `${p}.description`, `${el}/OpisRachunku`, T256),
  });
}

function payment(c: Checker, v: unknown): Payment | undefined {
  const p = 'payment';
  const el = 'Platnosc';
  const o = c.obj(v, p, el, 'the payment', false);
  if (!o) return undefined;
  const part = c.obj(o.partial, `${p}.partial`, `${el}/ZaplataCzesciowa`, 'partial payments', false);
  const r: Payment = compact({
    paidDate: c.date(o.paidDate, `${p}.paidDate`, `${el}/DataZaplaty`, '2016-07-01'),
    partial: part
      ? {
          final: c.bool(part.final, `${p}.partial.final`, `${el}/ZnacznikZaplatyCzesciowej`),
          payments:
            c.list(
              part.payments,
              `${p}.partial.payments`,
              `${el}/ZaplataCzesciowa`,
              100,
              (item, ip) => {
                const q = c.obj(item, ip, `${el}/ZaplataCzesciowa`, 'a partial payment', true);
                if (!q) return undefined;
                return compact({
                  amount: c.num(q.amount, `${ip}.amount`, `${el}/ZaplataCzesciowa/KwotaZaplatyCzesciowej`, 'amount', true),
                  date: c.date(q.date, `${ip}.date`, `${el}/ZaplataCzesciowa/DataZaplatyCzesciowej`, '2016-07-01', true),
                  form: paymentForm(c, q.form, `${ip}.form`, `${el}/ZaplataCzesciowa`),
                });
              },
              1,
            ) ?? [],
        }
      : undefined,
    dueDates: c.list(o.dueDates, `${p}.dueDates`, `${el}/TerminPlatnosci`, 100, (item, ip): DueDate | undefined => {
      const q = c.obj(item, ip, `${el}/TerminPlatnosci`, 'a due date', true);
      if (!q) return undefined;
      const d = c.obj(q.description, `${ip}.description`, `${el}/TerminPlatnosci/TerminOpis`, 'a due date description', false);
      return compact({
        date: c.date(q.date, `${ip}.date`, `${el}/TerminPlatnosci/Termin`, '2016-07-01'),
        description: d
          ? {
              count: c.int(d.count, `${ip}.description.count`, `${el}/TerminPlatnosci/TerminOpis/Ilosc`, { min: -1e15, required: true }) ?? 0,
              unit: c.text(d.unit, `${ip}.description.unit`, `${el}/TerminPlatnosci/TerminOpis/Jednostka`, { ...T50, required: true }),
              startEvent: c.text(d.startEvent, `${ip}.description.startEvent`, `${el}/TerminPlatnosci/TerminOpis/ZdarzeniePoczatkowe`, { ...T256, required: true }),
            }
          : undefined,
      });
    }),
    form: paymentForm(c, o.form, `${p}.form`, el),
    bankAccounts: c.list(o.bankAccounts, `${p}.bankAccounts`, `${el}/RachunekBankowy`, 100, (item, ip) => bankAccount(c, item, ip, `${el}/RachunekBankowy`)),
    factorBankAccounts: c.list(o.factorBankAccounts, `${p}.factorBankAccounts`, `${el}/RachunekBankowyFaktora`, 20, (item, ip) => bankAccount(c, item, ip, `${el}/RachunekBankowyFaktora`)),
    cashDiscount: (() => {
      const q = c.obj(o.cashDiscount, `${p}.cashDiscount`, `${el}/Skonto`, 'the cash discount', false);
      return q
        ? {
            conditions: c.text(q.conditions, `${p}.cashDiscount.conditions`, `${el}/Skonto/WarunkiSkonta`, { ...T256, required: true }),
            amount: c.text(q.amount, `${p}.cashDiscount.amount`, `${el}/Skonto/WysokoscSkonta`, { ...T256, required: true }),
          }
        : undefined;
    })(),
    paymentLink: c.text(o.paymentLink, `${p}.paymentLink`, `${el}/LinkDoPlatnosci`, { ...T512, pattern: PAYMENT_LINK_RE, patternText: 'a payment link with an IPKSeF parameter' }),
    ksefPaymentId: c.text(o.ksefPaymentId, `${p}.ksefPaymentId`, `${el}/IPKSeF`, { max: 13, pattern: IPKSEF_RE, patternText: 'a KSeF payment id (3 digits and 10 letters/digits)' }),
  });
  if (r.paidDate !== undefined && r.partial) c.error(`${p}.partial`, 'INV_CHOICE', 'an invoice is either paid (paidDate) or partly paid (partial), not both', `${el}/ZaplataCzesciowa`);
  return r;
}

function transport(c: Checker, v: unknown, p: string): Transport | undefined {
  const el = 'WarunkiTransakcji/Transport';
  const o = c.obj(v, p, el, 'a transport', true);
  if (!o) return undefined;
  const kind = c.oneOf(o.kind, TRANSPORT_KINDS, `${p}.kind`, `${el}/RodzajTransportu`, true);
  const kindDescription = c.text(o.kindDescription, `${p}.kindDescription`, `${el}/OpisInnegoTransportu`, T50);
  if (kind === 'other' && kindDescription === undefined) c.missing(`${p}.kindDescription`, `${el}/OpisInnegoTransportu`, "a description of the transport kind 'other'");
  let cargo: number | 'other' = 'other';
  if (o.cargo === 'other') cargo = 'other';
  else cargo = c.int(o.cargo, `${p}.cargo`, `${el}/OpisLadunku`, { min: 1, max: 20, required: true }) ?? 1;
  const cargoDescription = c.text(o.cargoDescription, `${p}.cargoDescription`, `${el}/OpisInnegoLadunku`, T50);
  if (cargo === 'other' && cargoDescription === undefined) c.missing(`${p}.cargoDescription`, `${el}/OpisInnegoLadunku`, "a description of the cargo 'other'");
  const carrier = c.obj(o.carrier, `${p}.carrier`, `${el}/Przewoznik`, 'the carrier', false);
  return compact({
    kind,
    kindDescription: kind === 'other' ? kindDescription : undefined,
    carrier: carrier
      ? compact({
          id: (partyId(c, carrier.id, `${p}.carrier.id`, `${el}/Przewoznik/DaneIdentyfikacyjne`, false) as PartyId | undefined) ?? { kind: 'none' as const },
          name: c.text(carrier.name, `${p}.carrier.name`, `${el}/Przewoznik/DaneIdentyfikacyjne/Nazwa`, T512),
          address: address(c, carrier.address, `${p}.carrier.address`, `${el}/Przewoznik/AdresPrzewoznika`, true) ?? { countryCode: '', line1: '' },
        })
      : undefined,
    orderNumber: c.text(o.orderNumber, `${p}.orderNumber`, `${el}/NrZleceniaTransportu`, T256),
    cargo,
    cargoDescription: cargo === 'other' ? cargoDescription : undefined,
    packagingUnit: c.text(o.packagingUnit, `${p}.packagingUnit`, `${el}/JednostkaOpakowania`, T256),
    start: c.dateTime(o.start, `${p}.start`, `${el}/DataGodzRozpTransportu`, '2021-10-01T00:00:00Z'),
    end: c.dateTime(o.end, `${p}.end`, `${el}/DataGodzZakTransportu`, '2021-10-01T00:00:00Z'),
    shipFrom: address(c, o.shipFrom, `${p}.shipFrom`, `${el}/WysylkaZ`, false),
    shipVia: c.list(o.shipVia, `${p}.shipVia`, `${el}/WysylkaPrzez`, 20, (item, ip) => address(c, item, ip, `${el}/WysylkaPrzez`, true)),
    shipTo: address(c, o.shipTo, `${p}.shipTo`, `${el}/WysylkaDo`, false),
  });
}

function terms(c: Checker, v: unknown): TransactionTerms | undefined {
  const p = 'transactionTerms';
  const el = 'WarunkiTransakcji';
  const o = c.obj(v, p, el, 'the transaction terms', false);
  if (!o) return undefined;
  const dated = (sub: string, dateEl: string, numEl: string) => (item: unknown, ip: string) => {
    const q = c.obj(item, ip, `${el}/${sub}`, 'an entry', true);
    if (!q) return undefined;
    return compact({ date: c.date(q.date, `${ip}.date`, `${el}/${sub}/${dateEl}`, '1990-01-01'), number: c.text(q.number, `${ip}.number`, `${el}/${sub}/${numEl}`, T256) });
  };
  const cr = c.obj(o.contractualRate, `${p}.contractualRate`, `${el}/KursUmowny`, 'the contractual rate', false);
  return compact({
    contracts: c.list(o.contracts, `${p}.contracts`, `${el}/Umowy`, 100, dated('Umowy', 'DataUmowy', 'NrUmowy')),
    orders: c.list(o.orders, `${p}.orders`, `${el}/Zamowienia`, 100, dated('Zamowienia', 'DataZamowienia', 'NrZamowienia')),
    batchNumbers: c.list(o.batchNumbers, `${p}.batchNumbers`, `${el}/NrPartiiTowaru`, 1000, (item, ip) => c.text(item, ip, `${el}/NrPartiiTowaru`, T256)),
    deliveryTerms: c.text(o.deliveryTerms, `${p}.deliveryTerms`, `${el}/WarunkiDostawy`, T256),
    contractualRate: cr
      ? {
          rate: c.num(cr.rate, `${p}.contractualRate.rate`, `${el}/KursUmowny`, 'quantity', true),
          currency: c.code(cr.currency, CURRENCY_CODES, `${p}.contractualRate.currency`, `${el}/WalutaUmowna`, 'currency code', true) ?? '',
        }
      : undefined,
    transports: c.list(o.transports, `${p}.transports`, `${el}/Transport`, 20, (item, ip) => transport(c, item, ip)),
    intermediary: c.flag(o.intermediary, `${p}.intermediary`, `${el}/PodmiotPosredniczacy`),
  });
}

function order(c: Checker, v: unknown): Order | undefined {
  const p = 'order';
  const el = 'Zamowienie';
  const o = c.obj(v, p, el, 'the order', false);
  if (!o) return undefined;
  const zel = `${el}/ZamowienieWiersz`;
  return {
    value: c.num(o.value, `${p}.value`, `${el}/WartoscZamowienia`, 'amount', true),
    lines:
      c.list(
        o.lines,
        `${p}.lines`,
        zel,
        10000,
        (item, lp): OrderLine | undefined => {
          const q = c.obj(item, lp, zel, 'an order line', true);
          if (!q) return undefined;
          return compact({
            lineNumber: c.int(q.lineNumber, `${lp}.lineNumber`, `${zel}/NrWierszaZam`, { min: 1, required: true }) ?? 1,
            uuid: c.text(q.uuid, `${lp}.uuid`, `${zel}/UU_IDZ`, T50),
            name: c.text(q.name, `${lp}.name`, `${zel}/P_7Z`, T512),
            index: c.text(q.index, `${lp}.index`, `${zel}/IndeksZ`, T50),
            gtin: c.text(q.gtin, `${lp}.gtin`, `${zel}/GTINZ`, T20),
            pkwiu: c.text(q.pkwiu, `${lp}.pkwiu`, `${zel}/PKWiUZ`, T50),
            cn: c.text(q.cn, `${lp}.cn`, `${zel}/CNZ`, T50),
            pkob: c.text(q.pkob, `${lp}.pkob`, `${zel}/PKOBZ`, T50),
            unit: c.text(q.unit, `${lp}.unit`, `${zel}/P_8AZ`, T256),
            quantity: c.num(q.quantity, `${lp}.quantity`, `${zel}/P_8BZ`, 'quantity'),
            unitNetPrice: c.num(q.unitNetPrice, `${lp}.unitNetPrice`, `${zel}/P_9AZ`, 'price'),
            netAmount: c.num(q.netAmount, `${lp}.netAmount`, `${zel}/P_11NettoZ`, 'amount'),
            vatAmount: c.num(q.vatAmount, `${lp}.vatAmount`, `${zel}/P_11VatZ`, 'amount'),
            vatRate: c.oneOf(q.vatRate, VAT_RATES, `${lp}.vatRate`, `${zel}/P_12Z`),
            ossVatRate: c.num(q.ossVatRate, `${lp}.ossVatRate`, `${zel}/P_12Z_XII`, 'percent'),
            annex15: c.flag(q.annex15, `${lp}.annex15`, `${zel}/P_12Z_Zal_15`),
            gtu: c.oneOf(q.gtu, GTUS, `${lp}.gtu`, `${zel}/GTUZ`),
            procedure: c.oneOf(q.procedure, ['WSTO_EE', 'IED', 'TT_D', 'B_SPV', 'B_SPV_DOSTAWA', 'B_MPV_PROWIZJA'] as const, `${lp}.procedure`, `${zel}/ProceduraZ`),
            exciseAmount: c.num(q.exciseAmount, `${lp}.exciseAmount`, `${zel}/KwotaAkcyzyZ`, 'amount'),
            beforeCorrection: c.flag(q.beforeCorrection, `${lp}.beforeCorrection`, `${zel}/StanPrzedZ`),
          });
        },
        1,
      ) ?? [],
  };
}

function settlement(c: Checker, v: unknown): Settlement | undefined {
  const p = 'settlement';
  const el = 'Rozliczenie';
  const o = c.obj(v, p, el, 'the settlement', false);
  if (!o) return undefined;
  const ar = (sub: string) => (item: unknown, ip: string) => {
    const q = c.obj(item, ip, `${el}/${sub}`, 'an entry', true);
    if (!q) return undefined;
    return { amount: c.num(q.amount, `${ip}.amount`, `${el}/${sub}/Kwota`, 'amount', true), reason: c.text(q.reason, `${ip}.reason`, `${el}/${sub}/Powod`, { ...T256, required: true }) };
  };
  const r: Settlement = compact({
    charges: c.list(o.charges, `${p}.charges`, `${el}/Obciazenia`, 100, ar('Obciazenia')),
    chargesTotal: c.num(o.chargesTotal, `${p}.chargesTotal`, `${el}/SumaObciazen`, 'amount'),
    deductions: c.list(o.deductions, `${p}.deductions`, `${el}/Odliczenia`, 100, ar('Odliczenia')),
    deductionsTotal: c.num(o.deductionsTotal, `${p}.deductionsTotal`, `${el}/SumaOdliczen`, 'amount'),
    amountDue: c.num(o.amountDue, `${p}.amountDue`, `${el}/DoZaplaty`, 'amount'),
    amountToSettle: c.num(o.amountToSettle, `${p}.amountToSettle`, `${el}/DoRozliczenia`, 'amount'),
  });
  if (r.amountDue !== undefined && r.amountToSettle !== undefined) c.error(`${p}.amountToSettle`, 'INV_CHOICE', 'give either amountDue or amountToSettle, not both', `${el}/DoRozliczenia`);
  return r;
}

function footer(c: Checker, v: unknown): Footer | undefined {
  const p = 'footer';
  const o = c.obj(v, p, 'Stopka', 'the footer', false);
  if (!o) return undefined;
  const r: Footer = compact({
    info: c.list(o.info, `${p}.info`, 'Stopka/Informacje', 3, (item, ip) => c.text(item, ip, 'Stopka/Informacje/StopkaFaktury', { max: 3500, token: false })),
    registries: c.list(o.registries, `${p}.registries`, 'Stopka/Rejestry', 100, (item, ip) => {
      const q = c.obj(item, ip, 'Stopka/Rejestry', 'a registry entry', true);
      if (!q) return undefined;
      const r2 = compact({
        fullName: c.text(q.fullName, `${ip}.fullName`, 'Stopka/Rejestry/PelnaNazwa', T256),
        krs: c.text(q.krs, `${ip}.krs`, 'Stopka/Rejestry/KRS', { max: 10, pattern: /^\d{10}$/, patternText: 'a 10-digit KRS number' }),
        regon: c.text(q.regon, `${ip}.regon`, 'Stopka/Rejestry/REGON', { max: 14, pattern: /^(\d{9}|\d{14})$/, patternText: 'a 9- or 14-digit REGON' }),
        bdo: c.text(q.bdo, `${ip}.bdo`, 'Stopka/Rejestry/BDO', { max: 9 }),
      });
      return Object.keys(r2).length ? r2 : undefined;
    }),
  });
  return Object.keys(r).length ? r : undefined;
}

const COLUMN_TYPES: readonly ColumnType[] = ['date', 'datetime', 'dec', 'int', 'time', 'txt'];

function attachment(c: Checker, v: unknown): Attachment | undefined {
  const p = 'attachment';
  const el = 'Zalacznik/BlokDanych';
  const o = c.obj(v, p, 'Zalacznik', 'the attachment', false);
  if (!o) return undefined;
  const kv = (sub: string, k: string, val: string) => (item: unknown, ip: string) => {
    const q = c.obj(item, ip, sub, 'a key/value', true);
    if (!q) return undefined;
    return { key: c.text(q.key, `${ip}.key`, `${sub}/${k}`, { ...T256, required: true }), value: c.text(q.value, `${ip}.value`, `${sub}/${val}`, { ...T256, required: true }) };
  };
  const blocks =
    c.list(
      o.blocks,
      `${p}.blocks`,
      el,
      1000,
      (item, bp): AttachmentBlock | undefined => {
        const b = c.obj(item, bp, el, 'a data block', true);
        if (!b) return undefined;
        return compact({
          header: c.text(b.header, `${bp}.header`, `${el}/ZNaglowek`, T512),
          metadata: c.list(b.metadata, `${bp}.metadata`, `${el}/MetaDane`, 1000, kv(`${el}/MetaDane`, 'ZKlucz', 'ZWartosc'), 1) ?? [],
          paragraphs: c.list(b.paragraphs, `${bp}.paragraphs`, `${el}/Tekst/Akapit`, 10, (t, tp) => c.text(t, tp, `${el}/Tekst/Akapit`, T512)),
          tables: c.list(b.tables, `${bp}.tables`, `${el}/Tabela`, 1000, (t, tp) => {
            const q = c.obj(t, tp, `${el}/Tabela`, 'a table', true);
            if (!q) return undefined;
            const tel = `${el}/Tabela`;
            const cell = (x: unknown, xp: string, e: string) => c.text(x, xp, e, { max: 256, min: 0 }) ?? '';
            return compact({
              metadata: c.list(q.metadata, `${tp}.metadata`, `${tel}/TMetaDane`, 1000, kv(`${tel}/TMetaDane`, 'TKlucz', 'TWartosc')),
              description: c.text(q.description, `${tp}.description`, `${tel}/Opis`, T512),
              columns:
                c.list(
                  q.columns,
                  `${tp}.columns`,
                  `${tel}/TNaglowek/Kol`,
                  20,
                  (col, cp) => {
                    const k = c.obj(col, cp, `${tel}/TNaglowek/Kol`, 'a column', true);
                    if (!k) return undefined;
                    return { type: c.oneOf(k.type, COLUMN_TYPES, `${cp}.type`, `${tel}/TNaglowek/Kol/@Typ`, true), name: cell(k.name, `${cp}.name`, `${tel}/TNaglowek/Kol/NKom`) };
                  },
                  1,
                ) ?? [],
              rows:
                c.list(q.rows, `${tp}.rows`, `${tel}/Wiersz`, 1000, (row, rp) => c.list(row, rp, `${tel}/Wiersz/WKom`, 20, (x, xp) => cell(x, xp, `${tel}/Wiersz/WKom`), 1), 1) ?? [],
              sum: c.list(q.sum, `${tp}.sum`, `${tel}/Suma/SKom`, 20, (x, xp) => cell(x, xp, `${tel}/Suma/SKom`)),
            });
          }),
        });
      },
      1,
    ) ?? [];
  return { blocks };
}

function totalsInput(c: Checker, v: unknown): { groups?: Partial<Record<TotalGroup, GroupTotal>>; gross?: string } {
  const o = c.obj(v, 'totals', 'P_13_x', 'the totals', false);
  if (!o) return {};
  const out: { groups?: Partial<Record<TotalGroup, GroupTotal>>; gross?: string } = {};
  const g = c.obj(o.groups, 'totals.groups', 'P_13_x', 'the totals per group', false);
  if (g) {
    out.groups = {};
    for (const key of Object.keys(g)) {
      if (!(TOTAL_GROUPS as readonly string[]).includes(key)) {
        c.error(`totals.groups.${key}`, 'INV_ENUM', `unknown total group "${key}"; use one of: ${TOTAL_GROUPS.join(', ')}`, 'P_13_x');
        continue;
      }
      const group = key as TotalGroup;
      const els = GROUP_ELEMENTS[group];
      const gp = `totals.groups.${group}`;
      const t = c.obj(g[group], gp, els.net, 'a group total', false);
      if (!t) continue;
      const r: GroupTotal = compact({
        net: c.num(t.net, `${gp}.net`, els.net, 'amount', true),
        vat: els.vat ? c.num(t.vat, `${gp}.vat`, els.vat, 'amount', group !== 'oss') : undefined,
        vatPln: els.vatPln ? c.num(t.vatPln, `${gp}.vatPln`, els.vatPln, 'amount') : undefined,
      });
      if (!els.vat && t.vat !== undefined) c.error(`${gp}.vat`, 'INV_CHOICE', `the group ${group} (${els.label}) carries no VAT amount`, els.net);
      if (!els.vatPln && t.vatPln !== undefined) c.error(`${gp}.vatPln`, 'INV_CHOICE', `the group ${group} (${els.label}) carries no VAT in PLN`, els.net);
      out.groups[group] = r;
    }
  }
  const gross = c.num(o.gross, 'totals.gross', 'P_15', 'amount');
  if (gross !== undefined) out.gross = gross;
  return out;
}

/* ------------------------------------------------------------ invoice ---- */

/**
 * Validates the structure of an invoice and returns the canonical model (when there are no errors) with every
 * issue found. Totals the source did not give are computed from the lines; totals it gave are kept as given
 * (checkInvoice compares them with the lines).
 */
export function createInvoice(input: InvoiceInput): CreateResult {
  const c = new Checker();
  const i = (input ?? {}) as unknown as Obj;
  const kind = c.oneOf(i.kind ?? 'VAT', INVOICE_KINDS, 'kind', 'RodzajFaktury', true);
  const inv: Invoice = {
    kind,
    number: c.text(i.number, 'number', 'P_2', { ...T256, required: true }),
    issueDate: c.date(i.issueDate, 'issueDate', 'P_1', '2006-01-01', true),
    placeOfIssue: c.text(i.placeOfIssue, 'placeOfIssue', 'P_1M', T256),
    createdAt: c.dateTime(i.createdAt, 'createdAt', 'DataWytworzeniaFa', '2025-09-01T00:00:00Z'),
    systemInfo: c.text(i.systemInfo, 'systemInfo', 'SystemInfo', T256),
    seller: seller(c, i.seller),
    buyer: buyer(c, i.buyer),
    thirdParties: c.list(i.thirdParties, 'thirdParties', 'Podmiot3', 100, (item, p) => thirdParty(c, item, p)),
    authorizedEntity: authorized(c, i.authorizedEntity),
    currency: c.code(i.currency ?? 'PLN', CURRENCY_CODES, 'currency', 'KodWaluty', 'ISO 4217 currency code', true) ?? 'PLN',
    saleDate: c.date(i.saleDate, 'saleDate', 'P_6', '2006-01-01'),
    salePeriod: (() => {
      const o = c.obj(i.salePeriod, 'salePeriod', 'OkresFa', 'the sale period', false);
      return o ? { from: c.date(o.from, 'salePeriod.from', 'OkresFa/P_6_Od', '2006-01-01', true), to: c.date(o.to, 'salePeriod.to', 'OkresFa/P_6_Do', '2006-01-01', true) } : undefined;
    })(),
    deliveryNotes: c.list(i.deliveryNotes, 'deliveryNotes', 'WZ', 1000, (item, p) => c.text(item, p, 'WZ', T256)),
    totals: { groups: {}, gross: '0.00' },
    advanceExchangeRate: c.num(i.advanceExchangeRate, 'advanceExchangeRate', 'KursWalutyZ', 'quantity'),
    annotations: annotations(c, i.annotations),
    correction: correction(c, i.correction),
    partialAdvances: c.list(i.partialAdvances, 'partialAdvances', 'ZaliczkaCzesciowa', 31, (item, p) => {
      const o = c.obj(item, p, 'ZaliczkaCzesciowa', 'a partial advance', true);
      if (!o) return undefined;
      return compact({
        paymentDate: c.date(o.paymentDate, `${p}.paymentDate`, 'ZaliczkaCzesciowa/P_6Z', '2006-01-01', true),
        amount: c.num(o.amount, `${p}.amount`, 'ZaliczkaCzesciowa/P_15Z', 'amount', true),
        exchangeRate: c.num(o.exchangeRate, `${p}.exchangeRate`, 'ZaliczkaCzesciowa/KursWalutyZW', 'quantity'),
      });
    }),
    receiptInvoice: c.flag(i.receiptInvoice, 'receiptInvoice', 'FP'),
    relatedParties: c.flag(i.relatedParties, 'relatedParties', 'TP'),
    notes: c.list(i.notes, 'notes', 'DodatkowyOpis', 10000, (item, p) => {
      const o = c.obj(item, p, 'DodatkowyOpis', 'a note', true);
      if (!o) return undefined;
      return compact({
        lineNumber: c.int(o.lineNumber, `${p}.lineNumber`, 'DodatkowyOpis/NrWiersza', { min: 1 }),
        key: c.text(o.key, `${p}.key`, 'DodatkowyOpis/Klucz', { ...T256, required: true }),
        value: c.text(o.value, `${p}.value`, 'DodatkowyOpis/Wartosc', { ...T256, required: true }),
      });
    }),
    advanceInvoices: c.list(i.advanceInvoices, 'advanceInvoices', 'FakturaZaliczkowa', 100, (item, p): AdvanceInvoiceRef | undefined => {
      const o = c.obj(item, p, 'FakturaZaliczkowa', 'an advance invoice reference', true);
      if (!o) return undefined;
      if (o.ksefNumber !== undefined && o.number !== undefined) c.error(p, 'INV_CHOICE', 'give either ksefNumber or number of the advance invoice, not both', 'FakturaZaliczkowa');
      if (o.ksefNumber !== undefined) {
        return { ksefNumber: c.text(o.ksefNumber, `${p}.ksefNumber`, 'FakturaZaliczkowa/NrKSeFFaZaliczkowej', { max: 36, required: true, pattern: KSEF_NUMBER_RE, patternText: 'a KSeF number' }) };
      }
      return { number: c.text(o.number, `${p}.number`, 'FakturaZaliczkowa/NrFaZaliczkowej', { ...T256, required: true }) };
    }),
    exciseRefund: c.flag(i.exciseRefund, 'exciseRefund', 'ZwrotAkcyzy'),
    lines: c.list(i.lines, 'lines', 'FaWiersz', 10000, (item, p) => line(c, item, p, Number(/\[(\d+)\]$/.exec(p)?.[1] ?? 0))) ?? [],
    settlement: settlement(c, i.settlement),
    payment: payment(c, i.payment),
    transactionTerms: terms(c, i.transactionTerms),
    order: order(c, i.order),
    footer: footer(c, i.footer),
    attachment: attachment(c, i.attachment),
  };
  const rate = c.num(i.exchangeRate, 'exchangeRate', 'KursWaluty', 'quantity');
  if (rate !== undefined) {
    if (inv.currency === 'PLN') c.warn('exchangeRate', 'INV_EXCHANGE_RATE_IGNORED', 'the invoice is in PLN; the exchange rate was ignored', 'KursWaluty', rate);
    else if (inv.lines.length > 0) for (const l of inv.lines) l.exchangeRate ??= rate;
    else if (inv.kind === 'ZAL' || inv.kind === 'KOR_ZAL') inv.advanceExchangeRate ??= rate;
  }
  if (inv.saleDate !== undefined && inv.salePeriod) c.error('salePeriod', 'INV_CHOICE', 'give either saleDate (P_6) or salePeriod (OkresFa), not both', 'OkresFa');
  if (inv.correction && !CORRECTION_KINDS.includes(inv.kind)) {
    c.warn('correction', 'INV_CORRECTION_ON_NON_CORRECTION', `correction data belongs to a correction invoice (KOR, KOR_ZAL, KOR_ROZ), but the kind is ${inv.kind}`, 'DaneFaKorygowanej');
  }
  const seen = new Set<number>();
  inv.lines.forEach((l, idx) => {
    if (seen.has(l.lineNumber)) c.warn(`lines[${idx}].lineNumber`, 'INV_LINE_NUMBER_DUPLICATE', `line number ${l.lineNumber} appears more than once`, 'FaWiersz/NrWierszaFa');
    seen.add(l.lineNumber);
  });

  // Totals: given groups are kept as given; missing ones are computed from the lines.
  const given = totalsInput(c, i.totals);
  if (!c.hasErrors()) {
    const computed = computeTotals(inv);
    computed.valuelessLines.forEach((idx) => {
      if (!given.groups) c.error(`lines[${idx}].netAmount`, 'INV_LINE_VALUE_MISSING', 'the line has no value: give netAmount (P_11), or quantity and unitNetPrice, or grossAmount (P_11A)', 'FaWiersz/P_11');
    });
    computed.unassignedLines.forEach((idx) => {
      const l = inv.lines[idx];
      if (!given.groups && (l?.netAmount !== undefined || l?.grossAmount !== undefined || l?.unitNetPrice !== undefined)) {
        c.error(`lines[${idx}].vatRate`, 'INV_LINE_RATE_MISSING', 'the line has a value but no VAT rate (P_12); give vatRate, ossVatRate, or mark the invoice as a margin procedure', 'FaWiersz/P_12');
      }
    });
    // Fill the line values the totals were computed from, so the invoice shows them.
    for (const l of inv.lines) {
      const grossMethod = l.grossAmount !== undefined || (l.unitGrossPrice !== undefined && l.netAmount === undefined);
      if (grossMethod) {
        if (l.grossAmount === undefined && l.quantity !== undefined && l.unitGrossPrice !== undefined) {
          const q = Dec.from(l.quantity).mul(Dec.from(l.unitGrossPrice)).sub(l.discount ? Dec.from(l.discount) : Dec.ZERO);
          l.grossAmount = q.toFixed(2);
        }
      } else if (l.netAmount === undefined && l.quantity !== undefined && l.unitNetPrice !== undefined) {
        l.netAmount = Dec.from(l.quantity).mul(Dec.from(l.unitNetPrice)).sub(l.discount ? Dec.from(l.discount) : Dec.ZERO).toFixed(2);
      }
    }
    const groups: Totals['groups'] = given.groups ?? computed.totals.groups;
    if (given.groups && inv.currency !== 'PLN') {
      for (const g of VAT_GROUPS) {
        const t = groups[g];
        const cg = computed.totals.groups[g];
        if (t && t.vatPln === undefined && cg?.vatPln !== undefined && cg.vat === t.vat) t.vatPln = cg.vatPln;
      }
    }
    if (!given.groups && inv.lines.length === 0 && given.gross === undefined) {
      c.error('totals', 'INV_TOTALS_REQUIRED', 'an invoice without lines must state its totals (totals.groups and totals.gross)', 'P_15');
    }
    inv.totals = { groups, gross: given.gross ?? (given.groups ? sumGroups(groups) : computed.totals.gross) };
  }
  const invoice = compact(inv);
  return c.hasErrors() ? { issues: c.issues } : { invoice, issues: c.issues };
}

function sumGroups(groups: Totals['groups']): string {
  let t = Dec.ZERO;
  for (const g of TOTAL_GROUPS) {
    const x = groups[g];
    if (!x) continue;
    t = t.add(Dec.from(x.net));
    if (x.vat) t = t.add(Dec.from(x.vat));
  }
  return t.toFixed(2);
}
