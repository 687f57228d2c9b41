/**
 * `mkdir -p`, written out. Node 20's `mkdir(dir, { recursive: true })` never
 * settles on a path whose parent exists but answers ENOENT for any child
 * (anything under /proc), and every user-chosen folder (--store, --output,
 * --cache, --save-uploads) can be such a path. Here each level is tried once,
 * and that ENOENT is reported. A folder that appears meanwhile (another
 * process, another shard) is fine.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';

export async function makeDirectory(dir: string): Promise<void> {
  const unlessExists = (err: unknown): void => {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  };
  try {
    await mkdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || path.dirname(dir) === dir) return unlessExists(err);
    await makeDirectory(path.dirname(dir));
    await mkdir(dir).catch(unlessExists);
  }
}
