/** `ksef-bridge config check`: loads and checks ksef.ini, prints the effective configuration with secrets masked. */
import { ConfigLoadError, describeConfig, loadConfig } from '../../config/index.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { type Io, reportError } from '../shared.js';

export function runConfigCheck(file: string, io: Io, env: NodeJS.ProcessEnv = process.env): ExitCode {
  try {
    const { config, warnings } = loadConfig(file, { env });
    for (const w of warnings) io.err(`warning: ${w}`);
    io.out(`${file}: OK\n\n${describeConfig(config)}`);
    return EXIT.OK;
  } catch (e) {
    if (e instanceof ConfigLoadError) {
      io.err(e.describe());
      return EXIT.CONFIG;
    }
    return reportError(io, e, (e as NodeJS.ErrnoException).code === 'ENOENT' ? EXIT.CONFIG : EXIT.INTERNAL);
  }
}
