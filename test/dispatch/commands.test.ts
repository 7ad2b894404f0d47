/** The commands send, status, resend, upo and test-connection against the emulator, store on disk. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runResend } from '../../src/cli/commands/resend.js';
import { runSend } from '../../src/cli/commands/send.js';
import { runStatus } from '../../src/cli/commands/status.js';
import { runTestConnection } from '../../src/cli/commands/test-connection.js';
import { runUpo } from '../../src/cli/commands/upo.js';
import { EXIT } from '../../src/cli/exit-codes.js';
import type { Io } from '../../src/cli/shared.js';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.js';
import { isValidKsefNumber } from '../../src/ksef/index.js';
import { getXsdValidator } from '../../src/schemas/index.js';
import { openStore } from '../../src/store/index.js';
import { fa3, SELLER_A, SELLER_B, TOKEN_A, TOKEN_B, tempDir, writeIni, xsdInvalidFa3, type TempDir } from './helpers.js';

let emu: RunningEmulator;
let tmp: TempDir;
const dirs: TempDir[] = [];
let ini: string;

function capture(): Io & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (t) => stdout.push(t), err: (t) => stderr.push(t) };
}

beforeAll(async () => {
  emu = await startEmulator({ tokens: [{ nip: SELLER_A, token: TOKEN_A }], logger: null });
  tmp = tempDir();
  process.env.KSEF_TOKEN_A = TOKEN_A;
  process.env.KSEF_TOKEN_B = TOKEN_B; // company B's token is unknown to the emulator
  ini = writeIni(tmp.dir, {
    emulatorUrl: emu.url,
    companies: [
      { name: 'a', nip: SELLER_A, tokenEnv: 'KSEF_TOKEN_A' },
      { name: 'b', nip: SELLER_B, tokenEnv: 'KSEF_TOKEN_B' },
    ],
  });
});

afterAll(async () => {
  await emu?.admin.idle();
  await emu?.close();
  tmp?.remove();
  for (const d of dirs) d.remove();
});

describe('commands', () => {
  it('send prints KSeF numbers; status, upo and a second send of the same file show the stored result', async () => {
    const files = [1, 2].map((i) => {
      const f = join(tmp.dir, `cmd-${i}.xml`);
      writeFileSync(f, fa3(`FV/CMD/${i}`));
      return f;
    });
    const io = capture();
    expect(await runSend(files, { config: ini }, io)).toBe(EXIT.OK);
    expect(io.stdout).toHaveLength(2);
    const numbers = io.stdout.map((l) => /KSeF number (\S+)/.exec(l)?.[1] ?? '');
    expect(numbers.every(isValidKsefNumber)).toBe(true);

    const again = capture();
    expect(await runSend([files[0]!], { config: ini }, again)).toBe(EXIT.OK);
    expect(again.stdout[0]).toContain(numbers[0]);

    const none = capture();
    expect(await runStatus(undefined, { config: ini, failed: true }, none)).toBe(EXIT.OK);
    expect(none.stdout.join('\n')).toContain('no rejected or invalid documents');

    const st = capture();
    expect(await runStatus(numbers[0], { config: ini }, st)).toBe(EXIT.OK);
    const text = st.stdout.join('\n');
    expect(text).toMatch(/state\s+confirmed/);
    expect(text).toMatch(/UPO\s+per invoice/);
    expect(text).toMatch(/session\s+\S+ \(online, closed[,)]/);
    expect(text).toMatch(/queued\s+-> sending/);

    const byNumber = capture();
    expect(await runStatus('FV/CMD/2', { config: ini, json: true }, byNumber)).toBe(EXIT.OK);
    expect(JSON.parse(byNumber.stdout.join(''))[0].ksefNumber).toBe(numbers[1]);

    const out = join(tmp.dir, 'upo.xml');
    const u = capture();
    expect(await runUpo(numbers[1]!, { config: ini, out }, u)).toBe(EXIT.OK);
    expect(getXsdValidator('upo').validate(readFileSync(out, 'utf8')).valid).toBe(true);
    expect(readFileSync(out, 'utf8')).toContain(numbers[1]);

    const missing = capture();
    expect(await runUpo('no-such-document', { config: ini }, missing)).toBe(EXIT.INVALID);
  });

  it('an invalid file is not sent; resend with a corrected file sends it; resend refuses a confirmed document', async () => {
    const bad = join(tmp.dir, 'bad.xml');
    writeFileSync(bad, xsdInvalidFa3('FV/CMD/BAD'));
    const io = capture();
    expect(await runSend([bad], { config: ini }, io)).toBe(EXIT.INVALID);
    expect(io.stdout[0]).toMatch(/INVALID, not sent \(document (\d+)\)/);
    const id = /document (\d+)/.exec(io.stdout[0]!)![1]!;
    expect(io.stdout.join('\n')).toMatch(/bad\.xml:\d+: /);

    const failed = capture();
    expect(await runStatus(undefined, { config: ini, failed: true }, failed)).toBe(EXIT.INVALID);
    expect(failed.stdout.join('\n')).toContain(`#${id}`);

    const fixed = join(tmp.dir, 'fixed.xml');
    writeFileSync(fixed, fa3('FV/CMD/BAD'));
    const rs = capture();
    expect(await runResend(id, { config: ini, file: fixed }, rs)).toBe(EXIT.OK);
    expect(rs.stdout[0]).toMatch(/confirmed, KSeF number \S+/);

    const refused = capture();
    expect(await runResend(id, { config: ini }, refused)).toBe(EXIT.INVALID);
    expect(refused.stderr.join('\n')).toMatch(/only rejected or invalid/);
  });

  it('a document rejected by KSeF is resent after the fix and accepted', async () => {
    // the store holds a document KSeF rejects (XSD), as if it came from a mapping with a bug
    const store = openStore(join(tmp.dir, 'bridge.db'));
    const id = store.documents.insert({ source: 'test', contentHash: 'rejected-1', companyNip: SELLER_A, sellerNip: SELLER_A, xml: xsdInvalidFa3('FV/CMD/REJ'), state: 'queued' }).id;
    store.close();
    const first = capture();
    expect(await runSend([], { config: ini }, first)).toBe(EXIT.OK);
    const st = capture();
    expect(await runStatus(String(id), { config: ini }, st)).toBe(EXIT.INVALID);
    expect(st.stdout.join('\n')).toMatch(/state\s+rejected/);
    expect(st.stdout.join('\n')).toMatch(/last error\s+KSEF_430_INVALID_FILE/);
    expect(st.stdout.join('\n')).toMatch(/what to do/);
    const fixed = join(tmp.dir, 'fixed-rej.xml');
    writeFileSync(fixed, fa3('FV/CMD/REJ'));
    const rs = capture();
    expect(await runResend(String(id), { config: ini, file: fixed }, rs)).toBe(EXIT.OK);
    expect(rs.stdout[0]).toMatch(/confirmed/);
  });

  it('send while KSeF cannot be reached: the document stays queued with the reason, exit code 4', async () => {
    const dead = tempDir();
    dirs.push(dead);
    // a port nobody listens on
    const deadIni = writeIni(dead.dir, { emulatorUrl: 'http://127.0.0.1:9' });
    const f = join(dead.dir, 'x.xml');
    writeFileSync(f, fa3('FV/CMD/DEAD'));
    const io = capture();
    expect(await runSend([f], { config: deadIni, timeout: '1s' }, io)).toBe(EXIT.KSEF);
    expect(io.stdout[0]).toMatch(/queued, waiting for KSeF .*KSEF_NETWORK|queued, waiting for KSeF .*connection/);
    const st = capture();
    expect(await runStatus(undefined, { config: deadIni }, st)).toBe(EXIT.OK);
    expect(st.stdout.join('\n')).toMatch(/queued: 1/);
    expect(st.stdout.join('\n')).toMatch(/queued documents wait: waiting: /);
  });

  it('test-connection reports per company what works', async () => {
    const io = capture();
    expect(await runTestConnection({ config: ini, json: true }, io)).toBe(EXIT.KSEF);
    const r = JSON.parse(io.stdout.join('')) as { ok: boolean; companies: { company: string; checks: { check: string; ok: boolean }[] }[] };
    expect(r.ok).toBe(false);
    const a = r.companies.find((c) => c.company === 'a')!;
    const b = r.companies.find((c) => c.company === 'b')!;
    expect(a.checks.find((c) => c.check === 'authentication with the KSeF token')?.ok).toBe(true);
    expect(a.checks.find((c) => c.check === 'session list')?.ok).toBe(true);
    expect(b.checks.find((c) => c.check === 'public keys')?.ok).toBe(true);
    expect(b.checks.find((c) => c.check === 'authentication with the KSeF token')?.ok).toBe(false);
    expect(io.stdout.join('')).not.toContain(TOKEN_A);
    expect(io.stdout.join('')).not.toContain(TOKEN_B);
  });
});
