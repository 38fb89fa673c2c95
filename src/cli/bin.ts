#!/usr/bin/env node
// The installed command: `auditlake` runs this file compiled to dist/cli/bin.js.
import { runCli } from './main.js';
import { endQuietlyOnClosedPipe, processIo } from './output.js';

endQuietlyOnClosedPipe();
process.exitCode = await runCli(process.argv.slice(2), processIo());
