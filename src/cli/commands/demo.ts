/**
 * `ksef-bridge demo` (npm run demo): the whole bridge on this machine with no configuration and no network. Starts
 * the KSeF emulator in this process, writes a demo ksef.ini and routes into a fresh demo-run/ folder, starts the
 * bridge, drops the shipped sample exports of each kind (CSV, IDoc flat, IDoc-XML over HTTP, XML) and one broken
 * file, and tells a newcomer what happens to each. Ends by itself (or on Ctrl-C) and leaves everything on disk.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { EXIT, type ExitCode } from '../exit-codes.js';
import type { Io } from '../shared.js';

export interface DemoCommandOptions {
  /** Folder to run in (default ./demo-run); emptied first. */
  dir?: string;
  /** Longest wait for one step (default 60 s). */
  stepTimeoutMs?: number;
  /** Pause between steps so a person can read (default 300 ms). */
  pauseMs?: number;
}

const NIP = '5260181596';
const TOKEN = 'demo-ksef-token-5260181596-0123456789abcdef';

interface Step {
  title: string;
  route: string;
  sample: string;
  via: 'folder' | 'http';
  /** Name as dropped (the ERP's name). */
  as: string;
}

const STEPS: Step[] = [
  { title: 'A Polish ERP drops a CSV export (Windows-1250, 4 invoices)', route: 'erp-csv', sample: 'generic-csv/faktury-2026-02.csv', via: 'folder', as: 'faktury-2026-02.csv' },
  { title: 'SAP writes INVOIC02 IDocs to its file port (IDoc flat, 2 invoices)', route: 'sap-idoc', sample: 'sap-invoic02/invoice-pln.idoc', via: 'folder', as: 'invoic02-0090012345.idoc' },
  { title: "SAP's XML-HTTP port posts an IDoc-XML (2 invoices in EUR)", route: 'sap-http', sample: 'sap-invoic02/invoice-eur.xml', via: 'http', as: 'invoice-eur.xml' },
  { title: 'Another ERP drops its own XML export (2 invoices)', route: 'erp-xml', sample: 'generic-xml/eksport-2026-04.xml', via: 'folder', as: 'eksport-2026-04.xml' },
  { title: 'A broken CSV export arrives (5 invoices, 4 with mistakes)', route: 'erp-csv', sample: 'generic-csv/bledy.csv', via: 'folder', as: 'faktury-bledne.csv' },
];

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A path as the newcomer sees it: relative to the current folder, else from the demo folder's name. */
function relTo(base: string, p: string): string {
  const r = path.relative(process.cwd(), p);
  if (r && !r.startsWith('..') && !path.isAbsolute(r)) return r;
  return path.relative(path.dirname(base), p);
}

/** A problem in a few words: no invoice prefix, no mapping position, no list of allowed values. */
function short(message: string): string {
  const m = message.replace(/^invoice [^,]+, /, '').replace(/ \(mapping [^)]*\)$/, '').replace(/ \([^()]{25,}\)/g, '');
  return m.length > 60 ? `${m.slice(0, 59)}…` : m;
}

function fill(text: string, values: Record<string, string>): string {
  return text.replace(/\{\{(\w+)\}\}/g, (_, k: string) => values[k] ?? '');
}

