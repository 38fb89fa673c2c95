#!/usr/bin/env node
// Development launcher: runs the TypeScript sources through tsx, so a checkout works after `npm ci`
// with no build step. The installed package runs the compiled dist/cli/bin.js instead (package.json "bin").
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/bin.ts');
