import { describe, expect, it } from 'vitest';
import { emulatorOptionsFrom, runEmulator } from '../../src/cli/commands/emulator.js';
import { EXIT, type Io } from '../../src/cli/index.js';

function capture(): Io & { stdout: string; stderr: string } {
  const io = { stdout: '', stderr: '', out: (t: string) => (io.stdout += `${t}\n`), err: (t: string) => (io.stderr += `${t}\n`) };
  return io;
}

describe('ksef-bridge emulator', () => {
  it('serves the KSeF API until told to stop, with the provisioned tokens', async () => {
    const io = capture();
    let stop!: () => void;
    const until = new Promise<void>((r) => (stop = r));
    const running = runEmulator({ port: '0', memory: true, quiet: true, token: ['5260181596:test-token'] }, io, until);
    const deadline = Date.now() + 20_000;
    while (!io.stdout.includes('/v2') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const url = /listening on (\S+\/v2)/.exec(io.stdout)?.[1];
    expect(url).toBeDefined();
    expect(io.stdout).toContain('tokens provisioned for: 5260181596');
    const res = await fetch(`${url}/security/public-key-certificates`);
    expect(res.status).toBe(200);
    const certs = (await res.json()) as Array<{ usage: string[] }>;
    expect(certs.flatMap((c) => c.usage)).toEqual(expect.arrayContaining(['KsefTokenEncryption', 'SymmetricKeyEncryption']));
    stop();
    expect(await running).toBe(EXIT.OK);
  });

  it('turns fault and maintenance options into emulator faults', () => {
    const o = emulatorOptionsFrom({ memory: true, fail: ['POST /sessions/online 503', '/auth/challenge 500'], maintenance: '30m' });
    expect(o.faults?.rules).toEqual([
      { kind: 'error', method: 'POST', path: '/sessions/online', status: 503 },
      { kind: 'error', path: '/auth/challenge', status: 500 },
    ]);
    expect(Date.parse(o.faults!.maintenance!.to) - Date.parse(o.faults!.maintenance!.from!)).toBe(30 * 60_000);
    expect(emulatorOptionsFrom({ memory: true, limits: 'production', limitsScale: '0.5' })).toMatchObject({ rateLimits: 'production', rateLimitsScale: 0.5 });
  });

  it('names the wrong option and exits 3', async () => {
    for (const bad of [{ limits: 'strict' }, { limitsScale: '0' }, { port: 'eighty' }, { token: ['12345:x'] }, { fail: ['explode'] }, { maintenance: 'soon' }]) {
      const io = capture();
      expect(await runEmulator({ memory: true, ...bad }, io, Promise.resolve()), JSON.stringify(bad)).toBe(EXIT.CONFIG);
      expect(io.stderr).toMatch(/--(limits|limits-scale|port|token|fail|maintenance)|NIP:TOKEN/);
    }
  });
});