export async function runDemo(opts: DemoCommandOptions, io: Io): Promise<ExitCode> {
  const [{ startEmulator }, { startBridge }, { PROJECT_ROOT }] = await Promise.all([import('../../emulator/index.js'), import('../../bridge/index.js'), import('../../schemas/index.js')]);
  const dir = path.resolve(opts.dir ?? 'demo-run');
  const stepTimeout = opts.stepTimeoutMs ?? 60_000;
  const pause = opts.pauseMs ?? 300;
  const say = (line = ''): void => io.out(line);
  const rel = (p: string): string => relTo(dir, p);
  const row = (label: string, text: string): void => say(`   ${label.padEnd(10)} ${text}`);

  say('ksef-bridge demo: ERP exports to KSeF 2.0, end to end, on this machine (no network).');
  say('');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(path.join(dir, 'data'), { recursive: true });

  let stopRequested = false;
  const onSigint = (): void => {
    stopRequested = true;
  };
  process.once('SIGINT', onSigint);

  const emulator = await startEmulator({ tokens: [{ nip: NIP, token: TOKEN }], logger: null, dbPath: path.join(dir, 'data', 'emulator.sqlite') });
  let bridge: Awaited<ReturnType<typeof startBridge>> | undefined;
  try {
    const values = { nip: NIP, token: TOKEN, emulatorUrl: `${emulator.url}/v2`, console: 'off', root: PROJECT_ROOT };
    const iniFile = path.join(dir, 'ksef.ini');
    writeFileSync(iniFile, fill(readFileSync(path.join(PROJECT_ROOT, 'config', 'demo', 'ksef.ini.template'), 'utf8'), values), { mode: 0o600 });
    writeFileSync(path.join(dir, 'routes.yaml'), fill(readFileSync(path.join(PROJECT_ROOT, 'config', 'demo', 'routes.yaml'), 'utf8'), values));

    const mapped = new Map<string, { invoices: number; stored: number; rejected: { key: string; line?: number; code: string; message: string }[] }>();
    bridge = await startBridge({
      config: iniFile,
      log: { console: 'off' },
      dispatchIntervalMs: 200,
      resultsIntervalMs: 200,
      onEvent: (e) => {
        if (e.type === 'file-mapped') mapped.set(`${e.route}/${e.file}`, { invoices: e.invoices, stored: e.stored, rejected: e.rejected });
      },
    });
    const b = bridge;
    const store = b.store;
    const http = b.httpAddress('sap-http');

    say(`Set up in ${rel(dir)}/`);
    row('emulator', `KSeF 2.0 emulator at ${emulator.url}/v2 (seller NIP ${NIP})`);
    row('config', `${rel(iniFile)}, ${rel(path.join(dir, 'routes.yaml'))}`);
    const origins = b.routes.routes.map((r) => {
      const s = r.source;
      return s.kind === 'folder' ? rel(s.inbox) + '/' : s.kind === 'http' ? `http://127.0.0.1:${http?.port ?? '?'}/sap/idoc` : s.kind;
    });
    const width = Math.max(...origins.map((o) => o.length));
    b.routes.routes.forEach((r, i) => {
      row(i === 0 ? 'routes' : '', `${r.name.padEnd(9)} ${origins[i]!.padEnd(width)}  mapping ${path.basename(r.mapping)}`);
    });
    say('');

    const fileRow = store.db.prepare('SELECT * FROM bridge_files WHERE route = ? AND name = ? ORDER BY id DESC LIMIT 1');
    const invoicesOf = store.db.prepare(
      `SELECT i.invoice_key AS key, i.error_message AS err, d.id, d.state, d.ksef_number AS ksef, d.session_ref AS session FROM bridge_invoices i LEFT JOIN documents d ON d.id = i.document_id WHERE i.file_id = ? ORDER BY i.position`,
    );
    interface Inv {
      key: string;
      err: string | null;
      id: number | null;
      state: string | null;
      ksef: string | null;
      session: string | null;
    }
    interface FileRec {
      id: number;
      outcome: string;
      name: string;
      results_name: string | null;
      results_written: number;
      results_version: number;
    }

    let n = 0;
    const allKsef: string[] = [];
    for (const step of STEPS) {
      if (stopRequested) break;
      n++;
      const route = b.routes.routes.find((r) => r.name === step.route)!;
      say(`${n}. ${step.title}`);
      const sample = path.join(PROJECT_ROOT, 'mappings', 'tests', step.sample);
      if (step.via === 'folder' && route.source.kind === 'folder') {
        mkdirSync(route.source.inbox, { recursive: true });
        const tmp = path.join(route.source.inbox, `.${step.as}.tmp`);
        copyFileSync(sample, tmp);
        const { renameSync } = await import('node:fs');
        renameSync(tmp, path.join(route.source.inbox, step.as));
        row('dropped', `${rel(path.join(route.source.inbox, step.as))}`);
      } else {
        const res = await fetch(`http://127.0.0.1:${http!.port}/sap/idoc?filename=${encodeURIComponent(step.as)}`, {
          method: 'POST',
          headers: { 'content-type': 'application/xml', authorization: `Basic ${Buffer.from('sap:demo-password-123').toString('base64')}` },
          body: readFileSync(sample),
        });
        row('posted', `POST /sap/idoc -> ${res.status} ${res.status === 200 ? '(stored durably before the answer)' : await res.text()}`);
      }
      // wait: file handled, every invoice final with its UPO, results written
      const deadline = Date.now() + stepTimeout;
      let file: FileRec | undefined;
      let invs: Inv[] = [];
      let announced = false;
      for (;;) {
        if (stopRequested) break;
        file = (fileRow.get(step.route, step.as) as FileRec | undefined) ?? (fileRow.get(step.route, path.basename(step.as)) as FileRec | undefined);
        if (!file) {
          // HTTP intake names the claim itself: take the newest file of the route
          file = store.db.prepare('SELECT * FROM bridge_files WHERE route = ? ORDER BY id DESC LIMIT 1').get(step.route) as FileRec | undefined;
          if (file && step.via === 'folder') file = undefined;
        }
        if (file && !announced) {
          announced = true;
          const m = [...mapped.entries()].find(([k]) => k.startsWith(`${step.route}/`) && (k.endsWith(step.as) || step.via === 'http'))?.[1];
          if (m) {
            row('mapped', `${m.invoices} invoices read, ${m.stored} valid FA(3) (XSD and semantic rules)${m.rejected.length ? `, ${m.rejected.length} rejected` : ''}`);
            for (const r of m.rejected) row('', `x ${r.key}: ${short(r.message)}`);
          }
        }
        if (file) {
          invs = invoicesOf.all(file.id) as Inv[];
          const done = invs.every((i) => i.id === null || i.state === 'confirmed' || i.state === 'rejected' || i.state === 'invalid');
          const followed = Number(store.checkpoints.get('bridge.events')?.value ?? 0) >= ((store.db.prepare('SELECT MAX(id) AS m FROM document_events').get() as { m: number | null }).m ?? 0);
          const fresh = fileRow.get(step.route, file.name) as FileRec | undefined;
          if (fresh) file = fresh;
          if (done && followed && file.results_written >= file.results_version && file.results_version > 0 && b.snapshot().inFlight === 0) break;
        }
        if (Date.now() > deadline) {
          row('waiting', 'this step takes longer than expected; the demo goes on (see demo-run/data/ksef-bridge.log)');
          break;
        }
        await sleep(100);
      }
      if (!file) continue;
      const sent = invs.filter((i) => i.id !== null);
      const sessions = new Map<string, number>();
      for (const i of sent) if (i.session) sessions.set(i.session, (sessions.get(i.session) ?? 0) + 1);
      for (const [ref, count] of sessions) {
        const kind = store.sessions.get(ref)?.kind === 'batch' ? 'batch session' : 'interactive session';
        row('sent', `${count} invoice${count === 1 ? '' : 's'} in ${kind === 'batch session' ? 'one ' : 'an '}${kind} ${ref}`);
      }
      for (const i of sent) {
        if (i.ksef) {
          allKsef.push(i.ksef);
          row('accepted', `${i.key.padEnd(17)} KSeF ${i.ksef}`);
        } else row(i.state ?? '?', `${i.key}`);
      }
      const confirmed = sent.filter((i) => i.state === 'confirmed').length;
      if (sent.length) row('UPO', `${confirmed} of ${sent.length} confirmed by KSeF's official receipt (UPO)`);
      if (route.results?.target.kind === 'folder' && file.results_name) row('results', rel(path.join(route.results.target.dir, file.results_name)));
      if (file.outcome === 'failed') {
        const errFile = path.join(route.dirs.error, `${file.name}.error.txt`);
        row('error', `${rel(path.join(route.dirs.error, file.name))} (the valid invoice went on)`);
        row('', `${rel(existsSync(errFile) ? errFile : route.dirs.error + '/')} explains each rejected record`);
      } else row('archived', `${rel(route.dirs.archive)}/<today>/${file.name}`);
      say('');
      await sleep(pause);
    }

    say('Where everything is');
    const where: [string, string][] = [
      ['results for the ERP', `${rel(path.join(dir, 'results'))}/<route>/ (*.result.csv/.xml/.json, UPO_*.xml)`],
      ['archived exports', `${rel(path.join(dir, 'archive'))}/<route>/<date>/`],
      ['rejected exports', `${rel(path.join(dir, 'error'))}/<route>/ (with <file>.error.txt)`],
      ['database', rel(b.config.paths.database)],
      ['log', rel(path.join(dir, 'data', 'ksef-bridge.log'))],
    ];
    for (const [k, v] of where) say(`   ${k.padEnd(20)} ${v}`);
    if (allKsef[0]) {
      say('');
      say("One invoice's whole story (source file, mapping, FA(3), states, session, UPO):");
      say(`   node bin/ksef-bridge.js -c ${rel(iniFile)} status ${allKsef[0]}`);
    }
    say('');
    const counts = b.snapshot().documents;
    say(`Done: ${allKsef.length} invoices accepted by the emulator${counts.rejected ? `, ${counts.rejected} rejected` : ''}; ${STEPS.length - (stopRequested ? STEPS.length - n : 0)} exports handled.`);
    return EXIT.OK;
  } catch (e) {
    io.err(`ksef-bridge demo failed: ${(e as Error).message}`);
    return EXIT.INTERNAL;
  } finally {
    process.off('SIGINT', onSigint);
    await bridge?.stop().catch(() => undefined);
    await emulator.close().catch(() => undefined);
    void readdirSync;
  }
}
