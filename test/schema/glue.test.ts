import { describe, expect, it } from 'vitest';
import { ALERTS_TABLE } from '../../src/cli/commands/schema.js';
import { athenaAlertsDdl } from '../../src/rules/alert-schema.js';
import { athenaEventsDdl, EVENTS_TABLE, glueTableInput, glueTableJson } from '../../src/schema/index.js';

/** Columns, partition keys, location and table properties of a generated DDL text. */
function parseDdl(ddl: string) {
  const [, body, partitions] = /\(\n([\s\S]*?)\n\)\nPARTITIONED BY \(\n([\s\S]*?)\n\)/.exec(ddl) ?? [];
  const columns = [...body.matchAll(/^ {2}`(\w+)`\s+([\w<>]+)/gm)].map((m) => [m[1], m[2]]);
  const keys = [...partitions.matchAll(/^ {2}`(\w+)` (\w+)/gm)].map((m) => [m[1], m[2]]);
  const location = /^LOCATION '([^']+)'/m.exec(ddl)?.[1];
  const properties = Object.fromEntries([...ddl.matchAll(/^ {2}'([^']+)' = '([^']*)'/gm)].map((m) => [m[1], m[2]]));
  return { columns, keys, location, properties };
}

describe('Glue table definitions', () => {
  const location = 's3://bucket/audit';
  const cases = [
    { table: EVENTS_TABLE, ddl: athenaEventsDdl({ location }) },
    { table: ALERTS_TABLE, ddl: athenaAlertsDdl({ location }) },
  ];
  for (const { table, ddl } of cases) {
    it(`${table.name}: same columns, types, partition keys, location and projection as the Athena DDL`, () => {
      const parsed = parseDdl(ddl);
      const input = glueTableInput(table, { location }) as {
        Name: string;
        TableType: string;
        Parameters: Record<string, string>;
        PartitionKeys: { Name: string; Type: string }[];
        StorageDescriptor: {
          Columns: { Name: string; Type: string; Comment: string }[];
          Location: string;
          SerdeInfo: { SerializationLibrary: string };
        };
      };
      expect(input.Name).toBe(table.name);
      expect(input.TableType).toBe('EXTERNAL_TABLE');
      expect(input.StorageDescriptor.Columns.map((c) => [c.Name, c.Type])).toEqual(parsed.columns);
      expect(input.PartitionKeys.map((c) => [c.Name, c.Type])).toEqual(parsed.keys);
      expect(input.StorageDescriptor.Location).toBe(parsed.location);
      expect(input.StorageDescriptor.SerdeInfo.SerializationLibrary).toBe('org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe');
      const { EXTERNAL, classification, ...projection } = input.Parameters;
      expect([EXTERNAL, classification]).toEqual(['TRUE', 'parquet']);
      expect(projection).toEqual(parsed.properties);
      for (const c of input.StorageDescriptor.Columns) expect(c.Comment.length).toBeLessThanOrEqual(255);
    });
  }

  it('wraps the table input with its database for --cli-input-json', () => {
    const doc = JSON.parse(glueTableJson(EVENTS_TABLE, { location, database: 'audit' }));
    expect(doc.DatabaseName).toBe('audit');
    expect(doc.TableInput).toEqual(glueTableInput(EVENTS_TABLE, { location }));
  });
});
