/** The demo runs to completion on its own and tells a newcomer what happened, KSeF numbers and the error file included. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runDemo } from '../../src/cli/commands/demo.js';
import { tempDir } from './helpers.js';

const t = tempDir('ksef-demo-');
afterAll(() => t.remove());

describe('ksef-bridge demo', () => {
  it('runs to completion, narrates each file and leaves the results on disk', async () => {
    let out = '';
    let err = '';
    const dir = path.join(t.dir, 'demo-run');
    const code = await runDemo({ dir, pauseMs: 0 }, { out: (s) => (out += `${s}\n`), err: (s) => (err += `${s}\n`) });
    if (process.env.E2E_VERBOSE) process.stdout.write(out);
    expect(err).toBe('');
    expect(code).toBe(0);
    const ksef = out.match(/KSeF \d{10}-\d{8}-[0-9A-F]{12}-[0-9A-F]{2}/g) ?? [];
    expect(ksef).toHaveLength(11);
    expect(out).toMatch(/4 invoices in one batch session/);
    expect(out).toMatch(/in an interactive session/);
    expect(out).toMatch(/POST \/sap\/idoc -> 200/);
    expect(out).toMatch(/error\s+.*faktury-bledne\.csv \(the valid invoice went on\)/);
    expect(out).toMatch(/faktury-bledne\.csv\.error\.txt explains each rejected record/);
    expect(out).toMatch(/x FV\/2026\/02\/0204: .*StawkaVAT "17" is not a KSeF VAT rate/);
    expect(out).toMatch(/Done: 11 invoices accepted/);
    // short lines, no stack traces, no JSON
    for (const line of out.split('\n')) expect(line.length).toBeLessThanOrEqual(100);
    expect(out).not.toMatch(/\n\s+at .*\(.*:\d+:\d+\)/);
    expect(out).not.toMatch(/^\s*[{[]/m);
    // what it leaves on disk
    expect(existsSync(path.join(dir, 'error', 'erp-csv', 'faktury-bledne.csv.error.txt'))).toBe(true);
    const results = readdirSync(path.join(dir, 'results', 'erp-csv'));
    expect(results).toContain('faktury-2026-02.result.csv');
    expect(results.filter((f) => f.startsWith('UPO_')).length).toBeGreaterThan(0);
    expect(readFileSync(path.join(dir, 'results', 'erp-xml', 'eksport-2026-04.result.json'), 'utf8')).toMatch(/"state": "confirmed"/);
  });
});
