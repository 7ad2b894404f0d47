/**
 * The routes file (YAML): which sources feed which mapping, and where results go. Checked against its schema with
 * every problem reported at once, each naming the file, line and key (yaml's LineCounter, as the mapping loader).
 * Relative paths are relative to the routes file's folder.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node as YamlNode, type Pair, type YAMLMap } from 'yaml';
import { parseDuration, type BridgeConfig } from '../config/index.js';
import { ConfigError } from '../errors/index.js';
import { Secret } from '../log/index.js';
import { PROJECT_ROOT } from '../schemas/index.js';

export type ResultFormat = 'csv' | 'json' | 'xml';

export interface FolderRouteSource {
  kind: 'folder';
  inbox: string;
  include?: string[];
  exclude?: string[];
  stableMs?: number;
  trigger?: { suffix: string; mode?: 'append' | 'replace' };
  rescanMs?: number;
  watch?: 'native' | 'chokidar' | 'poll';
}

export interface SftpConnection {
  host: string;
  port: number;
  username: string;
  password?: Secret;
  privateKeyPath?: string;
  passphrase?: Secret;
  hostKeySha256?: string;
  acceptNewHostKey?: boolean;
}

export interface SftpRouteSource extends SftpConnection {
  kind: 'sftp';
  remoteDir: string;
  remoteArchiveDir?: string;
  remoteErrorDir?: string;
  include?: string[];
  exclude?: string[];
  trigger?: { suffix: string; mode?: 'append' | 'replace' };
  stableMs?: number;
  pollMs?: number;
}

export interface HttpRouteSource {
  kind: 'http';
  host: string;
  port: number;
  users: { username: string; password: Secret }[];
  /** This route takes what SAP's XML-HTTP port posts to /sap/idoc. */
  idoc: boolean;
  maxBodyBytes?: number;
}

export interface RfcRouteSource {
  kind: 'rfc';
  connection: Record<string, string | Secret>;
  fetchFunction?: string;
  confirmFunction?: string;
  maxCount?: number;
  pollMs?: number;
}

export type RouteSource = FolderRouteSource | SftpRouteSource | HttpRouteSource | RfcRouteSource;

export interface RouteResults {
  /** Template file (csv/json/xml shipped in templates/results, or a path). */
  template: string;
  /** Format of the template (decides escaping and the file extension). */
  format: ResultFormat;
  /** Local folder, or a remote folder on the route's SFTP server. */
  target: { kind: 'folder'; dir: string } | { kind: 'sftp'; remoteDir: string; connection: SftpConnection };
  /** Write the UPO XML files next to the results (default true). */
  upo: boolean;
}

export interface RouteConfig {
  name: string;
  /** Line of the route in the routes file. */
  line: number;
  source: RouteSource;
  /** Absolute path of the mapping file. */
  mapping: string;
  /** The company (NIP) whose invoices the route carries: config.seller.nip for the mapping. */
  sellerNip: string;
  /** Extra mapping variables (config.*). */
  variables: Record<string, unknown>;
  /** Local folders: processing (claims), archive (dated), error (with reports). */
  dirs: { processing: string; archive: string; error: string };
  concurrency?: number;
  results?: RouteResults;
}

export interface RoutesFile {
  file: string;
  routes: RouteConfig[];
}

/** The folder of the shipped result templates. */
export function templatesDir(): string {
  return path.join(PROJECT_ROOT, 'templates', 'results');
}

/** Where the routes file is when ksef.ini does not name one: routes.yaml, else config/routes.yaml, next to ksef.ini. */
export function defaultRoutesFile(configFile: string): string {
  const dir = path.dirname(configFile);
  const candidates = [path.join(dir, 'routes.yaml'), path.join(dir, 'config', 'routes.yaml')];
  return candidates.find((c) => existsSync(c)) ?? candidates[0]!;
}

class RoutesReader {
  readonly problems: ConfigError[] = [];
  constructor(
    readonly lc: LineCounter,
    readonly file: string,
    readonly env: Readonly<Record<string, string | undefined>>,
  ) {}

  line(n: YamlNode | null | undefined): number {
    return this.lc.linePos(n?.range?.[0] ?? 0).line;
  }

