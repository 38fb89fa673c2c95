import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { schemaFiles } from '../../scripts/schema-files.js';
import { ATHENA_TYPES, auditEventSchema, EVENT_FIELDS, PARTITION_KEYS } from '../../src/schema/index.js';

describe('schema derivations', () => {
  for (const [path, content] of Object.entries(schemaFiles())) {
    it(`${path} is what src/schema derives (run npm run schemas)`, async () => {
      expect(await readFile(path, 'utf8')).toBe(content);
    });
  }

  it('the validator, JSON Schema and DDL name the same columns as the declaration', async () => {
    const declared = EVENT_FIELDS.map((f) => f.name);
    expect(Object.keys(auditEventSchema.shape).sort()).toEqual([...declared, 'source'].sort());
    const json = JSON.parse(await readFile('schemas/audit-event.v1.json', 'utf8'));
    expect(Object.keys(json.properties)).toEqual([...declared, ...PARTITION_KEYS.map((p) => p.name)]);
    const ddl = await readFile('schemas/athena/audit_events.sql', 'utf8');
    const columns = [...ddl.matchAll(/^ {2}`(\w+)`\s+([\w<>]+)/gm)].map((m) => [m[1], m[2]]);
    expect(columns).toEqual([...EVENT_FIELDS.map((f) => [f.name, ATHENA_TYPES[f.type]]), ...PARTITION_KEYS.map((p) => [p.name, 'string'])]);
  });
});
