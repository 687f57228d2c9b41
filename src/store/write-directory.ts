/**
 * Writing a directory of files as one step: into a temporary directory beside
 * the target, then renamed into place (replacing an earlier one), so a reader
 * never sees a half-written package. Replacing and removing go through a
 * rename too, for the same reason.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { makeDirectory } from '../make-directory.ts';

/**
 * Rename the directory `from` to `to`, replacing whatever is there. The old one
 * is moved into `asideDir` (an existing folder on the same filesystem) before
 * it is deleted, so the name is missing only between two renames, never for a
 * whole recursive delete, and never half old and half new.
 */
export async function replaceDirectory(from: string, to: string, asideDir: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'ENOTDIR') throw err;
    const old = join(asideDir, `.${basename(to)}.old-${randomUUID()}`);
    await rename(to, old);
    await rename(from, to);
    await rm(old, { recursive: true, force: true });
  }
}

/**
 * Delete the directory `dir`: renamed first to a dot entry beside it (which
 * listings skip), so no reader finds it half-deleted.
 */
export async function removeDirectory(dir: string): Promise<void> {
  const trash = join(dirname(dir), `.${basename(dir)}.rm-${randomUUID()}`);
  await rename(dir, trash);
  await rm(trash, { recursive: true, force: true });
}

/** Write `files` (relative paths, in order) as the directory `outDir`. */
export async function writeDirectory(outDir: string, files: Iterable<[path: string, content: Uint8Array | string]>): Promise<void> {
  const parent = dirname(outDir);
  await makeDirectory(parent);
  // Unique per call: two writers in one process may start in the same millisecond.
  const temp = join(parent, `.${basename(outDir)}.tmp-${randomUUID()}`);
  try {
    await mkdir(temp);
    for (const [file, content] of files) {
      await makeDirectory(dirname(join(temp, file)));
      await writeFile(join(temp, file), content);
    }
    await replaceDirectory(temp, outDir, parent);
  } catch (err) {
    await rm(temp, { recursive: true, force: true });
    throw err;
  }
}