  problem(n: YamlNode | null | undefined, key: string, message: string, o: { value?: string; allowed?: string; hint?: string } = {}): void {
    const p = this.lc.linePos(n?.range?.[0] ?? 0);
    this.problems.push(
      new ConfigError('CONFIG_ROUTES_INVALID', message, { file: this.file, line: p.line, column: p.col, field: key, ...(o.value !== undefined ? { value: o.value } : {}), ...(o.allowed ? { allowed: o.allowed } : {}) }, o.hint ? { hint: o.hint } : {}),
    );
  }

  /** The pairs of a map, unknown keys reported. */
  pairs(n: YamlNode | null | undefined, where: string, known: readonly string[]): Map<string, Pair<YamlNode, YamlNode>> | undefined {
    if (!isMap(n)) {
      this.problem(n, where, `${where} must be a map of keys and values`);
      return undefined;
    }
    const out = new Map<string, Pair<YamlNode, YamlNode>>();
    for (const p of (n as YAMLMap<YamlNode, YamlNode>).items) {
      const k = isScalar(p.key) ? String(p.key.value) : undefined;
      if (k === undefined) {
        this.problem(p.key, where, `${where}: keys must be plain names`);
        continue;
      }
      if (!known.includes(k)) {
        const close = known.find((c) => c.toLowerCase() === k.toLowerCase() || levenshtein(c, k) <= 2);
        this.problem(p.key, `${where}.${k}`, `${where}: unknown key ${k}${close ? `; did you mean ${close}?` : ''}`, { allowed: known.join(', ') });
        continue;
      }
      out.set(k, p);
    }
    return out;
  }

  str(m: Map<string, Pair<YamlNode, YamlNode>>, key: string, where: string, required = false): string | undefined {
    const p = m.get(key);
    if (!p) {
      if (required) this.problem(null, `${where}.${key}`, `${where}: ${key} is missing`);
      return undefined;
    }
    const v = p.value;
    if (!isScalar(v) || v.value === null || typeof v.value === 'object' || String(v.value).trim() === '') {
      this.problem(v ?? p.key, `${where}.${key}`, `${where}: ${key} must be a non-empty text`);
      return undefined;
    }
    return String(v.value);
  }

  bool(m: Map<string, Pair<YamlNode, YamlNode>>, key: string, where: string): boolean | undefined {
    const p = m.get(key);
    if (!p) return undefined;
    if (!isScalar(p.value) || typeof p.value.value !== 'boolean') {
      this.problem(p.value ?? p.key, `${where}.${key}`, `${where}: ${key} must be true or false`);
      return undefined;
    }
    return p.value.value;
  }

  int(m: Map<string, Pair<YamlNode, YamlNode>>, key: string, where: string, min: number, max: number): number | undefined {
    const p = m.get(key);
    if (!p) return undefined;
    const v = isScalar(p.value) ? Number(p.value.value) : NaN;
    if (!Number.isInteger(v) || v < min || v > max) {
      this.problem(p.value ?? p.key, `${where}.${key}`, `${where}: ${key} must be a whole number from ${min} to ${max}`, { value: isScalar(p.value) ? String(p.value.value) : undefined });
      return undefined;
    }
    return v;
  }

  duration(m: Map<string, Pair<YamlNode, YamlNode>>, key: string, where: string): number | undefined {
    const p = m.get(key);
    if (!p) return undefined;
    const text = isScalar(p.value) ? String(p.value.value) : '';
    const d = parseDuration(text);
    if (!d.ok) {
      this.problem(p.value ?? p.key, `${where}.${key}`, `${where}: ${key} ${JSON.stringify(text)} is not a duration: ${d.reason}`, { value: text, allowed: 'e.g. 500ms, 2s, 5m' });
      return undefined;
    }
    return d.value;
  }

  list(m: Map<string, Pair<YamlNode, YamlNode>>, key: string, where: string): string[] | undefined {
    const p = m.get(key);
    if (!p) return undefined;
    if (isScalar(p.value) && typeof p.value.value === 'string') return [p.value.value];
    if (!isSeq(p.value) || !p.value.items.every((i) => isScalar(i) && typeof i.value === 'string')) {
      this.problem(p.value ?? p.key, `${where}.${key}`, `${where}: ${key} must be a list of name patterns, e.g. ["*.csv"]`);
      return undefined;
    }
    return p.value.items.map((i) => String((i as { value: unknown }).value));
  }

