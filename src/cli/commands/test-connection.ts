/** `ksef-bridge test-connection`: per company, what works against the configured KSeF environment. */
import { ConfigError, errorMessage } from '../../errors/index.js';
import { KsefApiError } from '../../ksef/index.js';
import { openBridge, type Bridge } from '../../runtime/index.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { configPath, reportError, type Io } from '../shared.js';

export interface TestConnectionCommandOptions {
  config?: string;
  json?: boolean;
}

export interface ConnectionCheck {
  check: string;
  ok: boolean;
  /** Optional checks do not fail the command (e.g. GET /rate-limits where it is not offered). */
  optional: boolean;
  ms: number;
  detail: string;
}

async function check(name: string, optional: boolean, fn: () => Promise<string>): Promise<ConnectionCheck> {
  const t0 = Date.now();
  try {
    const detail = await fn();
    return { check: name, ok: true, optional, ms: Date.now() - t0, detail };
  } catch (e) {
    const hint = e instanceof KsefApiError && e.status === 501 ? ' (not offered by this KSeF endpoint)' : '';
    return { check: name, ok: false, optional, ms: Date.now() - t0, detail: `${errorMessage(e)}${hint}` };
  }
}

export async function runTestConnection(opts: TestConnectionCommandOptions, io: Io): Promise<ExitCode> {
  let bridge: Bridge;
  try {
    bridge = await openBridge(configPath(opts.config), { retry: { retries: 1 } });
  } catch (e) {
    return reportError(io, e, e instanceof ConfigError ? EXIT.CONFIG : EXIT.INTERNAL);
  }
  try {
    const report: { company: string; nip: string; environment: string; url: string; checks: ConnectionCheck[] }[] = [];
    await Promise.all(
      bridge.config.companies.map(async (c) => {
        const client = bridge.clients.get(c.nip)!;
        const checks: ConnectionCheck[] = [];
        checks.push(
          await check('public keys', false, async () => {
            const k = await client.keys.get('KsefTokenEncryption');
            const s = await client.keys.get('SymmetricKeyEncryption');
            return `token and session keys valid until ${new Date(Math.min(k.validTo, s.validTo)).toISOString().slice(0, 10)}`;
          }),
        );
        const auth = await check('authentication with the KSeF token', false, async () => {
          await client.authenticate();
          return `access token obtained for context NIP ${c.nip}`;
        });
        checks.push(auth);
        if (auth.ok) {
          checks.push(
            await check('session list', false, async () => {
              const open = await client.listSessions({ sessionType: 'Online', statuses: ['InProgress'] });
              return `${open.length} interactive session(s) in progress`;
            }),
          );
          checks.push(
            await check('rate limits', true, async () => {
              const l = await client.refreshRateLimits();
              return `invoice send ${l.invoiceSend.perSecond}/s ${l.invoiceSend.perMinute}/min ${l.invoiceSend.perHour}/h`;
            }),
          );
        }
        report.push({ company: c.name, nip: c.nip, environment: c.environment, url: c.apiBaseUrl, checks });
      }),
    );
    const failed = report.some((r) => r.checks.some((x) => !x.ok && !x.optional));
    if (opts.json) io.out(JSON.stringify({ ok: !failed, companies: report }, null, 2));
    else {
      for (const r of report) {
        io.out(`${r.company} (NIP ${r.nip}, ${r.environment}, ${r.url})`);
        for (const x of r.checks) io.out(`  ${x.ok ? 'ok  ' : x.optional ? 'n/a ' : 'FAIL'} ${x.check} (${x.ms} ms): ${x.detail}`);
      }
      io.out(failed ? 'connection test FAILED' : 'connection test passed');
    }
    return failed ? EXIT.KSEF : EXIT.OK;
  } catch (e) {
    return reportError(io, e, EXIT.KSEF);
  } finally {
    await bridge.close();
  }
}
