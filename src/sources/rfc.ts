/**
 * RFC source (SAP, node-rfc, optional). node-rfc's server mode cannot acknowledge tRFC
 * IDoc transactions, so this source polls: a node-rfc Client calls a remote-enabled
 * function module that returns pending INVOIC IDocs (control and data records), each IDoc
 * becomes an IDoc flat file (EDI_DC40 524 + EDI_DD40 1063 characters a record) handed to
 * the handler, and a second function module confirms the IDocs once they are durable.
 * The function-module interface for the customer's ABAP team is in RFC.md.
 * node-rfc (and the SAP NW RFC SDK it needs) is loaded only when an RFC source is created.
 */
import { writeFile } from 'node:fs/promises';
import { ConfigError, BridgeError } from '../errors/index.js';
import { Secret } from '../log/index.js';
import { ClaimRunner, resolveDirs, Spool, type Claim } from './spool.js';
import type { CommonSourceOptions, Source, SourceHandler, SourceOrigin, SourceStatus } from './types.js';
import { backoffDelay, describeError, formatMs, Sleeper } from './util.js';

/** The part of node-rfc's `Client` this source uses (node-rfc 3.x). */
export interface RfcClientLike {
  open(): Promise<unknown>;
  call(rfmName: string, rfmParams: Record<string, unknown>, callOptions?: Record<string, unknown>): Promise<Record<string, unknown>>;
  close(): Promise<unknown>;
  readonly alive: boolean;
}

/** Creates a client from node-rfc connection parameters (`dest`, or `ashost`, `sysnr`, `client`, `user`, `passwd`, `lang`...). */
export type RfcClientFactory = (connectionParameters: Record<string, string>) => RfcClientLike;

export interface RfcSourceOptions extends CommonSourceOptions {
  /** node-rfc connection parameters; put the password in a Secret. */
  connection: Record<string, string | Secret>;
  /** Function module returning pending IDocs (default Z_KSEF_IDOC_FETCH). */
  fetchFunction?: string;
  /** Function module confirming IDocs once durable (default Z_KSEF_IDOC_CONFIRM). */
  confirmFunction?: string;
  /** IDocs per fetch (parameter MAX_COUNT, default 50). */
  maxCount?: number;
  /** Extra importing parameters of the fetch function (e.g. { MESTYP: 'INVOIC' }). */
  fetchParameters?: Record<string, string | number>;
  /** Table names in the fetch result (default IDOC_CONTROL and IDOC_DATA) and the confirm table (IDOC_STATUS). */
  tables?: { control?: string; data?: string; confirm?: string };
  /** Time between polls when nothing is pending (default 30 s; after a full batch the next fetch follows at once). */
  pollIntervalMs?: number;
  /** Local folder that holds processing/, archive/ and error/ (unless `dirs` names them). */
  localDir: string;
  /** Client factory; default node-rfc's Client. Tests inject a double here. */
  clientFactory?: RfcClientFactory;
  /** How node-rfc is imported (default `import('node-rfc')`); for tests of the install hint. */
  importModule?: (specifier: string) => Promise<unknown>;
}

/** EDI_DC40 (IDoc control record, 524 characters): field name and length, in order. */
const CONTROL_LAYOUT: ReadonlyArray<readonly [string, number]> = [
  ['TABNAM', 10], ['MANDT', 3], ['DOCNUM', 16], ['DOCREL', 4], ['STATUS', 2], ['DIRECT', 1], ['OUTMOD', 1], ['EXPRSS', 1],
  ['TEST', 1], ['IDOCTYP', 30], ['CIMTYP', 30], ['MESTYP', 30], ['MESCOD', 3], ['MESFCT', 3], ['STD', 1], ['STDVRS', 6],
  ['STDMES', 6], ['SNDPOR', 10], ['SNDPRT', 2], ['SNDPFC', 2], ['SNDPRN', 10], ['SNDSAD', 21], ['SNDLAD', 70], ['RCVPOR', 10],
  ['RCVPRT', 2], ['RCVPFC', 2], ['RCVPRN', 10], ['RCVSAD', 21], ['RCVLAD', 70], ['CREDAT', 8], ['CRETIM', 6], ['REFINT', 14],
  ['REFGRP', 14], ['REFMES', 14], ['ARCKEY', 70], ['SERIAL', 20],
];
/** EDI_DD40 (IDoc data record, 1063 characters). */
const DATA_LAYOUT: ReadonlyArray<readonly [string, number]> = [
  ['SEGNAM', 30], ['MANDT', 3], ['DOCNUM', 16], ['SEGNUM', 6], ['PSGNUM', 6], ['HLEVEL', 2], ['SDATA', 1000],
];
const NUMC = new Set(['DOCNUM', 'SEGNUM', 'PSGNUM']);

