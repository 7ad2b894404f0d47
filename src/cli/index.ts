/**
 * The command line: `buildProgram()` assembles every command; `main(argv)` runs it and returns the exit code.
 * Commands load their parts lazily, so `--help` and simple commands start fast.
 */
import { Command, CommanderError } from 'commander';
import { EXIT, type ExitCode } from './exit-codes.js';
import { type Io, configPath, processIo, reportError } from './shared.js';

export { EXIT, type ExitCode } from './exit-codes.js';
export type { Io } from './shared.js';

const VERSION = '0.1.0';

export function buildProgram(io: Io, setExit: (code: ExitCode) => void): Command {
  const program = new Command('ksef-bridge')
    .description('Connects ERP exports (files, SFTP, SAP IDoc) to KSeF 2.0, the Polish national e-invoicing system.')
    .version(VERSION)
    .option('-c, --config <file>', 'ksef.ini to use (default: $KSEF_BRIDGE_CONFIG or ./ksef.ini)')
    .showHelpAfterError('(run `ksef-bridge --help` for the list of commands)')
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) })
    .exitOverride();

  program
    .command('validate')
    .description('check FA(3) XML files: KSeF document rules, the official XSD and semantic rules (errors with line numbers and rule codes)')
    .argument('<files...>', 'FA(3) XML files')
    .option('--json', 'print the result as JSON')
    .option('--today <date>', 'date used for the "issue date not in the future" rule (YYYY-MM-DD)')
    .option('--schema-dir <dir>', 'folder holding the official XSDs (default: schemas/ filled by `npm run setup`)')
    .option('--no-warnings', 'print errors only')
    .action(async (files: string[], opts: { json?: boolean; today?: string; schemaDir?: string; warnings?: boolean }) => {
      const { runValidate } = await import('./commands/validate.js');
      setExit(runValidate(files, opts, io));
    });

  const config = program.command('config').description('configuration tools');
  config
    .command('check')
    .description('load and check ksef.ini; print the effective configuration with secrets masked')
    .action(async () => {
      const { runConfigCheck } = await import('./commands/config-check.js');
      setExit(runConfigCheck(configPath(program.opts<{ config?: string }>().config), io));
    });

  program
    .command('emulator')
    .description('run the bundled KSeF 2.0 emulator (the official API under /v2) until Ctrl-C')
    .option('-p, --port <port>', 'port on the host (default 8765; 0 picks a free one)')
    .option('--host <host>', 'interface to bind (default 127.0.0.1)')
    .option('--db <file>', 'SQLite file holding the state (default ./data/emulator.sqlite)')
    .option('--memory', 'keep the state in memory only')
    .option('--config <file>', 'JSON file with emulator options (tokens, delays, limits, faults)')
    .option('-t, --token <NIP:TOKEN>', 'provision a KSeF token for a NIP (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--processing-delay <ms>', 'delay before a sent invoice or closed batch is processed')
    .option('--nip-checksum', 'check NIP checksums as production does (off by default, like the test environment)')
    .option('--maintenance <window>', 'announced maintenance: "30m" from now or "16:00-18:00" today')
    .option('--fail <rule>', 'answer an endpoint with an error, e.g. "POST /sessions/online 503" (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--limits <profile>', 'per-endpoint request limits: production, test (10x production) or off (default)')
    .option('--limits-scale <factor>', 'shrink the limit windows in time, e.g. 0.0166667 makes an hour last a minute')
    .option('-q, --quiet', 'no request log')
    .action(async (opts: import('./commands/emulator.js').EmulatorCommandOptions) => {
      const { runEmulator } = await import('./commands/emulator.js');
      setExit(await runEmulator(opts, io));
    });

  return program;
}

/** Runs the CLI with the given arguments (without node and script) and returns the exit code. */
export async function main(args: string[], io: Io = processIo): Promise<ExitCode> {
  let code: ExitCode = EXIT.OK;
  const program = buildProgram(io, (c) => {
    code = c;
  });
  try {
    await program.parseAsync(args, { from: 'user' });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return EXIT.OK;
      return EXIT.USAGE;
    }
    return reportError(io, e);
  }
}
