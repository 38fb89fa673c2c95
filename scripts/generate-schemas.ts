import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { schemaFiles } from './schema-files.js';

// Regenerates the checked-in schema files from src/schema (run: npm run schemas).
for (const [path, content] of Object.entries(schemaFiles())) {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, content);
  console.log(`wrote ${path}`);
}
