/**
 * `ksef-bridge run` as a child process for the end-to-end tests: the real CLI when `run` is registered in
 * src/cli/index.ts, else the same runBridge() behind a minimal argument parser.
 */
import { buildProgram, main } from '../../src/cli/index.js';
import { runBridge } from '../../src/cli/commands/run.js';
import { processIo } from '../../src/cli/shared.js';

const args = process.argv.slice(2);
const registered = buildProgram(processIo, () => {}).commands.some((c) => c.name() === 'run');
if (registered) {
  process.exitCode = await main(args);
} else {
  const opt = (name: string): string | undefined => {
    const i = args.findIndex((a) => a === name || (name === '--config' && a === '-c'));
    return i >= 0 ? args[i + 1] : undefined;
  };
  const config = opt('--config');
  const routes = opt('--routes');
  process.exitCode = await runBridge({ ...(config ? { config } : {}), ...(routes ? { routes } : {}) }, processIo);
}