export type RfcRow = Record<string, unknown>;

function text(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  return String(v);
}

function record(row: RfcRow, layout: ReadonlyArray<readonly [string, number]>, what: string, aliases: Record<string, string> = {}): string {
  let out = '';
  for (const [field, len] of layout) {
    let v = text(row[field] ?? (aliases[field] ? row[aliases[field]!] : undefined));
    if (NUMC.has(field) && v.trim() !== '' && /^\d+$/.test(v.trim())) v = v.trim().padStart(len, '0');
    if (v.length > len) {
      if (v.slice(len).trim() !== '') {
        throw new BridgeError('RFC_IDOC_FIELD_TOO_LONG', `${what}: field ${field} has ${v.length} characters, ${len} fit`, { field, value: v.slice(0, 40) });
      }
      v = v.slice(0, len);
    }
    out += v.padEnd(len, ' ');
  }
  return out;
}

const docnumOf = (row: RfcRow): string => text(row.DOCNUM).trim().padStart(16, '0');

/**
 * Builds IDoc flat text (as a SAP file port writes it) from control and data records as
 * an RFC call returns them: EDI_DC40/EDI_DD40 rows, or EDIDC/EDIDD rows (IDOCTP is taken
 * for IDOCTYP). node-rfc strips trailing blanks; every field is padded back to its length.
 */
export function buildIdocFlat(control: RfcRow, data: readonly RfcRow[]): string {
  const docnum = docnumOf(control);
  const lines = [record({ TABNAM: 'EDI_DC40', ...control, DOCNUM: docnum }, CONTROL_LAYOUT, `IDoc ${docnum} control record`, { IDOCTYP: 'IDOCTP' })];
  const sorted = [...data].sort((a, b) => Number(text(a.SEGNUM)) - Number(text(b.SEGNUM)));
  for (const row of sorted) {
    lines.push(record({ MANDT: control.MANDT, ...row, DOCNUM: docnum }, DATA_LAYOUT, `IDoc ${docnum} segment ${text(row.SEGNUM)} ${text(row.SEGNAM)}`));
  }
  return lines.join('\n') + '\n';
}

/** node-rfc errors are plain objects: { name: 'RfcLibError' | 'ABAPError', code, key, message, ... }. */
function describeRfcError(e: unknown): string {
  if (e && typeof e === 'object') {
    const o = e as Record<string, unknown>;
    const name = typeof o.name === 'string' ? o.name : '';
    const key = typeof o.key === 'string' ? o.key : typeof o.codeString === 'string' ? o.codeString : '';
    const msg = typeof o.message === 'string' ? o.message.trim().replace(/\s+/g, ' ') : '';
    if (name || key) return [name, key].filter(Boolean).join(' ') + (msg ? `: ${msg}` : '');
  }
  return describeError(e);
}

interface NodeRfcModule {
  Client: new (connectionParameters: Record<string, string>) => RfcClientLike;
}

const INSTALL_HINT =
  'node-rfc is an optional dependency: install the SAP NW RFC SDK 7.50 (SAP Support Portal, SAP note 2573790), set SAPNWRFC_HOME ' +
  'and add its lib folder to the library path (LD_LIBRARY_PATH on Linux, PATH on Windows), then run `npm install node-rfc` in the bridge folder';

/** Loads node-rfc, or fails with what to install. */
export async function loadNodeRfc(importModule: (s: string) => Promise<unknown> = (s) => import(s)): Promise<RfcClientFactory> {
  let mod: unknown;
  try {
    mod = await importModule('node-rfc');
  } catch (e) {
    const code = e && typeof e === 'object' && 'code' in e ? String((e as { code: unknown }).code) : '';
    const missing = code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
    throw new ConfigError(
      'RFC_NODE_RFC_MISSING',
      missing
        ? 'the RFC source needs the node-rfc package, which is not installed'
        : `node-rfc is installed but could not be loaded (${describeError(e)}); the SAP NW RFC SDK libraries are probably missing`,
      { field: 'node-rfc' },
      { hint: INSTALL_HINT, cause: e },
    );
  }
  const m = mod as Partial<NodeRfcModule> & { default?: Partial<NodeRfcModule> };
  const Client = m.Client ?? m.default?.Client;
  if (typeof Client !== 'function') {
    throw new ConfigError('RFC_NODE_RFC_MISSING', 'the node-rfc module has no Client class (unsupported version?)', { field: 'node-rfc' }, { hint: INSTALL_HINT });
  }
  return (params) => new Client(params);
}