  /** A secret given as `<key>` (inline), `<key>_env` (environment variable) or `<key>_file`. */
  secret(m: Map<string, Pair<YamlNode, YamlNode>>, key: string, where: string, baseDir: string): Secret | undefined {
    const inline = this.str(m, key, where);
    const envName = this.str(m, `${key}_env`, where);
    const file = this.str(m, `${key}_file`, where);
    const given = [inline, envName, file].filter((x) => x !== undefined).length;
    if (given > 1) {
      this.problem(m.get(key)?.key ?? m.get(`${key}_env`)?.key, `${where}.${key}`, `${where}: give ${key} one way only (${key}, ${key}_env or ${key}_file)`);
      return undefined;
    }
    if (inline !== undefined) return new Secret(inline);
    if (envName !== undefined) {
      const v = this.env[envName];
      if (v === undefined || v === '') {
        this.problem(m.get(`${key}_env`)!.value, `${where}.${key}_env`, `${where}: the environment variable ${envName} (${key}_env) is not set`, { value: envName });
        return undefined;
      }
      return new Secret(v);
    }
    if (file !== undefined) {
      const f = path.resolve(baseDir, file);
      try {
        return new Secret(readFileSync(f, 'utf8').trim());
      } catch (e) {
        this.problem(m.get(`${key}_file`)!.value, `${where}.${key}_file`, `${where}: cannot read ${f} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { value: file });
        return undefined;
      }
    }
    return undefined;
  }
}

function levenshtein(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) for (let j = 1; j <= b.length; j++) d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
  return d[a.length]![b.length]!;
}

const ROUTE_KEYS = ['name', 'source', 'mapping', 'company', 'variables', 'archive', 'error', 'processing', 'concurrency', 'results'] as const;
const SOURCE_KEYS: Record<RouteSource['kind'], readonly string[]> = {
  folder: ['kind', 'inbox', 'include', 'exclude', 'stable', 'trigger', 'trigger_mode', 'rescan', 'watch'],
  sftp: [
    'kind', 'host', 'port', 'username', 'password', 'password_env', 'password_file', 'private_key', 'passphrase', 'passphrase_env', 'passphrase_file',
    'host_key', 'accept_new_host_key', 'remote_dir', 'remote_archive', 'remote_error', 'include', 'exclude', 'trigger', 'trigger_mode', 'stable', 'poll',
  ],
  http: ['kind', 'host', 'port', 'username', 'password', 'password_env', 'password_file', 'idoc', 'max_body'],
  rfc: ['kind', 'connection', 'fetch_function', 'confirm_function', 'max_count', 'poll'],
};
const RESULT_KEYS = ['template', 'folder', 'remote_dir', 'upo'] as const;
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export interface LoadRoutesOptions {
  env?: Readonly<Record<string, string | undefined>>;
}

/** Reads and checks the routes file against the loaded ksef.ini (companies, paths). Throws one ConfigError listing every problem. */
export function loadRoutes(file: string, config: BridgeConfig, o: LoadRoutesOptions = {}): RoutesFile {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (e) {
    throw new ConfigError('CONFIG_ROUTES_MISSING', `cannot read the routes file ${abs} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { file: abs }, {
      hint: 'create it from config/routes.example.yaml, or name another file with --routes <file>',
    });
  }
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const r = new RoutesReader(lc, abs, o.env ?? process.env);
  for (const e of doc.errors) {
    const p = lc.linePos(e.pos[0]);
    r.problems.push(new ConfigError('CONFIG_ROUTES_YAML', `YAML: ${e.message.split('\n')[0]}`, { file: abs, line: p.line, column: p.col }));
  }
  const routes: RouteConfig[] = [];
  if (doc.errors.length === 0) {
    const top = r.pairs(doc.contents as YamlNode, 'routes file', ['routes']);
    const list = top?.get('routes')?.value;
    if (top && !isSeq(list)) r.problem(list ?? (doc.contents as YamlNode), 'routes', 'the routes file needs `routes:`, a list of routes');
    else if (isSeq(list)) {
      if (list.items.length === 0) r.problem(list, 'routes', 'routes: the list is empty; describe at least one route');
      const seen = new Map<string, number>();
      list.items.forEach((item, i) => {
        const route = readRoute(r, item as YamlNode, i, config, path.dirname(abs));
        if (!route) return;
        const first = seen.get(route.name);
        if (first !== undefined) r.problem(item as YamlNode, 'name', `route name ${route.name} is used twice (first on line ${first}); names must be unique`);
        else seen.set(route.name, route.line);
        routes.push(route);
      });
      checkShared(r, routes, list.items as YamlNode[]);
    }
  }
  if (r.problems.length > 0) {
    const lines = r.problems.map((p) => `  - ${p.describe().replace(/\n/g, '\n    ')}`).join('\n');
    throw Object.assign(
      new ConfigError('CONFIG_ROUTES_INVALID', `${abs}: ${r.problems.length} problem${r.problems.length === 1 ? '' : 's'} in the routes:\n${lines}`, { file: abs, line: r.problems[0]!.context.line }, {
        hint: 'config/routes.example.yaml documents every key',
      }),
      { problems: r.problems },
    );
  }
  return { file: abs, routes };
}

function checkShared(r: RoutesReader, routes: RouteConfig[], items: YamlNode[]): void {
  const inboxes = new Map<string, string>();
  const idocPorts = new Map<number, string>();
  routes.forEach((route, i) => {
    const s = route.source;
    if (s.kind === 'folder') {
      const other = inboxes.get(s.inbox);
      if (other) r.problem(items[i], `${route.name}.source.inbox`, `route ${route.name} watches the same inbox as route ${other} (${s.inbox}); give each route its own`);
      inboxes.set(s.inbox, route.name);
    }
    if (s.kind === 'http' && s.idoc) {
      const other = idocPorts.get(s.port);
      if (other) r.problem(items[i], `${route.name}.source.idoc`, `routes ${other} and ${route.name} both take IDoc-XML on port ${s.port}; only one route per port can`);
      idocPorts.set(s.port, route.name);
    }
  });
}

function readRoute(r: RoutesReader, node: YamlNode, index: number, config: BridgeConfig, baseDir: string): RouteConfig | undefined {
  const before = r.problems.length;
  const where0 = `routes[${index}]`;
  const m = r.pairs(node, where0, ROUTE_KEYS);
  if (!m) return undefined;
  const name = r.str(m, 'name', where0, true);
  if (name !== undefined && !NAME_RE.test(name)) {
    r.problem(m.get('name')!.value, `${where0}.name`, `${where0}: route name ${JSON.stringify(name)} may hold letters, digits, - and _ only (it names folders)`, { value: name });
  }
  const where = name ? `route ${name}` : where0;
  const rname = name ?? `route${index + 1}`;

  // company
  let sellerNip = config.companies[0]?.nip ?? '';
  const company = r.str(m, 'company', where);
  if (company !== undefined) {
    const c = config.companies.find((x) => x.name === company || x.nip === company.replace(/[-\s]/g, ''));
    if (!c) r.problem(m.get('company')!.value, `${where}.company`, `${where}: no company ${JSON.stringify(company)} in ksef.ini`, { value: company, allowed: config.companies.map((x) => `${x.name} (${x.nip})`).join(', ') });
    else sellerNip = c.nip;
  }

  // mapping
  let mapping = '';
  const mappingText = r.str(m, 'mapping', where, true);
  if (mappingText !== undefined) {
    mapping = path.resolve(baseDir, mappingText);
    if (!existsSync(mapping)) r.problem(m.get('mapping')!.value, `${where}.mapping`, `${where}: mapping file ${mapping} does not exist`, { value: mappingText });
  }

  let variables: Record<string, unknown> = {};
  const vp = m.get('variables');
  if (vp) {
    if (!isMap(vp.value)) r.problem(vp.value ?? vp.key, `${where}.variables`, `${where}: variables must be a map (they are config.* in the mapping)`);
    else variables = (vp.value.toJSON() ?? {}) as Record<string, unknown>;
  }

  const concurrency = r.int(m, 'concurrency', where, 1, 64);
  const routeDir = (key: 'archive' | 'error' | 'processing', fallback: string): string => {
    const t = r.str(m, key, where);
    return t !== undefined ? path.resolve(baseDir, t) : fallback;
  };
  const dirs = {
    processing: routeDir('processing', path.join(config.paths.dataDir, 'processing', rname)),
    archive: routeDir('archive', path.join(config.paths.archive, rname)),
    error: routeDir('error', path.join(config.paths.error, rname)),
  };

  // source
  let source: RouteSource | undefined;
  const sp = m.get('source');
  if (!sp) r.problem(node, `${where}.source`, `${where}: source is missing (kind: folder, sftp, http or rfc)`);
  else source = readSource(r, sp.value, where, rname, config, baseDir);

  // results
  let results: RouteResults | undefined;
  const rp = m.get('results');
  if (rp) results = readResults(r, rp.value, where, source, baseDir);

  if (r.problems.length > before || !source) return undefined;
  return {
    name: rname,
    line: r.line(node),
    source,
    mapping,
    sellerNip,
    variables,
    dirs,
    ...(concurrency !== undefined ? { concurrency } : {}),
    ...(results ? { results } : {}),
  };
}

function readTrigger(r: RoutesReader, s: Map<string, Pair<YamlNode, YamlNode>>, w: string): { suffix: string; mode?: 'append' | 'replace' } | undefined {
  const suffix = r.str(s, 'trigger', w);
  if (suffix === undefined) return undefined;
  const mode = r.str(s, 'trigger_mode', w);
  if (mode !== undefined && mode !== 'append' && mode !== 'replace') r.problem(s.get('trigger_mode')!.value, `${w}.trigger_mode`, `${w}: trigger_mode must be append or replace`, { value: mode });
  return { suffix, ...(mode === 'append' || mode === 'replace' ? { mode } : {}) };
}

function readConnection(r: RoutesReader, s: Map<string, Pair<YamlNode, YamlNode>>, w: string, baseDir: string): SftpConnection | undefined {
  const host = r.str(s, 'host', w, true);
  const username = r.str(s, 'username', w, true);
  const port = r.int(s, 'port', w, 1, 65535) ?? 22;
  const password = r.secret(s, 'password', w, baseDir);
  const key = r.str(s, 'private_key', w);
  const passphrase = r.secret(s, 'passphrase', w, baseDir);
  const hostKey = r.str(s, 'host_key', w);
  const acceptNew = r.bool(s, 'accept_new_host_key', w);
  if (!password && key === undefined && !s.has('password') && !s.has('password_env') && !s.has('password_file')) {
    r.problem(s.get('host')?.key, `${w}.password`, `${w}: give password (password_env, password_file) or private_key`);
  }
  if (hostKey === undefined && acceptNew !== true) {
    r.problem(s.get('host')?.key, `${w}.host_key`, `${w}: host_key is missing: pin the server's key ("SHA256:..." as ssh-keygen -lf prints it)`, {
      hint: 'or set accept_new_host_key: true once; the bridge logs the fingerprint it found',
    });
  }
  if (hostKey !== undefined && !/^(SHA256:)?[A-Za-z0-9+/]{43}=?$/.test(hostKey)) {
    r.problem(s.get('host_key')!.value, `${w}.host_key`, `${w}: host_key ${JSON.stringify(hostKey)} is not a SHA256 fingerprint`, { value: hostKey, allowed: 'SHA256: and 43 base64 characters' });
  }
  if (!host || !username) return undefined;
  return {
    host,
    port,
    username,
    ...(password ? { password } : {}),
    ...(key !== undefined ? { privateKeyPath: path.resolve(baseDir, key) } : {}),
    ...(passphrase ? { passphrase } : {}),
    ...(hostKey !== undefined ? { hostKeySha256: hostKey } : {}),
    ...(acceptNew ? { acceptNewHostKey: true } : {}),
  };
}

function readSource(r: RoutesReader, node: YamlNode | null, where: string, rname: string, config: BridgeConfig, baseDir: string): RouteSource | undefined {
  const w = `${where} source`;
  if (!isMap(node)) {
    r.problem(node, `${where}.source`, `${w} must be a map with kind: folder, sftp, http or rfc`);
    return undefined;
  }
  const kindNode = (node as YAMLMap<YamlNode, YamlNode>).items.find((p) => isScalar(p.key) && p.key.value === 'kind')?.value;
  const kind = isScalar(kindNode) ? String(kindNode.value) : undefined;
  if (kind !== 'folder' && kind !== 'sftp' && kind !== 'http' && kind !== 'rfc') {
    r.problem(kindNode ?? node, `${where}.source.kind`, `${w}: kind ${kind === undefined ? 'is missing' : `${JSON.stringify(kind)} is unknown`}`, { allowed: 'folder, sftp, http, rfc', ...(kind ? { value: kind } : {}) });
    return undefined;
  }
  const s = r.pairs(node, w, SOURCE_KEYS[kind]);
  if (!s) return undefined;
  switch (kind) {
    case 'folder': {
      const inboxText = r.str(s, 'inbox', w);
      const watch = r.str(s, 'watch', w);
      if (watch !== undefined && !['native', 'chokidar', 'poll'].includes(watch)) r.problem(s.get('watch')!.value, `${w}.watch`, `${w}: watch must be native, chokidar or poll`, { value: watch });
      const trigger = readTrigger(r, s, w);
      const include = r.list(s, 'include', w);
      const exclude = r.list(s, 'exclude', w);
      const stableMs = r.duration(s, 'stable', w);
      const rescanMs = r.duration(s, 'rescan', w);
      return {
        kind,
        inbox: inboxText !== undefined ? path.resolve(baseDir, inboxText) : path.join(config.paths.inbox, rname),
        ...(include ? { include } : {}),
        ...(exclude ? { exclude } : {}),
        ...(stableMs !== undefined ? { stableMs } : {}),
        ...(trigger ? { trigger } : {}),
        ...(rescanMs !== undefined ? { rescanMs } : {}),
        ...(watch === 'native' || watch === 'chokidar' || watch === 'poll' ? { watch } : {}),
      };
    }
    case 'sftp': {
      const conn = readConnection(r, s, w, baseDir);
      const remoteDir = r.str(s, 'remote_dir', w, true);
      const remoteArchiveDir = r.str(s, 'remote_archive', w);
      const remoteErrorDir = r.str(s, 'remote_error', w);
      const include = r.list(s, 'include', w);
      const exclude = r.list(s, 'exclude', w);
      const trigger = readTrigger(r, s, w);
      const stableMs = r.duration(s, 'stable', w);
      const pollMs = r.duration(s, 'poll', w);
      if (!conn || !remoteDir) return undefined;
      return {
        kind,
        ...conn,
        remoteDir,
        ...(remoteArchiveDir ? { remoteArchiveDir } : {}),
        ...(remoteErrorDir ? { remoteErrorDir } : {}),
        ...(include ? { include } : {}),
        ...(exclude ? { exclude } : {}),
        ...(trigger ? { trigger } : {}),
        ...(stableMs !== undefined ? { stableMs } : {}),
        ...(pollMs !== undefined ? { pollMs } : {}),
      };
    }
    case 'http': {
      const port = r.int(s, 'port', w, 0, 65535);
      if (port === undefined && !s.has('port')) r.problem(node, `${w}.port`, `${w}: port is missing`);
      const username = r.str(s, 'username', w, true);
      const password = r.secret(s, 'password', w, baseDir);
      if (!password && !s.has('password') && !s.has('password_env') && !s.has('password_file')) r.problem(node, `${w}.password`, `${w}: give password, password_env or password_file (basic authentication)`);
      const maxBody = r.int(s, 'max_body', w, 1024, 2 ** 31);
      if (port === undefined || !username || !password) return undefined;
      return {
        kind,
        host: r.str(s, 'host', w) ?? '127.0.0.1',
        port,
        users: [{ username, password }],
        idoc: r.bool(s, 'idoc', w) ?? false,
        ...(maxBody !== undefined ? { maxBodyBytes: maxBody } : {}),
      };
    }
    case 'rfc': {
      const cp = s.get('connection');
      const connection: Record<string, string | Secret> = {};
      if (!cp || !isMap(cp.value)) r.problem(cp?.value ?? node, `${w}.connection`, `${w}: connection must be a map of node-rfc parameters (ashost, sysnr, client, user, passwd_env...)`);
      else {
        for (const p of (cp.value as YAMLMap<YamlNode, YamlNode>).items) {
          const k = isScalar(p.key) ? String(p.key.value) : '';
          const v = isScalar(p.value) ? String(p.value.value) : '';
          if (k.endsWith('_env')) {
            const val = r.env[v];
            if (!val) r.problem(p.value, `${w}.connection.${k}`, `${w}: the environment variable ${v} (${k}) is not set`, { value: v });
            else connection[k.slice(0, -4)] = new Secret(val);
          } else if (/passw|passwd|password/i.test(k)) {
            connection[k] = new Secret(v);
          } else connection[k] = v;
        }
      }
      const fetchFunction = r.str(s, 'fetch_function', w);
      const confirmFunction = r.str(s, 'confirm_function', w);
      const maxCount = r.int(s, 'max_count', w, 1, 10_000);
      const pollMs = r.duration(s, 'poll', w);
      return {
        kind,
        connection,
        ...(fetchFunction ? { fetchFunction } : {}),
        ...(confirmFunction ? { confirmFunction } : {}),
        ...(maxCount !== undefined ? { maxCount } : {}),
        ...(pollMs !== undefined ? { pollMs } : {}),
      };
    }
  }
}

function readResults(r: RoutesReader, node: YamlNode | null, where: string, source: RouteSource | undefined, baseDir: string): RouteResults | undefined {
  const w = `${where} results`;
  const m = r.pairs(node, w, RESULT_KEYS);
  if (!m) return undefined;
  const tpl = r.str(m, 'template', w) ?? 'csv';
  let template: string;
  let format: ResultFormat | undefined;
  if (tpl === 'csv' || tpl === 'json' || tpl === 'xml') {
    template = path.join(templatesDir(), `invoices.${tpl}`);
    format = tpl;
  } else {
    template = path.resolve(baseDir, tpl);
    const ext = path.extname(template).slice(1).toLowerCase();
    if (ext === 'csv' || ext === 'json' || ext === 'xml') format = ext;
    else r.problem(m.get('template')!.value, `${w}.template`, `${w}: template ${tpl} must end in .csv, .json or .xml (that decides how values are escaped)`, { value: tpl, allowed: 'csv, json, xml, or a file *.csv / *.json / *.xml' });
    if (!existsSync(template)) r.problem(m.get('template')!.value, `${w}.template`, `${w}: template file ${template} does not exist`, { value: tpl });
  }
  const folder = r.str(m, 'folder', w);
  const remoteDir = r.str(m, 'remote_dir', w);
  const upo = r.bool(m, 'upo', w) ?? true;
  if ((folder === undefined) === (remoteDir === undefined)) {
    r.problem(node, `${w}.folder`, `${w}: give either folder (a local folder) or remote_dir (a folder on the route's SFTP server)`);
    return undefined;
  }
  if (remoteDir !== undefined && source && source.kind !== 'sftp') {
    r.problem(m.get('remote_dir')!.value, `${w}.remote_dir`, `${w}: remote_dir needs an sftp source (results go back to the same server); use folder instead`);
    return undefined;
  }
  if (!format) return undefined;
  if (folder !== undefined) return { template, format, target: { kind: 'folder', dir: path.resolve(baseDir, folder) }, upo };
  if (!source || source.kind !== 'sftp') return undefined;
  const { host, port, username, password, privateKeyPath, passphrase, hostKeySha256, acceptNewHostKey } = source;
  return {
    template,
    format,
    upo,
    target: {
      kind: 'sftp',
      remoteDir: remoteDir!,
      connection: { host, port, username, ...(password ? { password } : {}), ...(privateKeyPath ? { privateKeyPath } : {}), ...(passphrase ? { passphrase } : {}), ...(hostKeySha256 ? { hostKeySha256 } : {}), ...(acceptNewHostKey ? { acceptNewHostKey } : {}) },
    },
  };
}
