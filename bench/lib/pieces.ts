import { once } from 'node:events';
import { createReadStream, createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/** The same records out of order: a csvlog cut into pieces that, read in name order, go backwards in event time. */

/** Pieces a log is cut into. */
export const PIECES = 8;

/** Cuts a csvlog into `PIECES` files at record starts, named so that the last piece is read first. */
export async function piecesReversed(path: string, bytes: number, dir: string): Promise<void> {
  mkdirSync(dir);
  const per = bytes / PIECES;
  let piece = 0;
  let written = 0;
  const open = (p: number) => createWriteStream(join(dir, `piece-${String(PIECES - 1 - p).padStart(2, '0')}.csv`));
  let out = open(0);
  const record = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/;
  for await (const line of createInterface({ input: createReadStream(path), crlfDelay: Number.POSITIVE_INFINITY })) {
    if (written > per * (piece + 1) && piece < PIECES - 1 && record.test(line)) {
      out.end();
      await once(out, 'close');
      out = open(++piece);
    }
    if (!out.write(`${line}\n`)) await once(out, 'drain');
    written += line.length + 1;
  }
  out.end();
  await once(out, 'close');
}
