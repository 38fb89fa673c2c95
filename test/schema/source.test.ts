import { describe, expect, it } from 'vitest';
import { COLLECTORS, collectorForFormat, knownFormats } from '../../src/collectors/registry.js';
import { isSourceFormat, parseSource, SOURCE_FORMATS, SOURCES } from '../../src/schema/index.js';

describe('sources and formats as types', () => {
  it('parses a source name against the sources, naming them when it is not one', () => {
    for (const s of SOURCES) expect(parseSource(s)).toBe(s);
    expect(() => parseSource('pgadit')).toThrow('unknown source "pgadit" (expected one of pgaudit, das, proxy)');
    expect(() => parseSource('unknown')).toThrow('unknown source');
  });

  it('has one collector per source, whose formats are the declared source formats', () => {
    expect(COLLECTORS.map((c) => c.kind).sort()).toEqual([...SOURCES].sort());
    expect(knownFormats().slice(1).sort()).toEqual([...SOURCE_FORMATS].sort());
    for (const f of SOURCE_FORMATS) expect(collectorForFormat(f)?.formats).toContain(f);
    expect(collectorForFormat('auto')).toBeUndefined();
    expect(collectorForFormat('parquet')).toBeUndefined();
    expect(isSourceFormat('auto')).toBe(false);
  });
});
