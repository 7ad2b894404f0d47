#!/usr/bin/env node
/** Process entry of the `ksef-bridge` command. */
import { main } from './index.js';

process.exitCode = await main(process.argv.slice(2));
