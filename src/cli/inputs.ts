/**
 * The command line's images: the image and folder arguments turned into a
 * flat, sorted list of files, then read and classified. Folders are walked
 * recursively for image extensions; a path that does not exist is kept, so
 * that it gets its own error line.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Classifier, ClassifyOptions, ClassifyResult } from '../engine/classifier.ts';
import { createError, type ImgclsError } from '../errors.ts';
import { compare, isImageName } from '../image/extensions.ts';

async function walk(dir: string, out: string[]): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => compare(a.name, b.name));
  for (const e of entries) {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) await walk(full, out);
    // Symlinked files count (wallpaper packages are full of them); symlinked folders are not followed, so no cycles.
    else if ((e.isFile() || e.isSymbolicLink()) && isImageName(e.name)) out.push(full);
  }
}

export async function collectInputs(args: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  for (const arg of args) {
    const info = await stat(arg).catch(() => null);
    if (info?.isDirectory()) await walk(arg, files);
    else files.push(arg);
  }
  return files;
}

/** A file's bytes, or FILE_NOT_FOUND / FILE_UNREADABLE. */
async function readInput(file: string): Promise<Uint8Array | ImgclsError> {
  try {
    return await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return createError('FILE_NOT_FOUND', `No such file: ${file}`);
    if (code === 'EISDIR') return createError('FILE_UNREADABLE', `${file} is a directory`);
    return createError('FILE_UNREADABLE', `Cannot read ${file}: ${(err as Error).message}`);
  }
}

/**
 * Read `files` and classify the readable ones in one call: one result per
 * file, in order; a file that cannot be read is `{ ok: false, error }`.
 */
export async function classifyFiles(classifier: Classifier, files: readonly string[], options: ClassifyOptions = {}): Promise<ClassifyResult[]> {
  const read = await Promise.all(files.map(readInput));
  const results = await classifier.classify(read.filter((r): r is Uint8Array => r instanceof Uint8Array), options);
  let next = 0;
  return read.map((r): ClassifyResult => (r instanceof Uint8Array ? results[next++]! : { ok: false, error: r }));
}
