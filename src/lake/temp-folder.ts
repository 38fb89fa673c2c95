import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A private temporary folder and the one way to let go of it. */
export interface TempFolder {
  path: string;
  /** Removes the folder and what is in it. */
  remove(): Promise<void>;
}

/**
 * A fresh folder in the temp dir (DuckDB's spill folder, a FIFO's home). Its owner removes it when done;
 * if the process exits first (a command ended early by a closed pipe, `... | head`), it goes on exit.
 */
export async function tempFolder(prefix: string): Promise<TempFolder> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  const onExit = () => rmSync(path, { recursive: true, force: true });
  process.once('exit', onExit);
  return {
    path,
    async remove() {
      process.off('exit', onExit);
      await rm(path, { recursive: true, force: true });
    },
  };
}
