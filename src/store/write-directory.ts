/**
 * Writing a directory of files as one step: into a temporary directory beside
 * the target, then renamed into place (replacing an earlier one), so a reader
 * never sees a half-written package.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Write `files` (relative paths, in order) as the directory `outDir`. */
export async function writeDirectory(outDir: string, files: Iterable<[path: string, content: Uint8Array | string]>): Promise<void> {
  const parent = dirname(outDir);
  await mkdir(parent, { recursive: true });
  // Unique per call: two writers in one process may start in the same millisecond.
  const temp = join(parent, `.${basename(outDir)}.tmp-${randomUUID()}`);
  try {
    await mkdir(temp);
    for (const [file, content] of files) {
      await mkdir(dirname(join(temp, file)), { recursive: true });
      await writeFile(join(temp, file), content);
    }
    try {
      await rename(temp, outDir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
      // Replacing an older directory: the window without one is only between these two calls.
      await rm(outDir, { recursive: true, force: true });
      await rename(temp, outDir);
    }
  } catch (err) {
    await rm(temp, { recursive: true, force: true });
    throw err;
  }
}
