import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { readCompactedIndex } from '../../src/lake/compacted-files.js';
import { readHead } from '../../src/lake/integrity/chain.js';
import { DIGEST_HEAD_KEY } from '../../src/lake/integrity/digest-record.js';
import { compactedIndexKey } from '../../src/lake/layout.js';
import { readState, StateError } from '../../src/lake/state.js';
import { s3InputStateKey, s3InputStateSchema } from '../../src/pipeline/s3-inputs.js';
import { ingestInto, tempLake } from '../support/lake.js';

/** Lake state read back: a damaged or foreign file is an error naming the object and the problem. */

const PART = 'events/source=pgaudit/event_date=2024-05-01/part-c0123456789abcdef-0.parquet';
const INDEX = compactedIndexKey(PART);
const schema = z.object({ seq: z.number().int(), names: z.array(z.string()) });

describe('readState', () => {
  let lake: Awaited<ReturnType<typeof tempLake>>;
  beforeEach(async () => {
    lake = await tempLake();
  });
  afterEach(() => lake.cleanup());

  it('reads a valid object, and null when there is none', async () => {
    await lake.storage.putBytes('_state/x.json', '{"seq": 3, "names": ["a"]}');
    expect(await readState(lake.storage, '_state/x.json', schema)).toEqual({ seq: 3, names: ['a'] });
    expect(await readState(lake.storage, '_state/none.json', schema)).toBeNull();
  });

  it('names the key and says the file is not JSON when it is truncated', async () => {
    await lake.storage.putBytes('_state/x.json', '{"seq": 3, "na');
    const error = await readState(lake.storage, '_state/x.json', schema).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StateError);
    expect((error as Error).message).toMatch(new RegExp(`^${lake.dir}: _state/x\\.json is not JSON \\(`));
    expect((error as Error).cause).toBeInstanceOf(SyntaxError);
  });

  it('names every field that is wrong in a foreign shape', async () => {
    await lake.storage.putBytes('_state/x.json', '{"seq": "3", "other": true}');
    await expect(readState(lake.storage, '_state/x.json', schema)).rejects.toThrow(
      `${lake.dir}: _state/x.json is not the expected lake state (seq: Invalid input: expected number, received string; names: Invalid input: expected array, received undefined)`,
    );
    await lake.storage.putBytes('_state/x.json', '[1, 2]');
    await expect(readState(lake.storage, '_state/x.json', schema)).rejects.toThrow('(Invalid input: expected object, received array)');
  });

  it('checks a compacted-file index: a truncated one is a clear error, not a TypeError later', async () => {
    await lake.storage.putBytes(INDEX, `{"file": "${PART}", "rows": 12, "input_ke`);
    await expect(readCompactedIndex(lake.storage, PART)).rejects.toThrow(`${INDEX} is not JSON`);
    // An input manifest where an index belongs: the missing fields are named.
    await lake.storage.putBytes(INDEX, '{"input": "a.csv", "events": 3, "files": []}');
    await expect(readCompactedIndex(lake.storage, PART)).rejects.toThrow(
      `${INDEX} is not the expected lake state (file: Invalid input: expected string, received undefined; rows: Invalid input: expected number, received undefined; input_keys: Invalid input: expected array, received undefined)`,
    );
  });

  it('keeps fields it does not know, so rewriting an index or an S3 input state loses nothing', async () => {
    await lake.storage.putBytes(INDEX, JSON.stringify({ file: PART, rows: 2, input_keys: ['k'], note: 'newer writer' }));
    expect(await readCompactedIndex(lake.storage, PART)).toEqual({ file: PART, rows: 2, input_keys: ['k'], note: 'newer writer' });
    const key = s3InputStateKey('s3://bucket/logs');
    await lake.storage.putBytes(key, JSON.stringify({ prefix: 's3://bucket/logs', objects: { 'logs/a': 1 } }));
    await expect(readState(lake.storage, key, s3InputStateSchema)).rejects.toThrow(
      'objects.logs/a: Invalid input: expected string, received number',
    );
  });

  it('treats a damaged digest head hint as absent: it is only a hint, the chain is listed instead', async () => {
    for (const body of ['{"seq": "seven"}', '{"seq": 3', '']) {
      await lake.storage.putBytes(DIGEST_HEAD_KEY, body);
      expect(await readHead(lake.storage)).toBeNull();
    }
  });

  it('names a damaged input manifest when a re-run reads it, and fails only that input', async () => {
    expect((await ingestInto(lake.dir, ['fixtures/pgaudit/pg15.csv'])).failed_inputs).toBe(0);
    const [manifest] = await lake.storage.list('_state/manifests/');
    await lake.storage.putBytes(manifest, '{"files": "not a list"');
    const rerun = await ingestInto(lake.dir, ['fixtures/pgaudit/pg15.csv']);
    expect(rerun.failed_inputs).toBe(1);
    expect(rerun.inputs[0].error).toContain(`${manifest} is not JSON`);
  });
});
