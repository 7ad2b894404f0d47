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
