/**
 * A double of node-rfc 3.x's Client, backed by a fake SAP system holding pending IDocs.
 * Reproduces the parts of the API the RFC source uses: `new Client(connectionParameters)`,
 * `open()`, `call(rfmName, rfmParams)`, `close()`, `alive`, `id`, and node-rfc's error
 * objects (plain objects, not Error instances): RfcLibError for connection and logon
 * problems, ABAPError for exceptions raised by the function module. Like node-rfc, CHAR
 * fields come back without trailing blanks.
 */
import type { RfcClientLike, RfcRow } from '../../src/sources/index.js';

export interface FakeIdoc {
  control: RfcRow;
  data: RfcRow[];
}

export interface RfcLibError {
  name: 'RfcLibError';
  group: number;
  code: number;
  codeString: string;
  key: string;
  message: string;
}

export interface AbapError {
  name: 'ABAPError';
  group: number;
  code: number;
  codeString: string;
  key: string;
  message: string;
  abapMsgClass: string;
  abapMsgType: string;
  abapMsgNumber: string;
  abapMsgV1: string;
  abapMsgV2: string;
  abapMsgV3: string;
  abapMsgV4: string;
}

const libError = (code: number, key: string, message: string): RfcLibError => ({ name: 'RfcLibError', group: code, code, codeString: key, key, message });

const rstrip = (row: RfcRow): RfcRow => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, typeof v === 'string' ? v.replace(/\s+$/, '') : v]));

export class FakeSap {
  readonly pending = new Map<string, FakeIdoc>();
  readonly confirmations: Array<{ DOCNUM: string; RESULT: string; TEXT: string }> = [];
  readonly calls: Array<{ fn: string; params: Record<string, unknown> }> = [];
  /** Gateway unreachable: open() and calls fail with RFC_COMMUNICATION_FAILURE. */
  down = false;
  /** Fail the next N calls of this function with a dropped connection. */
  dropNext = new Map<string, number>();
  user = 'KSEF_RFC';
  password = 'init-pass-1';
  fetchName = 'Z_KSEF_IDOC_FETCH';
  confirmName = 'Z_KSEF_IDOC_CONFIRM';
  opened = 0;
  /** Called before a function answers (tests hold calls here). */
  beforeCall: ((fn: string) => Promise<void>) | undefined;

  add(idoc: FakeIdoc): void {
    this.pending.set(String(idoc.control.DOCNUM), idoc);
  }

  /** The factory to inject: `clientFactory: sap.factory`. */
  factory = (params: Record<string, string>): RfcClientLike => new FakeClient(this, params);
}

let nextId = 1;

export class FakeClient implements RfcClientLike {
  readonly id = nextId++;
  #alive = false;
  readonly #sap: FakeSap;
  readonly #params: Record<string, string>;

  constructor(sap: FakeSap, connectionParameters: Record<string, string>) {
    this.#sap = sap;
    this.#params = { ...connectionParameters };
    const p = this.#params;
    if (!p.dest && !(p.ashost && p.sysnr && p.client)) {
      throw new TypeError('Client connection parameters missing');
    }
  }

  get alive(): boolean {
    return this.#alive;
  }

  async open(): Promise<FakeClient> {
    await Promise.resolve();
    if (this.#sap.down) {
      throw libError(1, 'RFC_COMMUNICATION_FAILURE', `\nLOCATION    CPIC (TCP/IP) on local host\nERROR       partner '${this.#params.ashost ?? this.#params.dest}:3300' not reached\n`);
    }
    if (this.#params.user !== this.#sap.user || this.#params.passwd !== this.#sap.password) {
      throw libError(2, 'RFC_LOGON_FAILURE', 'Name or password is incorrect (repeat logon)');
    }
    this.#alive = true;
    this.#sap.opened++;
    return this;
  }

  async close(): Promise<void> {
    await Promise.resolve();
    this.#alive = false;
  }

  async call(rfmName: string, rfmParams: Record<string, unknown>): Promise<Record<string, unknown>> {
    await Promise.resolve();
    const sap = this.#sap;
    if (!this.#alive) throw libError(13, 'RFC_INVALID_HANDLE', 'An invalid handle was passed to the API call');
    if (sap.down) {
      this.#alive = false;
      throw libError(1, 'RFC_COMMUNICATION_FAILURE', 'connection closed without message (CM_NO_DATA_RECEIVED)');
    }
    const drops = sap.dropNext.get(rfmName) ?? 0;
    if (drops > 0) {
      sap.dropNext.set(rfmName, drops - 1);
      this.#alive = false;
      throw libError(1, 'RFC_COMMUNICATION_FAILURE', 'connection closed without message (CM_NO_DATA_RECEIVED)');
    }
    sap.calls.push({ fn: rfmName, params: structuredClone(rfmParams) });
    if (sap.beforeCall) await sap.beforeCall(rfmName);
    if (rfmName === sap.fetchName) {
      for (const k of Object.keys(rfmParams)) {
        if (k !== 'MAX_COUNT') throw libError(20, 'RFC_INVALID_PARAMETER', `field '${k}' not found`);
      }
      const max = Number(rfmParams.MAX_COUNT ?? 0);
      const idocs = [...sap.pending.values()].slice(0, max > 0 ? max : undefined);
      return {
        IDOC_CONTROL: idocs.map((i) => rstrip(i.control)),
        IDOC_DATA: idocs.flatMap((i) => i.data.map(rstrip)),
      };
    }
    if (rfmName === sap.confirmName) {
      const rows = rfmParams.IDOC_STATUS;
      if (!Array.isArray(rows)) throw libError(20, 'RFC_INVALID_PARAMETER', "field 'IDOC_STATUS' missing");
      // confirming is idempotent (RFC.md): an IDoc confirmed twice after a lost answer is no error
      for (const r of rows as Array<{ DOCNUM: string; RESULT: string; TEXT: string }>) {
        if (!sap.pending.has(r.DOCNUM) && !sap.confirmations.some((c) => c.DOCNUM === r.DOCNUM)) {
          const e: AbapError = {
            name: 'ABAPError', group: 5, code: 5, codeString: 'RFC_ABAP_EXCEPTION', key: 'IDOC_UNKNOWN', message: 'IDOC_UNKNOWN',
            abapMsgClass: '', abapMsgType: '', abapMsgNumber: '000', abapMsgV1: r.DOCNUM, abapMsgV2: '', abapMsgV3: '', abapMsgV4: '',
          };
          throw e;
        }
      }
      for (const r of rows as Array<{ DOCNUM: string; RESULT: string; TEXT: string }>) {
        sap.pending.delete(r.DOCNUM);
        sap.confirmations.push({ ...r });
      }
      return {};
    }
    const e: AbapError = {
      name: 'ABAPError', group: 5, code: 5, codeString: 'RFC_ABAP_EXCEPTION', key: 'FU_NOT_FOUND', message: `ID:FL Type:E Number:046 ${rfmName}`,
      abapMsgClass: 'FL', abapMsgType: 'E', abapMsgNumber: '046', abapMsgV1: rfmName, abapMsgV2: '', abapMsgV3: '', abapMsgV4: '',
    };
    throw e;
  }
}