export class RfcSource implements Source {
  readonly name: string;
  readonly kind = 'rfc' as const;
  readonly #o: RfcSourceOptions;
  readonly #factory: RfcClientFactory;
  readonly #spool: Spool;
  readonly #runner: ClaimRunner;
  readonly #sleeper = new Sleeper();
  readonly #fetchFn: string;
  readonly #confirmFn: string;
  #client: RfcClientLike | undefined;
  #running = false;
  #loop: Promise<void> | undefined;
  #lastError: string | undefined;

  constructor(options: RfcSourceOptions, factory: RfcClientFactory) {
    this.#o = options;
    this.name = options.name;
    this.#factory = factory;
    this.#fetchFn = options.fetchFunction ?? 'Z_KSEF_IDOC_FETCH';
    this.#confirmFn = options.confirmFunction ?? 'Z_KSEF_IDOC_CONFIRM';
    this.#spool = new Spool(options.name, resolveDirs(options.localDir, options.dirs), options.logger);
    this.#runner = new ClaimRunner({
      source: options.name,
      route: options.route ?? options.name,
      spool: this.#spool,
      concurrency: options.concurrency ?? 4,
      backoff: options.backoff,
      logger: options.logger,
      keepMeta: true,
      onHandlerError: 'retry',
    });
  }

  get dirs() {
    return this.#spool.dirs;
  }

  #params(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(this.#o.connection)) out[k] = v instanceof Secret ? v.reveal() : v;
    return out;
  }

  #where(): string {
    const c = this.#o.connection;
    const s = (k: string) => (typeof c[k] === 'string' ? (c[k] as string) : undefined);
    return s('dest') ?? `${s('ashost') ?? s('mshost') ?? '?'}/${s('sysnr') ?? s('group') ?? ''} client ${s('client') ?? '?'}`;
  }

  async #open(): Promise<RfcClientLike> {
    if (this.#client?.alive) return this.#client;
    await this.#close();
    const client = this.#factory(this.#params());
    try {
      await client.open();
    } catch (e) {
      throw new BridgeError('RFC_CONNECT', `cannot open an RFC connection to ${this.#where()}: ${describeRfcError(e)}`, { details: this.name }, { cause: e });
    }
    this.#client = client;
    return client;
  }

  async #close(): Promise<void> {
    const c = this.#client;
    this.#client = undefined;
    if (c?.alive) await c.close().catch(() => undefined);
  }

  async #call(fn: string, params: Record<string, unknown>): Promise<Record<string, unknown>> {
    const client = await this.#open();
    try {
      return await client.call(fn, params);
    } catch (e) {
      const key = e && typeof e === 'object' && 'key' in e ? String((e as { key: unknown }).key) : '';
      const hint = key === 'FU_NOT_FOUND' || key === 'RFC_NOT_FOUND' ? ' (is the function module created and remote-enabled? see RFC.md)' : '';
      throw new BridgeError('RFC_CALL', `${fn} on ${this.#where()} failed: ${describeRfcError(e)}${hint}`, { details: this.name }, { cause: e });
    }
  }

  /** Opens a connection and calls nothing; throws what went wrong (for `test-connection`). */
  async checkConnection(): Promise<void> {
    await this.#open();
    if (!this.#running) await this.#close();
  }

  async start(handler: SourceHandler): Promise<void> {
    if (this.#running) throw new BridgeError('SOURCE_STARTED', `source ${this.name} is already running`);
    await this.#spool.open();
    this.#running = true;
    const fallback: SourceOrigin = { kind: 'rfc', docnum: '', idocType: '', messageType: '', functionModule: this.#fetchFn };
    const { claims } = await this.#spool.recover(fallback);
    this.#runner.start(handler);
    if (claims.length > 0) this.#o.logger?.info('Source %s: %d IDoc(s) left in processing/ are handled again', this.name, claims.length);
    const recovered = claims.map((c) => this.#runner.submit(c));
    this.#loop = this.#run(recovered);
  }

  async #run(recovered: Array<Promise<unknown>>): Promise<void> {
    const log = this.#o.logger;
    await Promise.all(recovered);
    let failures = 0;
    while (this.#running) {
      let delay = this.#o.pollIntervalMs ?? 30_000;
      try {
        const fetched = await this.#cycle();
        if (failures > 0) log?.info('Source %s: RFC connection to %s works again after %d failed attempt(s)', this.name, this.#where(), failures);
        failures = 0;
        this.#lastError = undefined;
        if (fetched >= (this.#o.maxCount ?? 50)) delay = 0;
      } catch (e) {
        await this.#close();
        if (!this.#running) break;
        failures++;
        this.#lastError = e instanceof BridgeError ? e.message : describeRfcError(e);
        delay = backoffDelay(failures, this.#o.backoff);
        log?.warn('Source %s: RFC attempt %d failed: %s; next attempt in %s', this.name, failures, this.#lastError, formatMs(delay));
      }
      if (this.#running && delay > 0) await this.#sleeper.sleep(delay);
    }
  }

  /** One poll: confirm what is durable, fetch pending IDocs, hand them over, confirm them. Returns IDocs fetched. */
  async #cycle(): Promise<number> {
    await this.#confirmReleased();
    const tables = this.#o.tables ?? {};
    const result = await this.#call(this.#fetchFn, { MAX_COUNT: this.#o.maxCount ?? 50, ...(this.#o.fetchParameters ?? {}) });
    const controlName = tables.control ?? 'IDOC_CONTROL';
    const dataName = tables.data ?? 'IDOC_DATA';
    const controls = result[controlName];
    const data = result[dataName] ?? [];
    if (!Array.isArray(controls) || !Array.isArray(data)) {
      throw new BridgeError('RFC_FETCH_SHAPE', `${this.#fetchFn} returned no table ${!Array.isArray(controls) ? controlName : dataName}`, {
        details: Object.keys(result),
      }, { hint: 'compare the function module with RFC.md, or set tables.control / tables.data' });
    }
    const byDoc = new Map<string, RfcRow[]>();
    for (const row of data as RfcRow[]) {
      const d = docnumOf(row);
      byDoc.set(d, [...(byDoc.get(d) ?? []), row]);
    }
    const inHand = new Set<string>();
    for (const m of await this.#spool.metas()) if (m.origin.kind === 'rfc') inHand.add(m.origin.docnum);
    const runs: Array<Promise<unknown>> = [];
    for (const control of controls as RfcRow[]) {
      if (!this.#running) break;
      const docnum = docnumOf(control);
      if (inHand.has(docnum)) {
        this.#o.logger?.debug('Source %s: IDoc %s is already taken, waiting for its confirmation', this.name, docnum);
        continue;
      }
      inHand.add(docnum);
      const flat = buildIdocFlat(control, byDoc.get(docnum) ?? []);
      const { id, partPath } = this.#spool.newPart(`${docnum}.idoc`);
      await writeFile(partPath, flat, 'utf8');
      const origin: SourceOrigin = {
        kind: 'rfc',
        docnum,
        idocType: text(control.IDOCTYP ?? control.IDOCTP).trim(),
        messageType: text(control.MESTYP).trim(),
        functionModule: this.#fetchFn,
      };
      const claim: Claim = await this.#spool.admit(id, partPath, origin, { docnum });
      this.#o.logger?.info('Source %s: took IDoc %s (%s, %d segments)', this.name, docnum, origin.messageType || origin.idocType, byDoc.get(docnum)?.length ?? 0);
      runs.push(this.#runner.submit(claim));
    }
    await Promise.all(runs);
    await this.#confirmReleased();
    return controls.length;
  }

  /** Confirms IDocs whose documents are durable (archived or in error/ with a report). */
  async #confirmReleased(): Promise<void> {
    const released = (await this.#spool.released()).filter((r) => r.origin.kind === 'rfc' && r.origin.docnum);
    if (released.length === 0) return;
    const rows = released.map((r) => ({
      DOCNUM: (r.origin as { docnum: string }).docnum,
      RESULT: r.outcome === 'done' ? 'OK' : 'ERROR',
      TEXT: r.outcome === 'done' ? 'stored by ksef-bridge' : firstLine(r.report),
    }));
    await this.#call(this.#confirmFn, { [this.#o.tables?.confirm ?? 'IDOC_STATUS']: rows });
    for (const r of released) await this.#spool.forget(r.id);
    this.#o.logger?.info('Source %s: confirmed %d IDoc(s) to SAP: %s', this.name, rows.length, rows.map((r) => `${r.DOCNUM} ${r.RESULT}`).join(', '));
  }

  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    this.#sleeper.wake();
    await this.#runner.stop();
    await this.#loop;
    await this.#close();
    await this.#spool.close();
  }

  status(): SourceStatus {
    return {
      name: this.name,
      kind: this.kind,
      running: this.#running,
      inFlight: this.#runner.inFlight,
      ...(this.#lastError !== undefined ? { lastError: this.#lastError } : {}),
    };
  }
}

function firstLine(report: string | undefined): string {
  const line = (report ?? 'rejected by ksef-bridge').split('\n').find((l) => l.trim() !== '') ?? 'rejected by ksef-bridge';
  return line.trim().slice(0, 255);
}

/** Creates an RFC source; loads node-rfc unless a client factory is given. */
export async function createRfcSource(options: RfcSourceOptions): Promise<RfcSource> {
  const factory = options.clientFactory ?? (await loadNodeRfc(options.importModule));
  return new RfcSource(options, factory);
}

