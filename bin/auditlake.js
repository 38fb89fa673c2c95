#!/usr/bin/env node
// Runs the TypeScript sources through tsx, so a checkout works after `npm ci` with no build step.
import { register } from 'tsx/esm/api';

register();
process.env.AUDITLAKE_CLI = '1';
await import('../src/cli/main.ts');
