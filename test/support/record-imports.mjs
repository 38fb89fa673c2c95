// Preloaded with `node --import`: appends every bare specifier the process imports (packages, not
// relative files or node: built-ins) to the file named by RECORD_IMPORTS, one per line.
import { register } from 'node:module';

if (process.env.RECORD_IMPORTS) register('./record-imports-hooks.mjs', import.meta.url, { data: process.env.RECORD_IMPORTS });
