import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FsStorage, STAGING_KEY } from '../../src/lake/fs-storage.js';
import { LakeWriter } from '../../src/lake/lake-writer.js';
import { newOwnerTag } from '../../src/lake/unit.js';
import { tempLake } from '../support/lake.js';

/**
 * A local lake's staging is shared by writers that run at once: a proxy or a local Lambda runtime (no
 * lock) beside an ingest or compact (the lock). Each storage stages in a folder named by its owner, and
 * a writer opening the lake clears only what killed writers left: a running writer's staged rows survive.
 */

/** A pid of this host that no longer runs. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(child.stdout);
}

describe('staging folders of a local lake', () => {
  let lake: Awaited<ReturnType<typeof tempLake>>;
  let staging: string;
  beforeEach(async () => {
    lake = await tempLake();
    staging = join(lake.dir, STAGING_KEY);
  });
  afterEach(async () => {
    await lake.cleanup();
  });

  it("keeps a running writer's staged rows when a locked writer opens the lake", async () => {
    const running = new FsStorage(lake.dir);
    const proxy = await LakeWriter.open(running);
    const own = await running.stagingDir();
    expect(basename(own)).toMatch(/^[0-9a-f]{8}-\d+-[0-9a-f]{8}$/);
    await writeFile(join(own, 'events-part.csv'), 'staged rows');

    const ingest = await LakeWriter.open(new FsStorage(lake.dir), undefined, undefined, { lock: 'ingest' });
    await ingest.close();
    expect(existsSync(join(own, 'events-part.csv'))).toBe(true);

    await proxy.close();
    await running.close();
    expect(existsSync(own)).toBe(false);
  });

  it("clears a killed writer's folder, another host's never, and loose files only under the lock", async () => {
    const [host] = newOwnerTag().split('-');
    const killed = join(staging, `${host}-${deadPid()}-0badf00d`);
    const otherHost = join(staging, `${host === 'ffffffff' ? 'eeeeeeee' : 'ffffffff'}-1-0badf00d`);
    for (const dir of [killed, otherHost]) {
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, 'spill.tmp'), 'x');
    }
    await writeFile(join(staging, 'legacy-staged.csv'), 'x');

    const unlocked = new FsStorage(lake.dir);
    await (await LakeWriter.open(unlocked)).close();
    await unlocked.close();
    expect((await readdir(staging)).sort()).toEqual(['legacy-staged.csv', basename(otherHost)].sort());

    const locked = new FsStorage(lake.dir);
    await (await LakeWriter.open(locked, undefined, undefined, { lock: 'ingest' })).close();
    await locked.close();
    expect(await readdir(staging)).toEqual([basename(otherHost)]);
  });
});
