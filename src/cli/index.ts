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

  const cfg = (): string => configPath(program.opts<{ config?: string }>().config);
  const many = (v: string, acc: string[]): string[] => [...acc, v];

  program
    .command('run')
    .description('run the bridge: every route of the routes file, the dispatcher, result files; Ctrl-C stops gracefully')
    .option('--routes <file>', 'routes file (default: [paths] routes in ksef.ini, else routes.yaml or config/routes.yaml next to it)')
    .option('--today <date>', 'date used for the "issue date not in the future" rule (YYYY-MM-DD)')
    .action(async (opts: { routes?: string; today?: string }) => {
      const { runBridge } = await import('./commands/run.js');
      setExit(await runBridge({ ...opts, config: cfg() }, io));
    });

  program
    .command('send')
    .description('validate FA(3) files, send them to KSeF now and print their KSeF numbers (no files: send what is waiting)')
    .argument('[files...]', 'FA(3) XML files')
    .option('--json', 'print the result as JSON')
    .option('--timeout <duration>', 'how long to keep trying while KSeF is unavailable (default 10m); documents stay queued after it')
    .option('--no-upo', 'do not wait for the UPOs, only for the KSeF numbers')
    .option('--today <date>', 'date used for the "issue date not in the future" rule (YYYY-MM-DD)')
    .option('--schema-dir <dir>', 'folder holding the official XSDs')
    .action(async (files: string[], opts: { json?: boolean; timeout?: string; upo?: boolean; today?: string; schemaDir?: string }) => {
      const { runSend } = await import('./commands/send.js');
      setExit(await runSend(files, { ...opts, config: cfg() }, io));
    });

  program
    .command('status')
    .description('documents and their state; with a document (id, KSeF number or invoice number): its whole history')
    .argument('[document]', 'document id, KSeF number or invoice number')
    .option('--failed', 'only rejected and invalid documents')
    .option('--limit <n>', 'documents listed (default 20)', (v: string) => Number(v))
    .option('--xml', "with a document: print its FA(3) XML and UPO too")
    .option('--json', 'print the result as JSON')
    .action(async (document: string | undefined, opts: { failed?: boolean; limit?: number; json?: boolean; xml?: boolean }) => {
      const { runStatus } = await import('./commands/status.js');
      setExit(await runStatus(document, { ...opts, config: cfg() }, io));
    });

  program
    .command('resend')
    .description('send a rejected or invalid document again, after a fix (optionally with a corrected FA(3) file)')
    .argument('<document>', 'document id, KSeF number or invoice number')
    .option('--file <fa3.xml>', 'corrected FA(3) XML replacing the stored one (validated first)')
    .option('--no-send', 'only queue it; the running bridge sends it')
    .option('--timeout <duration>', 'how long to keep trying while KSeF is unavailable (default 10m)')
    .option('--json', 'print the result as JSON')
    .option('--today <date>', 'date used for the "issue date not in the future" rule (YYYY-MM-DD)')
    .option('--schema-dir <dir>', 'folder holding the official XSDs')
    .action(async (document: string, opts: { file?: string; send?: boolean; timeout?: string; json?: boolean; today?: string; schemaDir?: string }) => {
      const { runResend } = await import('./commands/resend.js');
      setExit(await runResend(document, { ...opts, config: cfg() }, io));
    });

  program
    .command('upo')
    .description("write a document's UPO (official receipt confirmation) XML")
    .argument('<document>', 'document id, KSeF number or invoice number')
    .option('-o, --out <file>', 'write to this file instead of standard output')
    .action(async (document: string, opts: { out?: string }) => {
      const { runUpo } = await import('./commands/upo.js');
      setExit(await runUpo(document, { ...opts, config: cfg() }, io));
    });

  program
    .command('test-connection')
    .description('authenticate against the configured KSeF environment, for every company, and report what works')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { json?: boolean }) => {
      const { runTestConnection } = await import('./commands/test-connection.js');
      setExit(await runTestConnection({ ...opts, config: cfg() }, io));
    });

  program
    .command('map')
    .description('run a mapping on an ERP export: FA(3) XML and every problem in terms of the source fields')
    .argument('<export-file>', 'the ERP export (CSV, fixed-width, XML, JSON, IDoc)')
    .requiredOption('-m, --mapping <file>', 'the mapping file (YAML)')
    .option('-o, --out <dir>', 'write <invoice>.xml files into this folder instead of printing the XML')
    .option('--explain', 'show, for each value, the source field, its position and the rule it came from')
    .option('--seller-nip <nip>', "the seller's NIP (default: from ksef.ini when there is one)")
    .option('--lines <file>', 'the lines file of a two-file CSV export')
    .option('--json', 'print the result as JSON')
    .option('--today <date>', 'date used for the "issue date not in the future" rule (YYYY-MM-DD)')
    .option('--schema-dir <dir>', 'folder holding the official XSDs')
    .option('--no-warnings', 'print errors only')
    .action(async (file: string, opts: import('./commands/map.js').MapCommandOptions) => {
      const { runMap } = await import('./commands/map.js');
      const explicit = program.opts<{ config?: string }>().config ?? process.env.KSEF_BRIDGE_CONFIG;
      setExit(await runMap(file, { ...opts, ...(explicit ? { config: cfg() } : {}) }, io));
    });

  const mapping = program.command('mapping').description("mapping tools for consultants");
  mapping
    .command('test')
    .description('run the test cases kept next to mappings (default: every mapping in mappings/)')
    .argument('[paths...]', 'mapping files or folders')
    .option('--seller-nip <nip>', 'config.seller.nip for test cases that do not set it')
    .option('--json', 'print the result as JSON')
    .option('--schema-dir <dir>', 'folder holding the official XSDs')
    .action(async (paths: string[], opts: { sellerNip?: string; json?: boolean; schemaDir?: string }) => {
      const { runMappingTest } = await import('./commands/mapping.js');
      setExit(await runMappingTest(paths, opts, io));
    });
  mapping
    .command('new')
    .description("a starting mapping from a sample export's columns or segments, with TODOs")
    .requiredOption('--format <format>', 'csv, fixed, xml, json or idoc')
    .requiredOption('--sample <file>', 'a sample export')
    .option('-o, --out <file>', 'write the mapping to this file instead of printing it')
    .option('--force', 'overwrite --out')
    .option('--encoding <name>', 'encoding of the sample (utf-8, windows-1250, cp852, iso-8859-2)')
    .option('--delimiter <char>', 'CSV delimiter (default ;)')
    .action(async (opts: import('./commands/mapping.js').MappingNewCommandOptions) => {
      const { runMappingNew } = await import('./commands/mapping.js');
      setExit(await runMappingNew(opts, io));
    });

  program
    .command('demo')
    .description('the bridge against its built-in KSeF emulator on sample exports, narrated (leaves the results in ./demo-run)')
    .option('--dir <folder>', 'folder to run in (default ./demo-run; emptied first)')
    .option('--pause <ms>', 'pause between steps so a person can read (default 300)', (v: string) => Number(v))
    .action(async (opts: { dir?: string; pause?: number }) => {
      const { runDemo } = await import('./commands/demo.js');
      setExit(await runDemo({ ...(opts.dir ? { dir: opts.dir } : {}), ...(opts.pause !== undefined ? { pauseMs: opts.pause } : {}) }, io));
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
